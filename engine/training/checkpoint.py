"""Checkpoints: the design, weights, fitted preprocessing and trainer state in one safe file.

A checkpoint is a ``torch.save`` of plain containers, tensors, strings and numbers only, so it loads
with ``torch.load(weights_only=True)``: opening a checkpoint never unpickles arbitrary objects.
What loads is then checked field by field (:func:`checkpoint_from_payload`) before any consumer
(export, resume, the windows) sees it, so a malformed file gives one line, never a traceback.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.errors import DesignFormatError
from engine.files import atomic_write_files
from engine.graph import Design
from engine.io import dumps, loads

CHECKPOINT_FORMAT = "deepwire.checkpoint"
CHECKPOINT_VERSION = 1


@dataclass
class Checkpoint:
    """Everything needed to resume training or to export a trained model.

    * ``design_json``: the canonical design text the weights belong to.
    * ``state_dicts``: network name → ``module.state_dict()`` (CPU tensors).
    * ``preprocessor``: the fitted preprocessing as plain JSON values (or None).
    * ``data_info``: task, input_shape, class_names, feature_names… (plain values).
    * ``trainer_state``: optimizer/scheduler/RNG/early-stopping state for resuming (plain + tensors).
    """

    design_json: str
    state_dicts: dict[str, dict[str, torch.Tensor]]
    preprocessor: dict[str, Any] | None = None
    data_info: dict[str, Any] = field(default_factory=dict)
    epoch: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    trainer_state: dict[str, Any] = field(default_factory=dict)

    @property
    def design(self) -> Design:
        """The design the weights belong to (parsed from ``design_json``)."""
        return loads(self.design_json, "checkpoint design")

    def matches(self, design: Design) -> bool:
        """Whether ``design`` has the same layers and wiring (positions and labels may differ)."""
        return _structure(self.design) == _structure(design)


def _structure(design: Design) -> tuple:
    nodes = sorted((n.id, n.type, n.network, repr(sorted(n.params.items()))) for n in design)
    return tuple(nodes), tuple(sorted(design.edges))


def save_checkpoint(
    path: str | os.PathLike[str], ckpt: Checkpoint, data: bytes | None = None
) -> None:
    """Write ``ckpt`` atomically (a crash mid-write leaves the previous file intact); ``data``:
    ``ckpt`` already serialized by :func:`checkpoint_bytes` (one serialization for two files)."""
    if data is None:
        data = checkpoint_bytes(ckpt)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_files({Path(path): data})


def save_checkpoints(paths: list[Path], ckpt: Checkpoint) -> None:
    """Write ``ckpt`` to every path of ``paths`` atomically, serialized once; paths in one
    folder get one file written and flushed once, under several names (hard links, see
    :func:`engine.files.atomic_write_files`)."""
    data = checkpoint_bytes(ckpt)
    for path in paths:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_files({Path(path): data for path in paths})


def checkpoint_bytes(ckpt: Checkpoint) -> bytes:
    """The file contents :func:`save_checkpoint` writes for ``ckpt``."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "design_json": ckpt.design_json,
        "state_dicts": {
            k: {n: t.detach().cpu() for n, t in sd.items()} for k, sd in ckpt.state_dicts.items()
        },
        "preprocessor": ckpt.preprocessor,
        "data_info": ckpt.data_info,
        "epoch": int(ckpt.epoch),
        "metrics": {k: float(v) for k, v in ckpt.metrics.items()},
        "trainer_state": ckpt.trainer_state,
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return buf.getvalue()


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> Checkpoint:
    """Read a checkpoint safely (``weights_only=True``) and check its structure (see
    :func:`checkpoint_from_payload`); problems raise DesignFormatError (one line, naming the
    file)."""
    p = Path(path)
    if not p.is_file():
        raise DesignFormatError(f"{p}: no such checkpoint file; check the path")
    try:
        payload = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DesignFormatError(
            f"{p}: not a readable Deepwire checkpoint ({first[:120]})"
        ) from None
    return checkpoint_from_payload(payload, p)


def checkpoint_from_payload(payload: Any, where: str | os.PathLike[str]) -> Checkpoint:
    """The :class:`Checkpoint` in a loaded payload, after checking every field every consumer
    (export, resume, the windows) relies on: a design that loads, state dicts of tensors, plain
    containers where they belong, a known version. DesignFormatError (one line naming ``where``
    and what is wrong) otherwise: a malformed file never reaches code that would trip over it."""
    p = str(where)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise DesignFormatError(
            f'{p}: not a Deepwire checkpoint (no "{CHECKPOINT_FORMAT}" '
            "header); pick a best.pt or last.pt from a training run"
        )

    def bad(what: str) -> DesignFormatError:
        return DesignFormatError(
            f"{p}: not a usable Deepwire checkpoint: {what}; pick a best.pt "
            "or last.pt from a training run"
        )

    version = payload.get("version")
    if _is_int(version) and version > CHECKPOINT_VERSION:
        raise DesignFormatError(
            f"{p}: checkpoint version {version!r} is newer than this Deepwire "
            "understands; update Deepwire"
        )
    if not _is_int(version) or version < 1:
        raise bad(
            f'"version" is {_show(version)}, not a whole number from 1 to {CHECKPOINT_VERSION}'
        )
    design_json, state_dicts = _design_and_weights(payload, p, bad)
    preprocessor = payload.get("preprocessor")
    if preprocessor is not None and not _str_dict(preprocessor):
        raise bad(f'"preprocessor" is {_show(preprocessor)}, not a table')
    data_info = _or_empty(payload.get("data_info"))
    problem = _data_info_problem(data_info)
    if problem:
        raise bad(problem)
    epoch = payload.get("epoch", 0)
    if not _is_int(epoch) or epoch < 0:
        raise bad(f'"epoch" is {_show(epoch)}, not a whole number of epochs')
    metrics = _or_empty(payload.get("metrics"))
    if not _str_dict(metrics) or not all(_is_number(v) for v in metrics.values()):
        raise bad(f'"metrics" is {_show(metrics)}, not metric name → number')
    trainer_state = _or_empty(payload.get("trainer_state"))
    problem = _trainer_state_problem(trainer_state)
    if problem:
        raise bad(problem)
    return Checkpoint(
        design_json=design_json,
        state_dicts=state_dicts,
        preprocessor=preprocessor,
        data_info=data_info,
        epoch=epoch,
        metrics=metrics,
        trainer_state=trainer_state,
    )


