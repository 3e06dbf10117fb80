"""Training: the Trainer and its callbacks, the family loops, checkpoints, devices and DDP.

::

    from engine.training import Trainer, TrainConfig, Callback
    summary = Trainer(design, TrainConfig.from_design(design, {"epochs": 5})).fit()

See docs/training.md.
"""

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

# Imported on first use (PEP 562), so ``engine.training.config`` alone — which ``check`` needs to
# validate a training section — does not pull in the trainer, the loops and the data loaders.
_EXPORTS = {
    "Checkpoint": "checkpoint",
    "checkpoint_from_modules": "checkpoint",
    "load_checkpoint": "checkpoint",
    "save_checkpoint": "checkpoint",
    "TrainConfig": "config",
    "BatchEvent": "events",
    "Callback": "events",
    "EpochEvent": "events",
    "History": "events",
    "LayerStats": "events",
    "TrainStartEvent": "events",
    "Trainer": "trainer",
}

if TYPE_CHECKING:
    from engine.training.checkpoint import (
        Checkpoint,
        checkpoint_from_modules,
        load_checkpoint,
        save_checkpoint,
    )
    from engine.training.config import TrainConfig
    from engine.training.events import (
        BatchEvent,
        Callback,
        EpochEvent,
        History,
        LayerStats,
        TrainStartEvent,
    )
    from engine.training.trainer import Trainer


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "BatchEvent",
    "Callback",
    "Checkpoint",
    "EpochEvent",
    "History",
    "LayerStats",
    "TrainConfig",
    "TrainStartEvent",
    "Trainer",
    "checkpoint_from_modules",
    "load_checkpoint",
    "save_checkpoint",
]
