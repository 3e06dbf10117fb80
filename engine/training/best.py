"""Best-epoch tracking and early stopping.

:class:`BestTracker` watches one loss (the trainer's ``monitor``: ``val_loss``, else
``train_loss``; None when the family has no loss to watch, and then every epoch counts as best),
remembers the best epoch, counts the epochs since, keeps a CPU copy of the best weights when early
stopping restores them, and saves and restores all of that with a checkpoint's trainer state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from engine.training.config import EarlyStoppingConfig

StateDicts = dict[str, dict[str, torch.Tensor]]


class BestTracker:
    """The best epoch so far under ``early_stopping`` (None: track only, never stop)."""

    def __init__(
        self, early_stopping: EarlyStoppingConfig | None = None, monitor: str | None = None
    ) -> None:
        self.early_stopping = early_stopping
        self.monitor = monitor
        self.best_value = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_state: StateDicts | None = None

    @property
    def keeps_weights(self) -> bool:
        """Whether the best epoch's weights are kept, to restore them at the end."""
        return self.early_stopping is not None and self.early_stopping.restore_best

    def update(
        self, epoch: int, metrics: dict[str, Any], networks: dict[str, torch.nn.Module]
    ) -> bool:
        """Record 1-based ``epoch`` with its ``metrics``; True when it is the best so far."""
        current = metrics.get(self.monitor) if self.monitor else None
        es = self.early_stopping
        min_delta = es.min_delta if es is not None else 0.0
        is_best = current is None or current < self.best_value - min_delta
        if not is_best:
            self.bad_epochs += 1
            return False
        self.best_value = current if current is not None else self.best_value
        self.best_epoch = epoch
        self.bad_epochs = 0
        if self.keeps_weights:
            self.best_state = {
                name: {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
                for name, net in networks.items()
            }
        return True

    @property
    def should_stop(self) -> bool:
        """Early stopping's patience has run out."""
        es = self.early_stopping
        return es is not None and self.bad_epochs >= es.patience

    def restore_best(self, networks: dict[str, torch.nn.Module], epochs_done: int) -> bool:
        """Put the best epoch's weights back when early stopping asks for it and the last epoch
        was not the best; True when it did."""
        if not self.keeps_weights or self.best_state is None or self.best_epoch == epochs_done:
            return False
        for name, net in networks.items():
            net.load_state_dict(self.best_state[name])
        return True

    def state(self) -> dict[str, Any]:
        """What a checkpoint's trainer state keeps under ``early_stopping``."""
        return {
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "bad_epochs": self.bad_epochs,
        }

    def load_state(
        self,
        state: dict[str, Any],
        best_state: StateDicts | None,
        checkpoint_epoch: int,
        checkpoint_weights: StateDicts,
    ) -> None:
        """Restore :meth:`state`; without saved best weights, a checkpoint written at the best
        epoch holds them itself."""
        self.best_value = float(state.get("best_value", math.inf))
        self.best_epoch = int(state.get("best_epoch", 0))
        self.bad_epochs = int(state.get("bad_epochs", 0))
        if best_state is None and self.best_epoch == checkpoint_epoch:
            best_state = {
                k: {n: t.clone() for n, t in sd.items()} for k, sd in checkpoint_weights.items()
            }
        self.best_state = best_state
