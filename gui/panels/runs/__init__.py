"""The Runs panel: every run of the open design, compared side by side (``panel``), its table
model (``model``) and the side-by-side table of compared runs (``compare_table``); the curves are
:class:`gui.plots.compare.ComparePlots`."""

from gui.panels.runs.panel import RunsPanel, RunsPrompts, list_rows

__all__ = ["RunsPanel", "RunsPrompts", "list_rows"]