def _or_empty(value: Any) -> Any:
    """``value``, or an empty table when it is missing (None) or an empty container. Unlike
    ``value or {}`` this never asks an arbitrary object for its truth (a tensor refuses)."""
    if value is None or (isinstance(value, (dict, list, tuple)) and not value):
        return {}
    return value


def _design_and_weights(
    payload: dict, p: str, bad: Callable[[str], DesignFormatError]
) -> tuple[str, dict[str, dict[str, Any]]]:
    """The payload's design text (which must load) and its state dicts (tensor tables, one per
    network of that design); raises ``bad(...)`` or the design's own error otherwise."""
    design_json = payload.get("design_json")
    if not isinstance(design_json, str):
        raise bad(
            "it holds no design"
            if design_json is None
            else f"its design is {_show(design_json)}, not design text"
        )
    design = loads(design_json, f"{p} (its design)")
    state_dicts = payload.get("state_dicts")
    if not _tensor_tables(state_dicts) or not state_dicts:
        raise bad(
            f'"state_dicts" is {_show(state_dicts)}, not network name → {{parameter name → tensor}}'
        )
    unknown = sorted(set(state_dicts) - set(design.networks))
    if unknown:
        raise bad(f"it holds weights for network {unknown[0]!r}, which its design does not have")
    return design_json, state_dicts


def _data_info_problem(data_info: Any) -> str | None:
    """What is wrong with a checkpoint's ``data_info`` table, or None when it is usable."""
    if not _str_dict(data_info):
        return f'"data_info" is {_show(data_info)}, not a table'
    for key in ("class_names", "feature_names"):
        names = data_info.get(key)
        if names is not None and not (
            isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)
        ):
            return f'data_info "{key}" is {_show(names)}, not a list of names'
    shape = data_info.get("input_shape")
    if shape is not None and not (
        isinstance(shape, (list, tuple)) and all(_is_int(d) for d in shape)
    ):
        return f'data_info "input_shape" is {_show(shape)}, not a list of sizes'
    return None


# the trainer state's entries and the type each must have (see Trainer._trainer_state)
_TRAINER_TABLES = ("optimizers", "schedulers", "rng", "early_stopping", "loop", "config")
_TRAINER_NUMBERS = ("step", "elapsed_s", "train_time_s", "samples_done")


def _trainer_state_problem(state: Any) -> str | None:
    if not _str_dict(state):
        return f'"trainer_state" is {_show(state)}, not a table'
    for key in _TRAINER_TABLES:
        if key in state and not _str_dict(state[key]):
            return f'trainer_state "{key}" is {_show(state[key])}, not a table'
    for key in _TRAINER_NUMBERS:
        if key in state and not _is_number(state[key]):
            return f'trainer_state "{key}" is {_show(state[key])}, not a number'
    if "history" in state and not isinstance(state["history"], list):
        return f'trainer_state "history" is {_show(state["history"])}, not a list'
    best = state.get("best_state_dicts")
    if best is not None and not _tensor_tables(best):
        return f'trainer_state "best_state_dicts" is {_show(best)}, not state dicts'
    stopping = state.get("early_stopping", {})
    if not all(_is_number(v) for v in stopping.values()):
        return 'trainer_state "early_stopping" holds something other than numbers'
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _str_dict(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(k, str) for k in value)


def _tensor_tables(value: Any) -> bool:
    """``{name: {name: tensor}}``."""
    return _str_dict(value) and all(
        _str_dict(sd) and all(isinstance(t, torch.Tensor) for t in sd.values())
        for sd in value.values()
    )


def _show(value: Any) -> str:
    """A short description of a wrong value: ``the text '1'``, ``-5``, ``a list``."""
    if isinstance(value, str):
        return f"the text {value[:30]!r}"
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    return f"a {type(value).__name__}"


def checkpoint_from_modules(
    design: Design, modules: dict[str, torch.nn.Module], **fields: Any
) -> Checkpoint:
    """Build a checkpoint from compiled networks (name → module)."""
    return Checkpoint(
        design_json=dumps(design),
        state_dicts={k: m.state_dict() for k, m in modules.items()},
        **fields,
    )


def detached_copy(value: Any) -> Any:
    """A copy of ``value`` (nested dicts, lists and tuples of tensors and plain values) whose
    tensors are CPU copies, so later training steps cannot change it: what a checkpoint written
    on another thread holds."""
    if isinstance(value, torch.Tensor):
        value = value.detach()
        return value.clone() if value.device.type == "cpu" else value.to("cpu")
    if isinstance(value, dict):
        return {k: detached_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [detached_copy(v) for v in value]
    if isinstance(value, tuple):
        return tuple(detached_copy(v) for v in value)
    return value
