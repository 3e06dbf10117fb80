"""Device choice and the distributed (torchrun) context.

``auto`` picks CUDA, then Apple's MPS, then the CPU. Under ``torchrun --nproc_per_node N`` the
environment carries ``WORLD_SIZE``/``RANK``/``LOCAL_RANK``; :func:`init_distributed` then joins
the process group (NCCL on CUDA, gloo on the CPU) and each process trains on its own shard.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import torch

from engine.errors import TrainingError

#: A network whose forward pass over one batch takes fewer multiply-adds than this trains on one
#: torch thread: its operations are too small to share out, and on a busy machine the threads'
#: hand-offs wait for a free core (many times slower). See docs/training.md, "CPU threads".
SMALL_STEP_MACS = 10_000_000  # the CNN template (22 M) gains from 2 threads, the MLP (1 M) not


def busy_cores_now(window_s: float = 0.1) -> float | None:
    """How many cores other processes keep busy right now: the non-idle CPU time of the whole
    machine over ``window_s`` seconds (this process sleeps meanwhile), from ``/proc/stat``; None
    where there is no ``/proc/stat`` (macOS, Windows)."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields[:8]), idle

    try:
        total0, idle0 = sample()
        time.sleep(window_s)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    ticks = total1 - total0
    if ticks <= 0:
        return None
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return max(0.0, (ticks - (idle1 - idle0)) / (hz * window_s))


def pick_threads(
    step_macs: int,
    limit: int | None = None,
    cores: int | None = None,
    load: float | None = None,
    busy: float | None = None,
) -> int:
    """Torch CPU threads for a training step of ``step_macs`` multiply-adds (forward pass, one
    batch): 1 below :data:`SMALL_STEP_MACS`; otherwise the cores other processes leave free, at
    least 1 and at most ``limit`` (default: torch's current setting). Other processes' share is
    the smaller of the 1-minute load average beyond this process (``load``) and the cores busy
    right now (``busy``, :func:`busy_cores_now`): the load average lags by a minute, so a
    machine that has just gone quiet (e.g. the previous run ended) still counts as free.
    ``cores``, ``load`` and ``busy`` default to this machine's (``busy`` is measured only when
    ``load`` is too, and then only when the load average says other processes run and there is
    a choice to make: it takes 0.1 s before the first batch)."""
    if step_macs < SMALL_STEP_MACS:
        return 1
    limit = torch.get_num_threads() if limit is None else limit
    if limit <= 1:
        return 1  # nothing to choose (the window's training process on two cores): no sampling
    if cores is None:
        affinity = getattr(os, "sched_getaffinity", None)
        cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # Windows has no load average
            load = 0.0
        if busy is None and load > 1.0:  # only a machine that looks busy is sampled (0.1 s)
            busy = busy_cores_now()
    others = max(0.0, load - 1.0)  # this process is one of the running ones
    if busy is not None:
        others = min(others, busy)
    return max(1, min(limit, int(cores - others + 0.5)))


def mps_available() -> bool:
    """Whether Apple's MPS backend can run here."""
    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def device_available(name: str) -> bool:
    """Whether the device setting ``auto | cpu | cuda | mps`` can train on this machine."""
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return mps_available()
    return True


def describe_device(device: str | torch.device = "auto") -> str:
    """The device in words, as the editor's status bar shows it: ``CUDA: <GPU name>``,
    ``MPS (Apple GPU)`` or ``CPU``. A setting (``auto``…) is resolved first; one that is not
    available here is a :class:`TrainingError`."""
    if not isinstance(device, torch.device):
        device = resolve_device(device)
    if device.type == "cuda":
        return f"CUDA: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "MPS (Apple GPU)"
    return device.type.upper()


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """The torch device for ``auto | cpu | cuda | mps``; an unavailable choice is a TrainingError."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise TrainingError(
                "device 'cuda' is not available here (no NVIDIA GPU, or torch "
                "was built without CUDA); use device auto or cpu"
            )
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    if name == "mps":
        if not mps_available():
            raise TrainingError(
                "device 'mps' is not available here (Apple GPU only); use device auto or cpu"
            )
        return torch.device("mps")
    return torch.device("cpu")


@dataclass(frozen=True)
class DistContext:
    """Which process this is among ``world_size`` (1, 0, 0 outside torchrun)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    owns_group: bool = False  # True when init_distributed created the process group

    @property
    def enabled(self) -> bool:
        """True when more than one process trains (distributed data parallel)."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """True in the process that writes files and reports (rank 0)."""
        return self.rank == 0


def launched_distributed() -> bool:
    """Whether this process was started by torchrun with more than one process."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def init_distributed(device_name: str) -> DistContext:
    """Join the torchrun process group if there is one; returns the context (plain if not)."""
    if not launched_distributed():
        return DistContext()
    import torch.distributed as dist

    if not dist.is_available():
        raise TrainingError(
            "started with torchrun but this torch has no distributed support; run without torchrun"
        )
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    owns = False
    if not dist.is_initialized():
        use_cuda = torch.cuda.is_available() and device_name in ("auto", "cuda")
        if use_cuda:
            torch.cuda.set_device(local_rank % torch.cuda.device_count())
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
        owns = True
    return DistContext(dist.get_world_size(), dist.get_rank(), local_rank, owns)


def close_distributed(ctx: DistContext) -> None:
    """Leave the process group this module created."""
    if ctx.owns_group:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
