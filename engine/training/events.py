"""Typed training events and the :class:`Callback` hooks that receive them.

Events carry only plain Python values and numpy arrays (no tensors, no references into the live
model), so a receiver may keep them or hand them to another thread, e.g. a GUI that drains a buffer
on a timer. The trainer batches per-step information: a :class:`BatchEvent` covers the
``log_every`` steps since the previous one, so a callback runs a few times per second, not once per
batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from engine.training.samples import EpochSample
    from engine.training.summary import RunSummary


@dataclass
class LayerStats:
    """Statistics of one layer's output on one sampled batch."""

    mean: float
    std: float
    zero_fraction: float  # share of exact zeros: dead units after ReLU-like layers
    # ReLU layers only: share of units (output values per sample) never positive over the probe's
    # last DEAD_WINDOW sampled batches (engine.training.stats); None for other layers
    dead_fraction: float | None = None
    # Sigmoid / Tanh layers only: share of outputs within SATURATION_MARGIN of a bound; else None
    saturated_fraction: float | None = None


@dataclass
class TrainStartEvent:
    """What is about to be trained."""

    task: str
    device: str
    epochs: int
    start_epoch: int  # > 0 when resuming: epochs already done
    batches_per_epoch: int
    n_train: int
    n_val: int
    data_description: str
    loss_names: tuple[str, ...]  # e.g. ("loss",) or ("d_loss", "g_loss") for a GAN
    class_names: list[str] | None = None
    world_size: int = 1
    history: list[dict[str, Any]] = field(default_factory=list)  # epochs done before a resume


@dataclass
class BatchEvent:
    """The steps since the previous BatchEvent: their losses and, when sampled, layer stats.

    ``losses[name][i]`` belongs to global step ``steps[i]``. ``activation_stats`` and
    ``grad_norms`` (node id → value) are set only on events that include a sampled step
    (every ``sample_every`` steps); they describe that step. ``weight_changes`` (node id →
    ‖w_now − w_before‖ / ‖w_before‖) compares a layer's weights at that sampled step with those
    at the previous sampled step (absent on the first).
    """

    epoch: int  # 0-based epoch the steps belong to
    step: int  # global step count after the last step here
    batch: int  # batches done in this epoch
    batches_per_epoch: int
    steps: list[int]
    losses: dict[str, list[float]]
    lr: float
    samples_per_s: float
    activation_stats: dict[str, LayerStats] | None = None
    grad_norms: dict[str, float] | None = None
    weight_changes: dict[str, float] | None = None


@dataclass
class EpochEvent:
    """One finished epoch: mean losses, validation metrics and the family's view.

    ``metrics`` holds every number written to metrics.jsonl for this epoch (``train_loss``,
    ``val_loss`` and the family's metrics such as ``val_accuracy``). ``samples`` is the family's
    view of this epoch, one of the types in :mod:`engine.training.samples` (each names its
    ``view``): a confusion matrix, predictions beside targets, inputs and reconstructions, the
    GAN's fixed-noise samples, or a SOM's U-matrix and hit map; None when nothing was evaluated.
    """

    epoch: int  # 1-based: epochs completed
    epochs: int
    step: int
    metrics: dict[str, float]
    lr: float
    elapsed_s: float
    is_best: bool
    samples: EpochSample | None = None

    @property
    def train_loss(self) -> float:
        """The epoch's mean training loss."""
        return self.metrics["train_loss"]

    @property
    def val_loss(self) -> float | None:
        """The epoch's validation loss (None without a validation split)."""
        return self.metrics.get("val_loss")


class Callback:
    """Base class of training hooks; override what you need. Every hook runs on the thread that
    called :meth:`Trainer.fit`, so keep them quick (copy the event into a queue and return).

    ``wants_layer_stats``: whether this callback reads a :class:`BatchEvent`'s layer statistics
    (``activation_stats``, ``grad_norms``, ``weight_changes``). When no callback does, the trainer
    never samples them (a sampled step costs about twice a plain one); the training itself is the
    same either way.

    ``wants_epoch_samples``: whether this callback reads an :class:`EpochEvent`'s ``samples`` (the
    family's picture: a confusion matrix, decision boundary, generated images, reconstructions, a
    SOM's maps). When no callback does, the loops compute the epoch's metrics only (``samples``
    is None), which saves a 64×64 boundary grid or a generator's picture every epoch."""

    wants_layer_stats = True
    wants_epoch_samples = True

    def on_train_start(self, event: TrainStartEvent) -> None:
        """Training is set up and about to run its first batch."""

    def on_batch_end(self, event: BatchEvent) -> None:
        """``log_every`` more steps are done (also at the end of each epoch)."""

    def on_epoch_end(self, event: EpochEvent) -> None:
        """An epoch finished and was evaluated (checkpoints are already written)."""

    def on_train_end(self, summary: RunSummary) -> None:
        """Training finished, stopped early, or was stopped by request."""

    def on_exception(self, error: BaseException) -> None:
        """Training failed; ``str(error)`` is one readable line. ``fit`` re-raises it after."""


class CallbackList(Callback):
    """Fans every hook out to several callbacks, in order."""

    def __init__(self, callbacks: list[Callback] | tuple[Callback, ...] = ()) -> None:
        self.callbacks = list(callbacks)

    @property
    def wants_layer_stats(self) -> bool:  # type: ignore[override]
        """Whether any of the callbacks reads layer statistics."""
        return any(cb.wants_layer_stats for cb in self.callbacks)

    @property
    def wants_epoch_samples(self) -> bool:  # type: ignore[override]
        """Whether any of the callbacks reads the epochs' samples."""
        return any(cb.wants_epoch_samples for cb in self.callbacks)

    def on_train_start(self, event: TrainStartEvent) -> None:
        for cb in self.callbacks:
            cb.on_train_start(event)

    def on_batch_end(self, event: BatchEvent) -> None:
        for cb in self.callbacks:
            cb.on_batch_end(event)

    def on_epoch_end(self, event: EpochEvent) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(event)

    def on_train_end(self, summary: RunSummary) -> None:
        for cb in self.callbacks:
            cb.on_train_end(summary)

    def on_exception(self, error: BaseException) -> None:
        for cb in self.callbacks:
            try:
                cb.on_exception(error)
            except Exception:  # one failing reporter must not hide the original error
                pass


class History(Callback):
    """Keeps every event in lists: handy for tests, notebooks and simple front ends."""

    def __init__(self) -> None:
        self.start: TrainStartEvent | None = None
        self.batches: list[BatchEvent] = []
        self.epochs: list[EpochEvent] = []
        self.summary: RunSummary | None = None
        self.error: BaseException | None = None

    def on_train_start(self, event: TrainStartEvent) -> None:
        self.start = event

    def on_batch_end(self, event: BatchEvent) -> None:
        self.batches.append(event)

    def on_epoch_end(self, event: EpochEvent) -> None:
        self.epochs.append(event)

    def on_train_end(self, summary: RunSummary) -> None:
        self.summary = summary

    def on_exception(self, error: BaseException) -> None:
        self.error = error

    def metric(self, name: str) -> list[float]:
        """One metric over the epochs seen, e.g. ``history.metric("val_loss")``."""
        return [e.metrics[name] for e in self.epochs if name in e.metrics]


def as_array(x: Any) -> np.ndarray:
    """A detached numpy copy of a tensor or array (events never share live memory)."""
    if hasattr(x, "detach"):
        return x.detach().float().cpu().numpy().copy()
    return np.array(x, copy=True)
