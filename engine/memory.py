"""How much memory training a design needs, and whether it fits in this machine's free memory.

:func:`estimate_memory` adds up, from shape inference alone (nothing is allocated):

* **parameters** — every weight, float32;
* **gradients** — one float32 per trainable weight (none for SOM training, which has no
  backpropagation);
* **optimizer state** — per weight: Adam / AdamW 2 (first and second moments), SGD with momentum
  1, RMSprop 1 (+1 with momentum), plain SGD 0;
* **activations** — every layer's output for a whole batch, kept for the backward pass, plus the
  largest layer's output once more for the gradient flowing back through it.

The dataset itself (which the trainer keeps on the device) is not counted: ``check`` does not load
data. :func:`available_memory` reads the free memory of the device a run would use: the GPU's
(``torch.cuda.mem_get_info``) or this machine's RAM (``MemAvailable`` in ``/proc/meminfo``, else
``os.sysconf``). :func:`memory_problems` turns an estimate that does not fit into problems that
name the node needing the most memory and the batch size that would fit.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.graph import Design
from engine.shapes import Problem, ShapeAnalysis

if TYPE_CHECKING:
    from engine.training.config import TrainConfig

BYTES_PER_PARAM = 4  # float32 weights, gradients and optimizer state

#: Optimizer state values kept per weight (SGD and RMSprop keep one more with momentum).
OPTIMIZER_SLOTS = {"adam": 2, "adamw": 2, "sgd": 0, "rmsprop": 1}

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def fmt_bytes(nbytes: float) -> str:
    """Byte size in binary units: ``512 B``, ``4.0 KiB``, ``1.50 MiB``, ``3.6 TiB``."""
    value = float(nbytes)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            if unit == "B":
                return f"{int(value)} B"
            return f"{value:.1f} {unit}" if value >= 10 else f"{value:.2f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def optimizer_slots(optimizer: str, momentum: float = 0.0) -> int:
    """Optimizer state values per weight for ``optimizer`` (see the module docstring)."""
    extra = 1 if optimizer in ("sgd", "rmsprop") and momentum > 0 else 0
    return OPTIMIZER_SLOTS.get(optimizer, 2) + extra


@dataclass(frozen=True)
class NodeMemory:
    """One node's share: its weights (with gradients and optimizer state) and its activations
    per sample."""

    node: str
    weight_bytes: int
    activation_bytes: int

    def at(self, batch_size: int) -> int:
        """Bytes this node needs at ``batch_size``."""
        return self.weight_bytes + self.activation_bytes * batch_size


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes training needs, by part, against the free memory of the device it would use."""

    batch_size: int
    optimizer: str
    parameters: int
    gradients: int
    optimizer_state: int
    activations: int  # at ``batch_size``
    activations_per_sample: int  # what one more sample in the batch adds
    device: str  # "cpu", "cuda", "mps": whose free memory ``available`` is
    available: int | None  # free bytes there; None when unknown
    nodes: tuple[NodeMemory, ...] = ()

    @property
    def fixed(self) -> int:
        """Bytes that do not depend on the batch size."""
        return self.parameters + self.gradients + self.optimizer_state

    @property
    def total(self) -> int:
        """Bytes needed at ``batch_size``."""
        return self.fixed + self.activations

    @property
    def fits(self) -> bool:
        """True when the total fits in the free memory (or the free memory is unknown)."""
        return self.available is None or self.total <= self.available

    @property
    def max_batch(self) -> int | None:
        """The largest batch size that fits (0: not even one sample; None: unknown or no
        limit)."""
        if self.available is None:
            return None
        room = self.available - self.fixed
        if room < self.activations_per_sample:
            return 0
        if self.activations_per_sample == 0:
            return None
        return room // self.activations_per_sample

    @property
    def where(self) -> str:
        """Whose memory: ``RAM`` or ``cuda memory``."""
        return "RAM" if self.device in ("cpu", "mps") else f"{self.device} memory"

    def largest_node(self) -> NodeMemory | None:
        """The node needing the most memory at this batch size."""
        return max(self.nodes, key=lambda n: n.at(self.batch_size), default=None)

    def summary(self) -> str:
        """``fits: 1.2 GiB of 7.8 GiB free RAM at batch 64`` or ``does not fit at batch 256
        (needs …); at most batch 64``."""
        need = fmt_bytes(self.total)
        if self.available is None:
            return f"needs {need} at batch {self.batch_size} (free memory unknown)"
        free = f"{fmt_bytes(self.available)} free {self.where}"
        if self.fits:
            return f"fits: {need} of {free} at batch {self.batch_size}"
        text = f"does not fit at batch {self.batch_size}: needs {need}, {free}"
        best = self.max_batch
        if best == 0:
            return text + "; not even batch 1 fits"
        return text + f"; at most batch {best}"

    def to_dict(self) -> dict[str, Any]:
        """The ``memory`` object of ``check --json``."""
        return {
            "parameters": self.parameters,
            "gradients": self.gradients,
            "optimizer_state": self.optimizer_state,
            "activations": self.activations,
            "activations_per_sample": self.activations_per_sample,
            "total": self.total,
            "batch_size": self.batch_size,
            "optimizer": self.optimizer,
            "device": self.device,
            "available": self.available,
            "fits": self.fits,
            "max_batch": self.max_batch,
        }


