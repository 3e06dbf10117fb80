"""The decision boundary of a classifier of 2-D points (moons, circles, spirals), as TensorFlow
Playground draws it: the class probabilities over a G×G grid spanning the data, with the training
points on top.

The training loop computes it with each epoch's evaluation (one batched, gradient-free forward of
the G² grid points: G = 64 is 4096 points, a millisecond for the small networks such data trains)
and sends it in the epoch's :class:`~engine.training.samples.ConfusionSample` as ``boundary``, so
it travels with the events a front end already receives. Coordinates are those the network reads
(after the data's preprocessing). Qt-free.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

GRID = 64  # grid points per side
MAX_POINTS = 400  # training points sent with each grid (a fixed, evenly spread subset)
MARGIN = 0.1  # the grid reaches this share of the data's span beyond its extremes


@dataclass
class BoundaryGrid:
    """``probabilities[i, j, k]``: p(class k) at (``xs[j]``, ``ys[i]``) — row i is the i-th
    y from the bottom; ``points`` and ``labels`` are training points to draw on top."""

    probabilities: np.ndarray  # G × G × classes
    xs: np.ndarray  # G
    ys: np.ndarray  # G
    points: np.ndarray  # N × 2
    labels: np.ndarray  # N

    @property
    def extent(self) -> tuple[float, float, float, float]:
        """``(x0, y0, width, height)`` the grid covers."""
        return (
            float(self.xs[0]),
            float(self.ys[0]),
            float(self.xs[-1] - self.xs[0]),
            float(self.ys[-1] - self.ys[0]),
        )


def shows_boundary(input_shape: tuple[int, ...], input_dtype: str, task: str) -> bool:
    """True for a classifier reading 2 float features per sample (a boundary can be drawn)."""
    return task == "classification" and tuple(input_shape) == (2,) and input_dtype == "float32"


def grid_axes(points: np.ndarray, size: int = GRID) -> tuple[np.ndarray, np.ndarray]:
    """``size`` evenly spaced x and y values over the points' range, widened by ``MARGIN``."""
    lo, hi = points.min(axis=0).astype(np.float64), points.max(axis=0).astype(np.float64)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - MARGIN * span, hi + MARGIN * span
    return (
        np.linspace(lo[0], hi[0], size, dtype=np.float32),
        np.linspace(lo[1], hi[1], size, dtype=np.float32),
    )


def grid_points(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """The ``len(ys) · len(xs)`` grid points, row by row (y outer, x inner), as ``N × 2``."""
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.reshape(-1), gy.reshape(-1)], axis=1).astype(np.float32)


def class_probabilities(out: torch.Tensor, binary: bool) -> torch.Tensor:
    """``N × classes`` probabilities of a classifier's outputs (softmax; one logit: sigmoid)."""
    out = out.float().reshape(len(out), -1)
    if binary:
        p1 = torch.sigmoid(out[:, 0])
        return torch.stack([1 - p1, p1], dim=1)
    return torch.softmax(out, dim=1)


def decision_boundary(
    predict: Callable[[torch.Tensor], torch.Tensor],
    points: torch.Tensor,
    labels: torch.Tensor,
    binary: bool = False,
    size: int = GRID,
) -> BoundaryGrid:
    """The class probabilities of ``predict`` (eval-mode outputs of a batch, no gradients) on a
    ``size`` × ``size`` grid over ``points`` (N × 2, on the model's device)."""
    host = points.detach().float().cpu().numpy()
    xs, ys = grid_axes(host, size)
    grid = torch.from_numpy(grid_points(xs, ys)).to(points.device)
    with torch.no_grad():
        probs = class_probabilities(predict(grid), binary)
    step = max(1, len(host) // MAX_POINTS)
    return BoundaryGrid(
        probabilities=probs.cpu().numpy().reshape(size, size, -1),
        xs=xs,
        ys=ys,
        points=host[::step][:MAX_POINTS].copy(),
        labels=labels.detach().cpu().numpy()[::step][:MAX_POINTS].copy(),
    )


__all__ = [
    "GRID",
    "BoundaryGrid",
    "class_probabilities",
    "decision_boundary",
    "grid_axes",
    "grid_points",
    "shows_boundary",
]
