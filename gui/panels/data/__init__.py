"""The data panel: which data the design trains on, how it is preprocessed, and a preview.

It edits the design's ``data`` section (see docs/data.md): a builtin dataset with its form and
options, or a CSV / ``.npy`` / ``.npz`` file or an image folder; scaling, missing values, outliers
and smoothing; the validation and test split. Every change is one
:class:`~gui.commands.ReplaceSection` on the undo stack, checked with the engine's
``normalize_spec`` first (a refused value shows the reason and pushes nothing). After each change
a background thread runs ``prepare_data`` and the panel shows what came out — samples per split,
the sample shape, the classes — and, when the sample shape does not fit the design's Input node,
the engine's one-line reason with a button that applies the fix.

For a CSV file the panel reads only the header row (with the chosen delimiter) to offer the
target column, the feature columns and which of them are one-hot encoded, and the first rows to
mark the text columns (one-hot encoded anyway); for an ``.npz``
archive it lists the arrays (``numpy.load(..., allow_pickle=False).files``) for the x and y keys.

The package follows the panel's seams: ``source_form`` (the source and its files),
``preprocess_form`` (preprocessing and split), ``preview`` (the background preview and the
Input-shape check), ``panel`` (the widget that puts them together); what each edit means is
:mod:`engine.editing.data_section`, the file probes :mod:`engine.editing.probes`.
"""

from engine.editing.data_section import data_input
from engine.editing.probes import DELIMITERS, csv_header, npz_keys, sniff_delimiter
from gui.panels.data.panel import DataPanel
from gui.panels.data.preview import PREVIEW_DELAY_MS, WARNING_COLOUR
from gui.panels.data.source_form import FILE_FILTERS, SOURCES

__all__ = [
    "DELIMITERS",
    "FILE_FILTERS",
    "PREVIEW_DELAY_MS",
    "SOURCES",
    "WARNING_COLOUR",
    "DataPanel",
    "csv_header",
    "data_input",
    "npz_keys",
    "sniff_delimiter",
]
