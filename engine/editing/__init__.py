"""Qt-free editing model: what each edit in the editor changes in the design."""
