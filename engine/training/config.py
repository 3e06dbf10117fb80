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

_SCHEDULER_KEYS = ("type", "step_size", "gamma", "patience", "factor", "min_lr")
_EARLY_KEYS = ("patience", "restore_best", "min_delta")


def _fail(key: str, value: Any, allowed: str) -> TrainingError:
    return TrainingError(f"training: {key} is {value!r}; allowed: {allowed}")


def _number(section: dict[str, Any], key: str, default: Any, low: float, high: float,
            integer: bool = False, low_open: bool = False, none_ok: bool = False) -> Any:
    value = section.get(key, default)
    if value is None and none_ok:
        return None
    ok = isinstance(value, int) if integer else isinstance(value, int | float)
    ok = ok and not isinstance(value, bool)
    if ok:
        ok = (low < value if low_open else low <= value) and value <= high
    if not ok:
        kind = "an integer" if integer else "a number"
        bound = f"above {low:g}" if low_open else f"from {low:g}"
        extra = " or null" if none_ok else ""
        raise _fail(key, value, f"{kind} {bound} to {high:g}{extra}")
    return int(value) if integer else float(value)


def _choice(section: dict[str, Any], key: str, default: str, choices: tuple[str, ...]) -> str:
    value = section.get(key, default)
    if value not in choices:
        raise _fail(key, value, " | ".join(choices))
    return value


def _bool(section: dict[str, Any], key: str, default: bool) -> bool:
    value = section.get(key, default)
    if not isinstance(value, bool):
        raise _fail(key, value, "true | false")
    return value


