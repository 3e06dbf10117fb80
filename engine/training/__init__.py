"""Training: the Trainer and its callbacks, the family loops, checkpoints, devices and DDP.

::

    from engine.training import Trainer, TrainConfig, Callback
    summary = Trainer(design, TrainConfig.from_design(design, {"epochs": 5})).fit()

See docs/training.md.
"""

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
