"""The Search panel: the design's search space, Start/Stop and the live trials of an Optuna
study (engine/search.py), run off the GUI thread."""

from gui.panels.search.panel import SearchPanel

__all__ = ["SearchPanel"]
