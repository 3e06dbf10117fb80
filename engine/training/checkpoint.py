"""Checkpoints: the design, weights, fitted preprocessing and trainer state in one safe file.

A checkpoint is a ``torch.save`` of plain containers, tensors, strings and numbers only, so it loads
with ``torch.load(weights_only=True)``: opening a checkpoint never unpickles arbitrary objects.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.errors import DesignFormatError
from engine.graph import Design
from engine.io import atomic_write_bytes, dumps, loads

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


def save_checkpoint(path: str | os.PathLike[str], ckpt: Checkpoint) -> None:
    """Write ``ckpt`` atomically (a crash mid-write leaves the previous file intact)."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "design_json": ckpt.design_json,
        "state_dicts": {k: {n: t.detach().cpu() for n, t in sd.items()}
                        for k, sd in ckpt.state_dicts.items()},
        "preprocessor": ckpt.preprocessor,
        "data_info": ckpt.data_info,
        "epoch": int(ckpt.epoch),
        "metrics": {k: float(v) for k, v in ckpt.metrics.items()},
        "trainer_state": ckpt.trainer_state,
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike[str], map_location: str = "cpu") -> Checkpoint:
    """Read a checkpoint safely (``weights_only=True``); problems raise DesignFormatError."""
    p = Path(path)
    if not p.is_file():
        raise DesignFormatError(f"{p}: no such checkpoint file; check the path")
    try:
        payload = torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt or unsafe files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DesignFormatError(f"{p}: not a readable Deepwire checkpoint ({first[:120]})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise DesignFormatError(f"{p}: not a Deepwire checkpoint (no \"{CHECKPOINT_FORMAT}\" "
                                "header); pick a best.pt or last.pt from a training run")
    version = payload.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise DesignFormatError(f"{p}: checkpoint version {version!r} is newer than this Deepwire "
                                "understands; update Deepwire")
    return Checkpoint(
        design_json=payload["design_json"],
        state_dicts=payload["state_dicts"],
        preprocessor=payload.get("preprocessor"),
        data_info=payload.get("data_info") or {},
        epoch=payload.get("epoch", 0),
        metrics=payload.get("metrics") or {},
        trainer_state=payload.get("trainer_state") or {},
    )


def checkpoint_from_modules(design: Design, modules: dict[str, torch.nn.Module],
                            **fields: Any) -> Checkpoint:
    """Build a checkpoint from compiled networks (name → module)."""
    return Checkpoint(design_json=dumps(design),
                      state_dicts={k: m.state_dict() for k, m in modules.items()}, **fields)
