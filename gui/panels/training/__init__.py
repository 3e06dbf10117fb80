"""The training panel: ``panel`` (run control, the window's Train/Pause/Stop), ``settings_form``
(the design's training section) and ``progress`` (live progress and the result of a run)."""

from gui.formatting import metric_text
from gui.panels.training.panel import GUI_SAMPLE_EVERY, TrainingPanel
from gui.panels.training.progress import (
    OVERFIT_EPOCHS,
    OVERFIT_RISE,
    PANEL_REFRESH_S,
    UNFINISHED_RUN_FILES,
    clock,
    overfitting,
)
from gui.widgets import WARNING_COLOUR

__all__ = [
    "GUI_SAMPLE_EVERY",
    "OVERFIT_EPOCHS",
    "OVERFIT_RISE",
    "PANEL_REFRESH_S",
    "UNFINISHED_RUN_FILES",
    "WARNING_COLOUR",
    "TrainingPanel",
    "clock",
    "metric_text",
    "overfitting",
]
