"""Metrics and family samples computed from tensors: accuracy, confusion, R², MAE, SOM maps, grids.

Everything here runs on whatever device the tensors live on and returns plain floats or numpy
arrays; the trainer calls it once per epoch, never per batch.
"""

from __future__ import annotations

import math

import numpy as np

from engine.lazy import LazyModule

# torch on first use: the GUI's plots import image_grid before torch has loaded (gui/torch_loader)
torch = LazyModule("torch")


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> np.ndarray:
    """``(classes, classes)`` int64 counts: rows are true classes, columns predicted ones."""
    flat = target.long() * num_classes + pred.long()
    counts = torch.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).cpu().numpy()


def regression_metrics(pred: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """R² (averaged over outputs, as scikit-learn's ``r2_score``) and mean absolute error."""
    pred = pred.reshape(len(pred), -1).double()
    target = target.reshape(len(target), -1).double()
    ss_res = (target - pred).pow(2).sum(0)
    ss_tot = (target - target.mean(0)).pow(2).sum(0)
    # A constant target column scores 1 when predicted exactly, else 0 (scikit-learn's rule).
    r2 = torch.where(ss_tot > 0, 1 - ss_res / ss_tot.clamp_min(1e-300), (ss_res == 0).double())
    return {"r2": float(r2.mean()), "mae": float((target - pred).abs().mean())}


def image_grid(samples: np.ndarray) -> np.ndarray | None:
    """Tile a batch of images into one float32 image in [0, 1], or None if they are not images.

    Accepts ``(k, C, H, W)`` with C 1 or 3, ``(k, H, W)``, or flat ``(k, F)`` with F a perfect
    square (shown as √F × √F). The result is ``(rows·(H+1)+1, cols·(W+1)+1)`` for gray images or
    the same with a trailing 3 for colour; values are rescaled to [0, 1] unless already inside.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 2:
        side = math.isqrt(x.shape[1])
        if side * side != x.shape[1] or side < 2:
            return None
        x = x.reshape(len(x), side, side)
    elif x.ndim == 4 and x.shape[1] in (1, 3):
        x = x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1)
    elif x.ndim != 3:
        return None
    if len(x) == 0:
        return None
    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
    if lo < 0.0 or hi > 1.0:
        x = (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)
    k, h, w = x.shape[:3]
    cols = math.ceil(math.sqrt(k))
    rows = math.ceil(k / cols)
    grid = np.ones((rows * (h + 1) + 1, cols * (w + 1) + 1, *x.shape[3:]), dtype=np.float32)
    for i in range(k):
        r, c = divmod(i, cols)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + c * (w + 1) : 1 + c * (w + 1) + w] = x[i]
    return grid


def som_quality(distances: torch.Tensor, grid: torch.Tensor) -> tuple[float, float, torch.Tensor]:
    """Quantization error, topographic error and best-matching units from unit distances.

    ``distances`` is ``(N, units)`` (a SOM layer's output), ``grid`` the ``(units, 2)`` grid
    coordinates. The topographic error counts samples whose best and second-best units are not
    neighbours (diagonals included, as MiniSom's rectangular topology).
    """
    two = torch.topk(distances, k=min(2, distances.shape[1]), dim=1, largest=False)
    bmu = two.indices[:, 0]
    qe = float(two.values[:, 0].mean())
    if distances.shape[1] < 2:
        return qe, 0.0, bmu
    gap = (grid[two.indices[:, 0]] - grid[two.indices[:, 1]]).norm(dim=1)
    return qe, float((gap > 1.42).float().mean()), bmu


def u_matrix(weight: torch.Tensor, rows: int, cols: int) -> np.ndarray:
    """Mean distance from each unit's prototype to its (up to 8) grid neighbours'."""
    w = weight.detach().reshape(rows, cols, -1).float()
    total = torch.zeros(rows, cols, device=w.device)
    count = torch.zeros(rows, cols, device=w.device)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy == dx == 0:
                continue
            ys = slice(max(0, -dy), rows - max(0, dy))
            xs = slice(max(0, -dx), cols - max(0, dx))
            ys2 = slice(max(0, dy), rows - max(0, -dy))
            xs2 = slice(max(0, dx), cols - max(0, -dx))
            d = (w[ys, xs] - w[ys2, xs2]).norm(dim=-1)
            total[ys, xs] += d
            count[ys, xs] += 1
    return (total / count.clamp_min(1)).cpu().numpy()


def hit_map(bmu: torch.Tensor, rows: int, cols: int) -> np.ndarray:
    """How many samples pick each unit as best match, as a ``(rows, cols)`` int64 array."""
    return torch.bincount(bmu, minlength=rows * cols).reshape(rows, cols).cpu().numpy()
