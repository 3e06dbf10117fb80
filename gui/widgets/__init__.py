"""Widgets and constants that panels and dialogs share; no module here imports a panel.

- :mod:`~gui.widgets.colours`: the one palette of status colours (the canvas theme uses it too).
- :mod:`~gui.widgets.fields`: number fields (:class:`FloatSpinBox`).
- :mod:`~gui.widgets.forms`: scrolled form bodies, note lines, coloured labels, path rows.
- :mod:`~gui.widgets.files`: the file dialogs behind one object tests replace.
- :mod:`~gui.widgets.lazy`: :class:`LazyWidget`, a widget built on first show.
- :mod:`~gui.widgets.task_dialog`: the dialog around one background job (:mod:`gui.workers`).

Text helpers that need no widget (HTML escaping, metric names and values) are in
:mod:`gui.formatting`.
"""

from gui.widgets.colours import ERROR_COLOUR, OK_COLOUR, UNKNOWN_CATEGORY_COLOUR, WARNING_COLOUR
from gui.widgets.fields import FloatSpinBox
from gui.widgets.files import FileChooser, same_file
from gui.widgets.forms import (
    add_path_field,
    coloured,
    fit_height,
    growing_form,
    narrow,
    note_label,
    path_row,
    scrolled_body,
    with_note,
    wrap_long_rows,
)
from gui.widgets.lazy import LazyWidget
from gui.widgets.task_dialog import BackgroundTaskDialog, OutputFileDialog

__all__ = [
    "ERROR_COLOUR",
    "OK_COLOUR",
    "UNKNOWN_CATEGORY_COLOUR",
    "WARNING_COLOUR",
    "BackgroundTaskDialog",
    "FileChooser",
    "FloatSpinBox",
    "LazyWidget",
    "OutputFileDialog",
    "add_path_field",
    "coloured",
    "fit_height",
    "growing_form",
    "narrow",
    "note_label",
    "path_row",
    "same_file",
    "scrolled_body",
    "with_note",
    "wrap_long_rows",
]