@dataclass(frozen=True)
class SchedulerConfig:
    """Learning-rate schedule, stepped once per epoch (``plateau`` watches the monitored loss)."""

    type: str = "none"
    step_size: int = 10      # step: epochs between decays
    gamma: float = 0.1       # step: decay factor
    patience: int = 5        # plateau: epochs without improvement before decaying
    factor: float = 0.1      # plateau: decay factor
    min_lr: float = 0.0      # cosine / plateau: floor


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

    KEYS = ("task", "loss", "optimizer", "lr", "momentum", "nesterov", "betas", "weight_decay",
            "scheduler", "epochs", "batch_size", "grad_clip", "early_stopping", "denoise_std",
            "device", "amp", "seed", "sample_every", "log_every")

    @classmethod
    def from_design(cls, design: Design, overrides: dict[str, Any] | None = None
                    ) -> TrainConfig:
        """Validate ``design.training`` plus ``overrides`` (keys as in the section; None skipped).

        A missing ``task`` is inferred: a SOM layer means ``som``, generator/discriminator
        networks mean ``gan``, otherwise the data section's task (default classification; the
        trainer switches to the loaded data's own task when the section did not name one).
        """
        section = design.training if isinstance(design.training, dict) else None
        if section is None:
            raise TrainingError(f"training section must be an object like {{\"epochs\": 10}}, "
                                f"got {type(design.training).__name__}")
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
        for key in section:
            if key not in cls.KEYS:
                raise TrainingError(f"training: {key!r} is not a known key; allowed: "
                                    + ", ".join(cls.KEYS))
        task = _choice(section, "task", "classification", TASKS)
        losses = TASK_LOSSES[task]
        loss = section.get("loss", losses[0])
        if loss not in LOSSES:
            raise _fail("loss", loss, " | ".join(LOSSES))
        if loss not in losses:
            raise TrainingError(f"training: loss {loss!r} does not fit task {task!r}; allowed: "
                                + " | ".join(losses))
        optimizer = _choice(section, "optimizer", "adam", OPTIMIZERS)
        default_momentum = 0.9 if optimizer == "sgd" else 0.0
        momentum = _number(section, "momentum", default_momentum, 0.0, 1.0)
        nesterov = _bool(section, "nesterov", False)
        if nesterov and (optimizer != "sgd" or momentum <= 0):
            raise TrainingError("training: nesterov is true but needs optimizer 'sgd' with "
                                "momentum above 0; set nesterov to false or change them")
        betas = section.get("betas", [0.9, 0.999])
        if (not isinstance(betas, list | tuple) or len(betas) != 2
                or not all(isinstance(b, int | float) and not isinstance(b, bool) and 0 <= b < 1
                           for b in betas)):
            raise _fail("betas", betas, "two numbers in [0, 1), e.g. [0.9, 0.999]")
        return cls(
            task=task,
            loss=loss,
            optimizer=optimizer,
            lr=_number(section, "lr", 1e-3, 0.0, 10.0, low_open=True),
            momentum=momentum,
            nesterov=nesterov,
            betas=(float(betas[0]), float(betas[1])),
            weight_decay=_number(section, "weight_decay", 0.0, 0.0, 10.0),
            scheduler=_scheduler(section.get("scheduler", "none")),
            epochs=_number(section, "epochs", 10, 1, 1_000_000, integer=True),
            batch_size=_number(section, "batch_size", 64, 1, 10_000_000, integer=True),
            grad_clip=_number(section, "grad_clip", None, 0.0, 1e6, low_open=True,
                              none_ok=True),
            early_stopping=_early(section.get("early_stopping")),
            denoise_std=_number(section, "denoise_std", 0.0, 0.0, 100.0),
            device=_choice(section, "device", "auto", DEVICES),
            amp=_bool(section, "amp", True),
            seed=_number(section, "seed", 0, 0, 2**32 - 1, integer=True),
            sample_every=_number(section, "sample_every", 50, 1, 1_000_000, integer=True),
            log_every=_number(section, "log_every", 10, 1, 1_000_000, integer=True),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the training section this config round-trips through)."""
        out = dataclasses.asdict(self)
        out["betas"] = list(self.betas)
        return out

    def replace(self, **changes: Any) -> TrainConfig:
        """A validated copy with some keys changed."""
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def _subsection(name: str, value: dict[str, Any], allowed: tuple[str, ...]) -> dict[str, Any]:
    """The keys of the object ``name`` as ``name.key`` (how errors name them), refusing any key
    not in ``allowed``."""
    for key in value:
        if key not in allowed:
            raise TrainingError(f"training: {name}.{key} is not a known key; allowed: "
                                + ", ".join(allowed))
    return {f"{name}.{k}": v for k, v in value.items()}


def _scheduler(value: Any) -> SchedulerConfig:
    if isinstance(value, str):
        value = {"type": value}
    if value is None:
        value = {"type": "none"}
    if not isinstance(value, dict):
        raise _fail("scheduler", value, 'a name (none | step | cosine | plateau) or an object '
                    'like {"type": "step", "step_size": 10, "gamma": 0.5}')
    sub = _subsection("scheduler", value, _SCHEDULER_KEYS)
    d = SchedulerConfig()
    return SchedulerConfig(
        type=_choice(sub, "scheduler.type", "none", SCHEDULERS),
        step_size=_number(sub, "scheduler.step_size", d.step_size, 1, 1_000_000, integer=True),
        gamma=_number(sub, "scheduler.gamma", d.gamma, 0.0, 1.0, low_open=True),
        patience=_number(sub, "scheduler.patience", d.patience, 0, 1_000_000, integer=True),
        factor=_number(sub, "scheduler.factor", d.factor, 0.0, 1.0, low_open=True),
        min_lr=_number(sub, "scheduler.min_lr", d.min_lr, 0.0, 10.0),
    )


def _early(value: Any) -> EarlyStoppingConfig | None:
    if value is None or value is False:
        return None
    if value is True:
        return EarlyStoppingConfig()
    if not isinstance(value, dict):
        raise _fail("early_stopping", value,
                    'null or an object like {"patience": 10, "restore_best": true}')
    sub = _subsection("early_stopping", value, _EARLY_KEYS)
    d = EarlyStoppingConfig()
    return EarlyStoppingConfig(
        patience=_number(sub, "early_stopping.patience", d.patience, 1, 1_000_000, integer=True),
        restore_best=_bool(sub, "early_stopping.restore_best", d.restore_best),
        min_delta=_number(sub, "early_stopping.min_delta", d.min_delta, 0.0, 1e9),
    )


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
