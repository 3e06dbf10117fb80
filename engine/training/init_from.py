"""Fine-tuning: start a new run from a checkpoint's weights with a fresh optimizer.

``main.py train DESIGN --init-from CKPT`` (and the window's action) use :class:`InitFromTrainer`,
a :class:`~engine.training.trainer.Trainer` that, once its networks are built (and, for a SOM,
its prototypes seeded), copies the checkpoint's weights into them. Nothing else of the
checkpoint carries over: the optimizer, scheduler, epoch count, history and early stopping all
start fresh, and the data is prepared anew from the design's data section. Any Deepwire
checkpoint whose weights fit works — a ``best.pt``/``last.pt`` of an earlier run, or the ``.pt``
that ``main.py import`` writes beside an imported design. The weights are checked by name and
shape against the design's compiled networks before any data loads; the first parameter that
differs is named in one line. The file is read with the safe loader (``weights_only=True``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from engine.compile import compile_design
from engine.errors import DataError, DeepwireError, TrainingError, first_line
from engine.graph import Design
from engine.training.checkpoint import Checkpoint, load_checkpoint
from engine.training.trainer import Trainer


def load_init_checkpoint(design: Design, path: str | Path) -> Checkpoint:
    """The checkpoint at ``path`` (safe loader) after checking its weights fit ``design``;
    TrainingError naming the first mismatching parameter otherwise."""
    ckpt = load_checkpoint(path)
    mismatch = weights_mismatch(design, ckpt)
    if mismatch:
        raise TrainingError(
            f"--init-from {path}: its weights do not fit this design: {mismatch}; use a "
            "checkpoint of this design (or one with the same layers and sizes)"
        )
    return ckpt


class InitFromTrainer(Trainer):
    """A :class:`Trainer` whose networks start from ``init_from``'s weights (a path or a
    checked :class:`Checkpoint`); everything else starts fresh. Cannot be combined with
    ``resume``."""

    def __init__(self, design: Design, *args: Any, init_from: str | Path | Checkpoint, **kw: Any):
        if kw.get("resume") is not None:
            raise TrainingError(
                "--init-from starts a new run and --resume continues one: give only one"
            )
        super().__init__(design, *args, **kw)
        self.init_from = init_from
        self.init_checkpoint = (
            init_from
            if isinstance(init_from, Checkpoint)
            else load_init_checkpoint(self.design, init_from)
        )

    def _setup(self) -> None:
        super()._setup()
        where = (
            str(self.init_from) if not isinstance(self.init_from, Checkpoint) else "the checkpoint"
        )
        load_weights(dict(self.loop.networks), self.init_checkpoint, where)


def weights_mismatch(
    design: Design, ckpt: Checkpoint, modules: dict[str, torch.nn.Module] | None = None
) -> str | None:
    """The first parameter whose name or shape differs between the checkpoint's weights and the
    design's compiled networks (``modules``, compiled here when not given), or None when every
    network's weights fit. A lone network is matched to a lone network of any name."""
    if modules is None:
        try:
            modules = {name: compile_design(design, name) for name in design.networks}
        except DeepwireError:
            raise  # a design that does not compile has its own message
        except Exception as exc:
            raise DataError(f"the design does not compile: {first_line(exc, 200)}") from None
    pairs = _network_pairs(modules, ckpt)
    if isinstance(pairs, str):
        return pairs
    for name, (module, saved) in pairs.items():
        own = module.state_dict()
        for key, tensor in own.items():
            if key not in saved:
                return (
                    f"network {name!r}: parameter {key!r} {_shape(tensor)} is not in the checkpoint"
                )
            if tuple(saved[key].shape) != tuple(tensor.shape):
                return (
                    f"network {name!r}: parameter {key!r} is {_shape(saved[key])} in the "
                    f"checkpoint but {_shape(tensor)} in the design"
                )
        extra = [k for k in saved if k not in own]
        if extra:
            return f"network {name!r}: the checkpoint's parameter {extra[0]!r} is not in the design"
    return None


def _network_pairs(
    modules: dict[str, torch.nn.Module], ckpt: Checkpoint
) -> dict[str, tuple[torch.nn.Module, dict[str, torch.Tensor]]] | str:
    if len(modules) == 1 and len(ckpt.state_dicts) == 1:
        ((name, module),) = modules.items()
        return {name: (module, next(iter(ckpt.state_dicts.values())))}
    missing = [n for n in modules if n not in ckpt.state_dicts]
    if missing:
        return f"the checkpoint has no weights for network {missing[0]!r}"
    return {n: (m, ckpt.state_dicts[n]) for n, m in modules.items()}


def _shape(t: torch.Tensor) -> str:
    """``(8, 4)``: a parameter's shape as torch prints it, without a batch axis."""
    return str(tuple(int(d) for d in t.shape))


def load_weights(modules: dict[str, torch.nn.Module], ckpt: Checkpoint, where: str) -> None:
    """Copy the checkpoint's weights into ``modules`` (which :func:`weights_mismatch` accepted)."""
    pairs = _network_pairs(modules, ckpt)
    if isinstance(pairs, str):
        raise TrainingError(f"{where}: {pairs}")
    for name, (module, saved) in pairs.items():
        try:
            module.load_state_dict(saved)
        except (RuntimeError, ValueError) as exc:
            raise TrainingError(
                f"{where}: the weights of network {name!r} do not load ({first_line(exc, 160)})"
            ) from None
