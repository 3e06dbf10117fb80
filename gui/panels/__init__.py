"""Dockable panels around the canvas: palette, inspector, problems, data, training, plots, the
template gallery and the export / import dialogs.

A panel never imports another panel (tests/gui/test_panel_imports.py): what two panels share lives
in :mod:`gui.widgets`, :mod:`gui.formatting` or :mod:`gui.workers`.
"""
