"""Layer health from the statistics a run already reports: the canvas's strips and badges.

:class:`HealthTracker` folds the trainer's :class:`~engine.training.events.BatchEvent` s (their
sampled ``activation_stats``, ``grad_norms`` and ``weight_changes``) into a short history per node
and turns it into :class:`NodeHealth`: the latest output mean / std, dead and saturated shares,
gradient norm and weight change, a sparkline, and :class:`Badge` s for what looks wrong. A badge
says in plain words what it means and what to try. The thresholds are the named constants below
(docs/insight.md explains them). Qt-free: the window draws what this computes.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from statistics import median

from engine.training.events import BatchEvent, TrainStartEvent

HISTORY = 32  # sampled steps kept per node for the sparkline
HEALTH_WINDOW = 3  # badges judge the median of the last few sampled steps (no flicker)
DEAD_SHARE = 0.5  # a ReLU layer with at least half its units never positive: "dead ReLUs"
SATURATED_SHARE = 0.5  # a Sigmoid/Tanh layer with half its outputs within 0.01 of a bound
VANISHING_GRAD = 1e-6  # a layer's gradient norm below this is vanishing …
VANISHING_RATIO = 1e-4  # … and so is one below this share of the largest (non-exploding) norm
EXPLODING_GRAD = 1e3  # a gradient norm above this (or NaN / infinite) is exploding
STALLED_CHANGE = 1e-7  # relative weight change per step below this: the weights stopped changing

DEAD, VANISHING, EXPLODING, SATURATED, STALLED = (
    "dead",
    "vanishing",
    "exploding",
    "saturated",
    "stalled",
)


@dataclass(frozen=True)
class Badge:
    """One problem on one node: a short title, what it means, and what to try."""

    kind: str  # DEAD, VANISHING, EXPLODING, SATURATED or STALLED
    title: str
    message: str
    advice: str

    def text(self) -> str:
        """Title, meaning and advice as one plain paragraph (the tooltip's line)."""
        return f"{self.title}: {self.message} Try: {self.advice}"


@dataclass
class NodeHealth:
    """What the strip of one node shows (None: the run does not measure it for this layer)."""

    node_id: str
    mean: float | None = None
    std: float | None = None
    dead_fraction: float | None = None
    saturated_fraction: float | None = None
    grad_norm: float | None = None
    weight_change: float | None = None  # relative change per step
    sparkline: tuple[float, ...] = ()  # log10 gradient norms, or output stds without gradients
    sparkline_of: str = ""  # "gradient norm" or "output std"
    badges: list[Badge] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The measured values as short lines ("output mean 0.12, std 0.98", …)."""
        out = []
        if self.mean is not None and self.std is not None:
            out.append(f"output mean {self.mean:.3g}, std {self.std:.3g}")
        if self.dead_fraction is not None:
            out.append(f"dead units {self.dead_fraction:.0%}")
        if self.saturated_fraction is not None:
            out.append(f"saturated outputs {self.saturated_fraction:.0%}")
        if self.grad_norm is not None:
            out.append(f"gradient norm {self.grad_norm:.3g}")
        if self.weight_change is not None:
            out.append(f"weight change {self.weight_change:.2g} per step")
        return out


class _Track:
    """The recent sampled values of one node."""

    def __init__(self) -> None:
        self.mean: float | None = None
        self.std: deque[float] = deque(maxlen=HISTORY)
        self.dead: deque[float] = deque(maxlen=HEALTH_WINDOW)
        self.saturated: deque[float] = deque(maxlen=HEALTH_WINDOW)
        self.grad: deque[float] = deque(maxlen=HISTORY)
        self.change: deque[float] = deque(maxlen=HEALTH_WINDOW)


class HealthTracker:
    """Per-node health of one run, fed with its events (:meth:`add`) and read as :meth:`report`."""

    def __init__(self) -> None:
        self._tracks: dict[str, _Track] = {}
        self._last_step: int | None = None  # the step of the last event with weight changes
        self.serial = 0  # grows with every event that brought statistics

    def reset(self) -> None:
        """Forget everything (a new run)."""
        self._tracks.clear()
        self._last_step = None
        self.serial += 1

    def __bool__(self) -> bool:
        return bool(self._tracks)

    def _track(self, node_id: str) -> _Track:
        track = self._tracks.get(node_id)
        if track is None:
            track = self._tracks[node_id] = _Track()
        return track

    def add(self, event: object) -> bool:
        """Fold one training event in; True when it carried statistics (a new report is due).
        A :class:`TrainStartEvent` starts over; other events are ignored."""
        if isinstance(event, TrainStartEvent):
            self.reset()
            return True
        if not isinstance(event, BatchEvent):
            return False
        if not (event.activation_stats or event.grad_norms or event.weight_changes):
            return False
        for node_id, stats in (event.activation_stats or {}).items():
            track = self._track(node_id)
            track.mean = stats.mean
            track.std.append(stats.std)
            if stats.dead_fraction is not None:
                track.dead.append(stats.dead_fraction)
            if stats.saturated_fraction is not None:
                track.saturated.append(stats.saturated_fraction)
        for node_id, norm in (event.grad_norms or {}).items():
            self._track(node_id).grad.append(norm)
        if event.weight_changes:
            steps = event.step - self._last_step if self._last_step is not None else 1
            for node_id, change in event.weight_changes.items():
                self._track(node_id).change.append(change / max(steps, 1))
        if event.grad_norms is not None or event.weight_changes is not None:
            self._last_step = event.step
        self.serial += 1
        return True

    def report(self) -> dict[str, NodeHealth]:
        """The health of every node seen so far, with its badges."""
        recent = {nid: _recent(t.grad) for nid, t in self._tracks.items() if t.grad}
        # vanishing is judged against the largest norm that is not itself exploding
        largest = max((g for g in recent.values() if g <= EXPLODING_GRAD), default=0.0)
        return {
            nid: self._health(nid, t, recent.get(nid), largest) for nid, t in self._tracks.items()
        }

    def _health(
        self, node_id: str, track: _Track, grad: float | None, largest: float
    ) -> NodeHealth:
        health = NodeHealth(node_id, mean=track.mean)
        health.std = track.std[-1] if track.std else None
        health.dead_fraction = _recent(track.dead)
        health.saturated_fraction = _recent(track.saturated)
        health.grad_norm = track.grad[-1] if track.grad else None
        health.weight_change = _recent(track.change)
        if track.grad:
            health.sparkline = tuple(
                math.log10(max(g, 1e-30)) if math.isfinite(g) else 30.0 for g in track.grad
            )
            health.sparkline_of = "gradient norm"
        elif track.std:
            health.sparkline = tuple(track.std)
            health.sparkline_of = "output std"
        health.badges = badges(
            dead=health.dead_fraction,
            saturated=health.saturated_fraction,
            grad=grad,
            largest_grad=largest,
            change=health.weight_change,
        )
        return health


def _recent(values: deque[float]) -> float | None:
    """The median of the last :data:`HEALTH_WINDOW` values (None when there are none); a
    non-finite value among them wins (a NaN gradient is news, not noise)."""
    last = list(values)[-HEALTH_WINDOW:]
    if not last:
        return None
    bad = [v for v in last if not math.isfinite(v)]
    return bad[-1] if bad else median(last)


def badges(
    dead: float | None = None,
    saturated: float | None = None,
    grad: float | None = None,
    largest_grad: float = 0.0,
    change: float | None = None,
) -> list[Badge]:
    """The problems that the given values show (each None: not measured), worst first."""
    out = _gradient_badges(grad, largest_grad)
    if dead is not None and dead >= DEAD_SHARE:
        out.append(
            Badge(
                DEAD,
                "Dead ReLUs",
                f"{dead:.0%} of this layer's units gave no positive output on any recent "
                "sampled batch; they pass no gradient and have stopped learning.",
                "a lower learning rate, LeakyReLU or ELU instead of ReLU, He initialisation, "
                "BatchNorm before the activation.",
            )
        )
    if saturated is not None and saturated >= SATURATED_SHARE:
        out.append(
            Badge(
                SATURATED,
                "Saturated activations",
                f"{saturated:.0%} of the outputs sit at the ends of the range, where the slope "
                "is almost zero and little gradient passes.",
                "normalised inputs, BatchNorm / LayerNorm before the activation, a lower "
                "learning rate, ReLU-family activations in hidden layers.",
            )
        )
    if change is not None and change < STALLED_CHANGE:
        out.append(
            Badge(
                STALLED,
                "Weights stopped changing",
                f"the weights change by only {change:.2g} of their size per step.",
                "a higher learning rate (check the scheduler has not decayed it to nothing), "
                "check the layer is not frozen and that gradients reach it.",
            )
        )
    return out


def _gradient_badges(grad: float | None, largest_grad: float) -> list[Badge]:
    """Exploding or vanishing gradients (or neither) for a layer's gradient norm."""
    if grad is None:
        return []
    if not math.isfinite(grad) or grad > EXPLODING_GRAD:
        return [
            Badge(
                EXPLODING,
                "Exploding gradients",
                f"this layer's gradient norm is {grad:.3g}; steps this large throw the weights "
                "far off and the loss may become NaN.",
                "a lower learning rate, gradient clipping (training → grad_clip), "
                "normalisation layers (BatchNorm / LayerNorm).",
            )
        ]
    if grad < VANISHING_GRAD or grad < VANISHING_RATIO * largest_grad:
        return [
            Badge(
                VANISHING,
                "Vanishing gradients",
                f"this layer's gradient norm is only {grad:.2g} (the largest layer's is "
                f"{largest_grad:.2g}), so it barely learns.",
                "normalisation layers, residual (skip) connections, ReLU-family activations "
                "instead of Sigmoid/Tanh, He initialisation.",
            )
        ]
    return []
