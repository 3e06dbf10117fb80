"""The ``training`` section of a design: schema, defaults, validation and overrides.

:meth:`TrainConfig.from_design` reads a design's ``training`` dict, applies command-line style
overrides (``None`` values are ignored) and checks every value. Each mistake becomes one
:class:`TrainingError` line that names the key and lists the allowed values, e.g.
``training: optimizer is 'adamx'; allowed: sgd | adam | adamw | rmsprop``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from engine.errors import TrainingError
from engine.graph import Design
from engine.layers import REGISTRY
from engine.schema import Choice, Flag, Listing, Number, Rule, Schema

TASKS = ("classification", "regression", "reconstruction", "gan", "som", "forecast")
LOSSES = ("cross_entropy", "bce_with_logits", "mse", "l1", "huber")
OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
SCHEDULERS = ("none", "step", "cosine", "plateau")
DEVICES = ("auto", "cpu", "cuda", "mps")

#: Losses each task accepts; the first one is the task's default.
TASK_LOSSES: dict[str, tuple[str, ...]] = {
    "classification": ("cross_entropy", "bce_with_logits"),
    "regression": ("mse", "l1", "huber"),
    "forecast": ("mse", "l1", "huber"),
    "reconstruction": ("mse", "l1", "huber", "bce_with_logits"),
    "gan": ("bce_with_logits", "mse"),
    "som": ("mse",),
}

_TRAINING = Listing(TrainingError, "training")


def _two_betas(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(
            isinstance(b, int | float) and not isinstance(b, bool) and 0 <= b < 1 for b in value
        )
    )


#: The training section's fields, in the order messages list them. Defaults that depend on
#: another field (the loss on the task, momentum on the optimizer) are given where read.
TRAINING = Schema(
    {
        "task": Choice(default="classification", choices=TASKS),
        "loss": Choice(choices=LOSSES),
        "optimizer": Choice(default="adam", choices=OPTIMIZERS),
        "lr": Number(default=1e-3, low=0.0, high=10.0, low_open=True),
        "momentum": Number(low=0.0, high=1.0),
        "nesterov": Flag(default=False),
        "betas": Rule(
            default=[0.9, 0.999], test=_two_betas, text="two numbers in [0, 1), e.g. [0.9, 0.999]"
        ),
        "weight_decay": Number(default=0.0, low=0.0, high=10.0),
        "scheduler": Rule(
            default="none",
            test=lambda v: v is None or isinstance(v, str | dict),
            text="a name (none | step | cosine | plateau) or an object like "
            '{"type": "step", "step_size": 10, "gamma": 0.5}',
        ),
        "epochs": Number(default=10, low=1, high=1_000_000, integer=True),
        "batch_size": Number(default=64, low=1, high=10_000_000, integer=True),
        "grad_clip": Number(default=None, low=0.0, high=1e6, low_open=True, none_ok=True),
        "early_stopping": Rule(
            default=None,
            test=lambda v: v is None or isinstance(v, bool | dict),
            text='null or an object like {"patience": 10, "restore_best": true}',
        ),
        "denoise_std": Number(default=0.0, low=0.0, high=100.0),
        "device": Choice(default="auto", choices=DEVICES),
        "amp": Flag(default=True),
        "seed": Number(default=0, low=0, high=2**32 - 1, integer=True),
        "sample_every": Number(default=50, low=1, high=1_000_000, integer=True),
        "log_every": Number(default=10, low=1, high=1_000_000, integer=True),
        "tensorboard": Flag(default=False),
        "histogram_every": Number(default=1, low=0, high=1_000_000, integer=True),
    },
    _TRAINING,
)

#: ``scheduler`` as an object (defaults: :class:`SchedulerConfig`'s).
SCHEDULER = Schema(
    {
        "type": Choice(choices=SCHEDULERS),
        "step_size": Number(low=1, high=1_000_000, integer=True),
        "gamma": Number(low=0.0, high=1.0, low_open=True),
        "patience": Number(low=0, high=1_000_000, integer=True),
        "factor": Number(low=0.0, high=1.0, low_open=True),
        "min_lr": Number(low=0.0, high=10.0),
    },
    _TRAINING,
    path="scheduler",
)

#: ``early_stopping`` as an object (defaults: :class:`EarlyStoppingConfig`'s).
EARLY_STOPPING = Schema(
    {
        "patience": Number(low=1, high=1_000_000, integer=True),
        "restore_best": Flag(),
        "min_delta": Number(low=0.0, high=1e9),
    },
    _TRAINING,
    path="early_stopping",
)


@dataclass(frozen=True)
class SchedulerConfig:
    """Learning-rate schedule, stepped once per epoch (``plateau`` watches the monitored loss)."""

    type: str = "none"
    step_size: int = 10  # step: epochs between decays
    gamma: float = 0.1  # step: decay factor
    patience: int = 5  # plateau: epochs without improvement before decaying
    factor: float = 0.1  # plateau: decay factor
    min_lr: float = 0.0  # cosine / plateau: floor


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """Stop after ``patience`` epochs without an improvement larger than ``min_delta``."""

    patience: int = 10
    restore_best: bool = True
    min_delta: float = 0.0


@dataclass(frozen=True)
class TrainConfig:
    """Validated training settings (see docs/training.md for each key)."""

    task: str = "classification"
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 0.0
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    epochs: int = 10
    batch_size: int = 64
    grad_clip: float | None = None
    early_stopping: EarlyStoppingConfig | None = None
    denoise_std: float = 0.0
    device: str = "auto"
    amp: bool = True
    seed: int = 0
    sample_every: int = 50
    log_every: int = 10
    tensorboard: bool = False  # TensorBoard event files in the run folder
    histogram_every: int = 1  # epochs between weight histograms (0: none)

    KEYS = TRAINING.keys

    @classmethod
    def from_design(cls, design: Design, overrides: dict[str, Any] | None = None) -> TrainConfig:
        """Validate ``design.training`` plus ``overrides`` (keys as in the section; None skipped).

        A missing ``task`` is inferred: a SOM layer means ``som``, generator/discriminator
        networks mean ``gan``, otherwise the data section's task (default classification; the
        trainer switches to the loaded data's own task when the section did not name one).
        """
        section = design.training if isinstance(design.training, dict) else None
        if section is None:
            raise TrainingError(
                f'training section must be an object like {{"epochs": 10}}, '
                f"got {type(design.training).__name__}"
            )
        merged = dict(section)
        for key, value in (overrides or {}).items():
            if value is not None:
                merged[key] = value
        if "task" not in merged:
            task = infer_task(design)
            if task == "classification" and merged.get("loss") in ("mse", "l1", "huber"):
                task = "regression"  # a regression loss implies numeric targets
            merged["task"] = task
        return cls.from_dict(merged)

    @classmethod
    def from_dict(cls, section: dict[str, Any]) -> TrainConfig:
        """Validate a plain training dict (every key optional)."""
        get = TRAINING.get
        TRAINING.check_keys(section)
        task = get(section, "task")
        losses = TASK_LOSSES[task]
        loss = get(section, "loss", losses[0])
        if loss not in losses:
            raise TrainingError(
                f"training: loss {loss!r} does not fit task {task!r}; allowed: "
                + " | ".join(losses)
            )
        optimizer = get(section, "optimizer")
        momentum = get(section, "momentum", 0.9 if optimizer == "sgd" else 0.0)
        nesterov = get(section, "nesterov")
        if nesterov and (optimizer != "sgd" or momentum <= 0):
            raise TrainingError(
                "training: nesterov is true but needs optimizer 'sgd' with "
                "momentum above 0; set nesterov to false or change them"
            )
        betas = get(section, "betas")
        return cls(
            task=task,
            loss=loss,
            optimizer=optimizer,
            lr=get(section, "lr"),
            momentum=momentum,
            nesterov=nesterov,
            betas=(float(betas[0]), float(betas[1])),
            weight_decay=get(section, "weight_decay"),
            scheduler=_scheduler(get(section, "scheduler")),
            epochs=get(section, "epochs"),
            batch_size=get(section, "batch_size"),
            grad_clip=get(section, "grad_clip"),
            early_stopping=_early(get(section, "early_stopping")),
            denoise_std=get(section, "denoise_std"),
            device=get(section, "device"),
            amp=get(section, "amp"),
            seed=get(section, "seed"),
            sample_every=get(section, "sample_every"),
            log_every=get(section, "log_every"),
            tensorboard=get(section, "tensorboard"),
            histogram_every=get(section, "histogram_every"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the training section this config round-trips through)."""
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    def replace(self, **changes: Any) -> TrainConfig:
        """A validated copy with some keys changed."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def _read(schema: Schema, value: dict[str, Any], defaults: Any) -> Any:
    """The dataclass of ``defaults``' type with each field of ``schema`` read from ``value``."""
    schema.check_keys(value)
    return type(defaults)(
        **{key: schema.get(value, key, getattr(defaults, key)) for key in schema.keys}
    )


def _scheduler(value: Any) -> SchedulerConfig:
    """``"step"``, null or an object → the checked schedule."""
    if value is None:
        value = {"type": "none"}
    if isinstance(value, str):
        value = {"type": value}
    return _read(SCHEDULER, value, SchedulerConfig())


def _early(value: Any) -> EarlyStoppingConfig | None:
    """null / false (off), true (the defaults) or an object → the checked early stopping."""
    if value is None or value is False:
        return None
    if value is True:
        return EarlyStoppingConfig()
    return _read(EARLY_STOPPING, value, EarlyStoppingConfig())


def infer_task(design: Design) -> str:
    """The task a design without ``training.task`` implies."""
    roles = {info.get("role") for info in design.networks.values() if isinstance(info, dict)}
    if "generator" in roles or "discriminator" in roles:
        return "gan"
    if any(REGISTRY.resolve(n.type) == "SOM" for n in design):
        return "som"
    data_task = design.data.get("task") if isinstance(design.data, dict) else None
    if data_task in ("regression", "forecast"):
        return data_task
    return "classification"
