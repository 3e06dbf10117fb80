"""Data augmentation on whole training batches, as tensors on the training device.

:class:`Augmenter` runs the steps of a data section's ``augment`` object (see
:mod:`engine.data.augment_spec` for the catalogue and docs/data.md for the format) on a batch
``(N, *sample_shape)``: every op is a few vectorised torch calls over the whole batch (per-sample
random values drawn as tensors, applied through masks, ``torch.where``, ``gather`` or
``grid_sample``), never a Python loop over samples. Random values come from one
``torch.Generator`` on the batch's device, re-seeded at the start of every epoch from the run's
seed and the epoch, so the same seed gives the same augmented batches (also after a resume at
an epoch boundary) and every epoch differs. The trainer applies it to training batches only.

:func:`preview` augments a few samples on the CPU for the data panel's pictures.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.augment_spec import form_of, form_problem, normalize_augment
from engine.errors import DataError

#: One op bound to its parameters: (batch, generator) → augmented batch of the same shape.
Step = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(
    n: int, low: float, high: float, x: torch.Tensor, gen: torch.Generator
) -> torch.Tensor:
    """``n`` values uniform in ``[low, high)``, on ``x``'s device and dtype."""
    u = torch.rand(n, generator=gen, device=x.device, dtype=x.dtype)
    return low + (high - low) * u


