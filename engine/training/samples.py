"""What each family shows after an epoch: one small type per view, each naming its view.

An :class:`~engine.training.events.EpochEvent` carries at most one of these as ``samples``; a
front end picks what to draw from :attr:`view` (the GUI's plots keep one view per name), never
from which keys happen to be present. :data:`TASK_VIEWS` says which view a task's runs show, so
a view can be laid out before the first epoch arrives. Arrays are numpy copies off the device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np


@dataclass
class ConfusionSample:
    """Classification: counts of (true class, predicted class) on the evaluated split."""

    view: ClassVar[str] = "confusion"
    matrix: np.ndarray  # classes × classes, rows true, columns predicted
    # 2-D points only: the class probabilities over a grid (engine.insight.boundary.BoundaryGrid)
    boundary: Any = None


@dataclass
class PredictionSample:
    """Regression and forecasting: the first few predictions beside their targets."""

    view: ClassVar[str] = "scatter"
    target: np.ndarray
    prediction: np.ndarray


@dataclass
class ReconstructionSample:
    """Autoencoders: a few inputs and the network's reconstructions of them (same shape)."""

    view: ClassVar[str] = "reconstruction"
    inputs: np.ndarray
    outputs: np.ndarray


@dataclass
class GanSample:
    """GANs: the generator's output for the fixed noise batch; ``grid`` tiles it into one
    image in [0, 1] when the samples are pictures (None otherwise)."""

    view: ClassVar[str] = "gan"
    samples: np.ndarray
    grid: np.ndarray | None = None


@dataclass
class SomSample:
    """Self-organising maps: the U-matrix and the hits per unit (both rows × cols)."""

    view: ClassVar[str] = "som"
    u_matrix: np.ndarray
    hit_map: np.ndarray


EpochSample = ConfusionSample | PredictionSample | ReconstructionSample | GanSample | SomSample

#: The view each task's epochs fill.
TASK_VIEWS: dict[str, str] = {
    "classification": ConfusionSample.view,
    "regression": PredictionSample.view,
    "forecast": PredictionSample.view,
    "reconstruction": ReconstructionSample.view,
    "gan": GanSample.view,
    "som": SomSample.view,
}


def view_of_task(task: str) -> str:
    """The name of the view ``task``'s runs show; ``""`` for a task without one."""
    return TASK_VIEWS.get(task, "")