def estimate_memory(
    design: Design,
    analysis: ShapeAnalysis,
    *,
    batch_size: int,
    optimizer: str = "adam",
    momentum: float = 0.0,
    task: str | None = None,
    device: str = "auto",
    available: int | None | str = "measure",
) -> MemoryEstimate:
    """Bytes training ``design`` needs at ``batch_size`` (see the module docstring).

    ``device`` is the training setting (``auto`` means a GPU when there is one); ``available``
    overrides the measured free memory (tests, or a number the caller already has).
    """
    backprop = task != "som"
    slots = optimizer_slots(optimizer, momentum) if backprop else 0
    per_weight = BYTES_PER_PARAM * (1 + (1 if backprop else 0) + slots)
    nodes = []
    params = per_sample = largest = 0
    for node in design:
        info = analysis.info.get(node.id)
        if info is None:
            continue
        params += info.params
        per_sample += info.activation_bytes
        largest = max(largest, info.activation_bytes)
        nodes.append(NodeMemory(node.id, info.params * per_weight, info.activation_bytes))
    if backprop:
        per_sample += largest  # the gradient flowing back through the largest layer
    which = resolve_memory_device(device)
    free = available_memory(which) if available == "measure" else available
    return MemoryEstimate(
        batch_size=batch_size,
        optimizer=optimizer if backprop else "none",
        parameters=params * BYTES_PER_PARAM,
        gradients=params * BYTES_PER_PARAM if backprop else 0,
        optimizer_state=params * BYTES_PER_PARAM * slots,
        activations=per_sample * batch_size,
        activations_per_sample=per_sample,
        device=which,
        available=free if isinstance(free, int) else None,
        nodes=tuple(nodes),
    )


def estimate_for_config(
    design: Design,
    analysis: ShapeAnalysis,
    config: TrainConfig,
    available: int | None | str = "measure",
) -> MemoryEstimate:
    """:func:`estimate_memory` with a training config's batch size, optimizer, task and
    device."""
    return estimate_memory(
        design,
        analysis,
        batch_size=config.batch_size,
        optimizer=config.optimizer,
        momentum=config.momentum,
        task=config.task,
        device=config.device,
        available=available,
    )


def design_estimate(
    design: Design, analysis: ShapeAnalysis, available: int | None | str = "measure"
) -> MemoryEstimate | None:
    """The estimate for the design's own training settings; None while the design has problems
    or its training section is invalid (those are reported on their own)."""
    from engine.errors import TrainingError
    from engine.training.config import TrainConfig

    if not analysis.valid:
        return None
    try:
        config = TrainConfig.from_design(design)
    except TrainingError:
        return None
    return estimate_for_config(design, analysis, config, available)


def memory_problems(estimate: MemoryEstimate) -> list[Problem]:
    """Problems for an estimate that does not fit: the node needing the most memory when not
    even one sample fits, else the batch size that would."""
    if estimate.fits:
        return []
    free = f"{fmt_bytes(estimate.available or 0)} free {estimate.where}"
    node = estimate.largest_node()
    if estimate.max_batch == 0:
        one = estimate.fixed + estimate.activations_per_sample
        if node is None:
            return [
                Problem(
                    None,
                    f"training needs {fmt_bytes(one)} even at batch 1, more than the {free}",
                    "make the design smaller",
                )
            ]
        return [
            Problem(
                node.node,
                f"needs {fmt_bytes(node.at(1))} ({node.at(1):,} bytes: "
                "weights, gradients, optimizer state and activations of one sample); "
                f"the design needs {fmt_bytes(one)} at batch 1, more than the {free}",
                "make this layer smaller (fewer features or channels, a smaller input shape)",
            )
        ]
    biggest = (
        f" (largest: node '{node.node}', {fmt_bytes(node.at(estimate.batch_size))})"
        if node is not None
        else ""
    )
    return [
        Problem(
            None,
            f"training does not fit at batch {estimate.batch_size}: needs "
            f"{fmt_bytes(estimate.total)}{biggest}, {free}",
            f"set training.batch_size to {estimate.max_batch} or less",
        )
    ]


def resolve_memory_device(device: str) -> str:
    """The device whose memory a run with this ``device`` setting uses: ``auto`` is ``cuda`` when
    torch sees a GPU (torch is only asked when it is already imported), else ``cpu``."""
    if device != "auto":
        return device
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        return "cuda"
    return "cpu"


def available_memory(device: str = "cpu") -> int | None:
    """Free bytes on ``device`` (``cuda``: the current GPU; otherwise this machine's RAM), or
    None when it cannot be read."""
    if device.startswith("cuda"):
        torch = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_available():
            return None
        try:
            return int(torch.cuda.mem_get_info()[0])
        except RuntimeError:
            return None
    return system_available_memory()


def system_available_memory() -> int | None:
    """RAM a new allocation can get without swapping: ``MemAvailable`` on Linux, else the free
    pages ``os.sysconf`` reports; None when neither exists."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None