def _randint(n: int, high: int, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """``n`` integers in ``[0, high)`` on ``x``'s device."""
    return torch.randint(0, high, (n,), generator=gen, device=x.device)


def _crop(padding: int) -> Step:
    """Pad with zeros, then take a random window of the original size: one ``gather`` over
    flat indices ``row * width + column`` for the whole batch."""

    def run(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, c, h, w = x.shape
        padded = F.pad(x, (padding, padding, padding, padding))
        wide = w + 2 * padding
        top = _randint(n, 2 * padding + 1, x, gen)
        left = _randint(n, 2 * padding + 1, x, gen)
        rows = top[:, None] + torch.arange(h, device=x.device)  # (n, h)
        cols = left[:, None] + torch.arange(w, device=x.device)  # (n, w)
        index = (rows[:, :, None] * wide + cols[:, None, :]).reshape(n, 1, h * w)
        flat = padded.reshape(n, c, -1)
        return flat.gather(2, index.expand(n, c, h * w)).reshape(n, c, h, w)

    return run


def _flip(p: float) -> Step:
    """Mirror left-right the samples a random mask picks (each with probability ``p``)."""

    def run(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        picked = torch.rand(len(x), generator=gen, device=x.device) < p
        return torch.where(picked.view(-1, 1, 1, 1), x.flip(-1), x)

    return run


def _affine(degrees: float, shift: float, scale: float) -> Step:
    """Rotate, shift and zoom every sample by its own random amounts: one ``affine_grid`` and
    one bilinear ``grid_sample`` for the batch (zeros outside the image)."""

    def run(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        angle = _uniform(n, -degrees, degrees, x, gen) * (math.pi / 180.0)
        zoom = _uniform(n, 1.0 - scale, 1.0 + scale, x, gen)
        # normalized coordinates span [-1, 1]: a shift of a fraction f of the size is 2f
        tx = _uniform(n, -2.0 * shift, 2.0 * shift, x, gen)
        ty = _uniform(n, -2.0 * shift, 2.0 * shift, x, gen)
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        # the output pixel (x, y) samples the input at R(x, y) / zoom + t, in pixels: the
        # aspect ratio terms keep a rotation of a non-square image a rotation
        theta = torch.stack(
            [
                torch.stack([cos, -sin * (h / w), tx], dim=1),
                torch.stack([sin * (w / h), cos, ty], dim=1),
            ],
            dim=1,
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)

    return run


def _brightness_contrast(brightness: float, contrast: float) -> Step:
    """``(x - mean) * c + mean + b`` per sample, ``c`` in 1 ± contrast, ``b`` in ±brightness."""

    def run(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n = len(x)
        shape = (n,) + (1,) * (x.dim() - 1)
        factor = _uniform(n, 1.0 - contrast, 1.0 + contrast, x, gen).view(shape)
        offset = _uniform(n, -brightness, brightness, x, gen).view(shape)
        mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
        return (x - mean) * factor + mean + offset

    return run


def _cutout(size: int, p: float) -> Step:
    """Zero a random ``size``×``size`` square (inside the image) of the samples a mask picks."""

    def run(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, h, w = x.shape
        top = _randint(n, h - size + 1, x, gen)
        left = _randint(n, w - size + 1, x, gen)
        picked = torch.rand(n, generator=gen, device=x.device) < p
        rows = torch.arange(h, device=x.device)
        cols = torch.arange(w, device=x.device)
        in_rows = (rows >= top[:, None]) & (rows < top[:, None] + size)  # (n, h)
        in_cols = (cols >= left[:, None]) & (cols < left[:, None] + size)  # (n, w)
        patch = in_rows[:, :, None] & in_cols[:, None, :] & picked[:, None, None]
        return x.masked_fill(patch[:, None], 0.0)

    return run


def _noise(std: float) -> Step:
    """Add Gaussian noise of standard deviation ``std`` to every value."""

    def run(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return x + std * torch.randn(x.shape, generator=gen, device=x.device, dtype=x.dtype)

    return run


def _scaling(std: float) -> Step:
    """Multiply each feature of each sequence ``(N, T, F)`` by a factor from N(1, std²)."""

    def run(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, _, f = x.shape
        factor = 1.0 + std * torch.randn((n, 1, f), generator=gen, device=x.device, dtype=x.dtype)
        return x * factor

    return run


def _time_shift(steps: int) -> Step:
    """Move each sequence ``(N, T, F)`` by a random whole number of steps in ±``steps``; the
    steps shifted in repeat the edge value (one ``gather`` along time)."""

    def run(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        n, t, f = x.shape
        shift = _randint(n, 2 * steps + 1, x, gen) - steps
        source = (torch.arange(t, device=x.device)[None, :] - shift[:, None]).clamp(0, t - 1)
        return x.gather(1, source[:, :, None].expand(n, t, f))

    return run


#: How each op (by name) becomes a step from its normalized parameters.
_BUILDERS: dict[str, Callable[..., Step]] = {
    "crop": _crop,
    "flip": _flip,
    "affine": _affine,
    "brightness_contrast": _brightness_contrast,
    "cutout": _cutout,
    "noise": _noise,
    "jitter": _noise,
    "scaling": _scaling,
    "time_shift": _time_shift,
}


def epoch_seed(seed: int, epoch: int, rank: int = 0) -> int:
    """The generator seed of one epoch (and process, under torchrun) of a run seeded ``seed``."""
    return (int(seed) * 1_000_003 + int(epoch) * 7_919 + int(rank) * 104_729 + 12_345) % (2**63)


class Augmenter:
    """The steps of an ``augment`` object, ready to run on batches of ``sample_shape`` on
    ``device``; raises :class:`DataError` (one line naming the step) when a step cannot apply
    to such samples."""

    def __init__(
        self,
        augment: dict[str, Any],
        sample_shape: tuple[int, ...],
        seed: int,
        device: torch.device | str = "cpu",
        rank: int = 0,
    ) -> None:
        augment = normalize_augment(augment)
        problem = form_problem(augment, tuple(sample_shape))
        if problem is not None:
            raise DataError(problem)
        if form_of(tuple(sample_shape)) is None:
            raise DataError(
                f"data spec: augment needs samples of shape (F), (T, F) or (C, H, W), got "
                f"{tuple(sample_shape)}: remove the augment steps"
            )
        self.steps: list[Step] = [
            _BUILDERS[s["op"]](**{k: v for k, v in s.items() if k != "op"})
            for s in augment["steps"]
        ]
        self.seed, self.rank = int(seed), int(rank)
        self.generator = torch.Generator(device=torch.device(device))
        self.start_epoch(0)

    def start_epoch(self, epoch: int) -> None:
        """Re-seed for ``epoch``: its batches are the same in every run with this seed."""
        self.generator.manual_seed(epoch_seed(self.seed, epoch, self.rank))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """The batch ``x`` ``(N, *sample_shape)`` augmented (a new tensor; ``x`` unchanged)."""
        for step in self.steps:
            x = step(x, self.generator)
        return x


#: The training tasks whose loops augment their training batches.
AUGMENTED_TASKS = ("classification", "regression", "forecast", "reconstruction")


def training_augmenter(
    spec: dict[str, Any], x_train: torch.Tensor, config: Any, rank: int = 0
) -> Augmenter | None:
    """The augmenter a run's training batches go through, or None when the (normalized) data
    ``spec`` has no augment steps — then nothing runs at all. ``config`` is the run's
    :class:`~engine.training.config.TrainConfig` (its ``task`` and ``seed``)."""
    augment = spec.get("augment")
    if not augment or not augment.get("steps"):
        return None
    if config.task not in AUGMENTED_TASKS:
        raise DataError(
            f"data spec: augment applies to supervised and reconstruction training, not to "
            f"training.task {config.task!r}: remove the augment steps"
        )
    if not x_train.is_floating_point():
        raise DataError(
            "data spec: augment changes numbers, but the Input reads token ids (int64): "
            "remove the augment steps or set the Input's dtype to float32"
        )
    return Augmenter(augment, tuple(x_train.shape[1:]), config.seed, x_train.device, rank)


def preview(samples: np.ndarray, augment: dict[str, Any], form: str, seed: int) -> np.ndarray:
    """``samples`` ``(N, *sample_shape)`` augmented as the first epoch of a run seeded ``seed``
    would (on the CPU), as float32 of the same shape — for the data panel's pictures.

    Raises :class:`DataError` when ``form`` does not match the samples or a step cannot apply."""
    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if form_of(tuple(x.shape[1:])) != form:
        raise DataError(
            f"augment preview: samples of shape {tuple(x.shape[1:])} are not {form} samples"
        )
    with torch.no_grad():
        return Augmenter(augment, tuple(x.shape[1:]), seed)(x).numpy()
