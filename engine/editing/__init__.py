"""Qt-free editing model: the rules and computations behind the editor's panels.

The GUI's panels render and push undo commands; what an edit means lives here, tested without Qt:
``connections`` (which wires may be drawn), ``data_section`` (the data spec each data-panel edit
gives), ``probes`` (CSV headers, delimiters, text columns, npz keys), ``training_section``
(which training keys each settings edit sets), ``layout`` (the one layered layout the canvas
and the importer share).
"""
