"""Data larger than memory: how fast the trainer's streaming loader reads an image folder.

Targets (issue 13): ``stream_ratio`` ≥ 1.0 — the trainer's streaming path
(:class:`engine.data.streaming.DeviceStream`: the epoch's batches planned, decoded by DataLoader
workers, moved to the device) reads at least as many samples per second as a plain reference
:class:`torch.utils.data.DataLoader` over the same files with the same number of workers (a
``__getitem__`` per image with Pillow, default collate, shuffle, same batch size); and
``resident_ratio`` ≥ 3 — for a subset that fits in memory, an epoch of the resident path
(whole split on the device, ``index_select`` per batch as the trainer does) is at least 3× as
fast as streaming the same subset.

Workload: an image folder of COUNT 32×32 RGB PNGs in 10 classes (50,000 by default), generated
once and cached under ``--dir`` (``<dir>/images-<COUNT>``; a marker file says it is complete).
Each round reads one whole epoch through each loader; rounds are interleaved (the order swaps
every round) so a busy machine disturbs both alike, and each figure is the median of its rounds.
Memory: the proportional set size (PSS, shared pages divided among the processes that map them,
so forked workers are not counted once each) of this process and its worker children, sampled
every 50 ms while streaming, is compared with the budget. The 1-minute load average is printed
at the start and the end.

Run: ``python bench/bench_data.py --dir /tmp/deepwire-bench-data [--count N] [--rounds R]
[--workers W] [--batch B] [--budget-mb MB] [--subset N]``.
The last line reads ``stream_ratio=<f> resident_ratio=<f>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from engine.data import prepare_data  # noqa: E402
from engine.data.streaming import DeviceStream, default_workers  # noqa: E402

CLASSES = 10


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def make_folder(root: Path, count: int) -> Path:
    """``count`` 32×32 RGB PNGs in ``CLASSES`` class folders under ``root/images-<count>``,
    made once (the ``complete`` marker is written last)."""
    from PIL import Image

    folder = root / f"images-{count}"
    if (folder / "complete").exists():
        return folder
    rng = np.random.default_rng(0)
    for k in range(CLASSES):
        (folder / f"class{k}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        k = i % CLASSES
        px = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        px[:, :, k % 3] //= 2  # a little class signal
        Image.fromarray(px, "RGB").save(folder / f"class{k}" / f"{i:06d}.png")
    (folder / "complete").write_text("ok\n")
    return folder


class ReferenceImages(torch.utils.data.Dataset):
    """The plain way: one Pillow decode per ``__getitem__``, default collate."""

    def __init__(self, paths: list[str], labels: list[int]) -> None:
        self.paths, self.labels = paths, labels

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        from PIL import Image

        with Image.open(self.paths[i]) as img:
            arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
        return torch.from_numpy(arr.transpose(2, 0, 1).copy()), self.labels[i]


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    try:  # no smaps_rollup: resident set size instead
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    out = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                out += _tree(int(child))
    except OSError:
        pass
    return out


class MemoryWatch:
    """Peak PSS of this process and its children (psutil when installed, else /proc)."""

    def __init__(self) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> int:
        try:
            import psutil

            me = psutil.Process()
            procs = [me, *me.children(recursive=True)]
            total = 0
            for p in procs:
                try:
                    info = p.memory_full_info()
                    total += getattr(info, "pss", info.rss) // 1024
                except psutil.Error:
                    pass
            return total
        except ImportError:
            return sum(_pss_kb(p) for p in _tree(os.getpid()))

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_kb = max(self.peak_kb, self._sample())

    def __enter__(self) -> MemoryWatch:
        self.peak_kb = self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def epoch_batches(n: int, batch: int, seed: int) -> list[torch.Tensor]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return list(perm.split(batch))


def time_stream(stream: DeviceStream, batch: int, seed: int) -> float:
    """Samples per second of one epoch through the trainer's streaming path."""
    batches = epoch_batches(len(stream), batch, seed)
    t0 = time.perf_counter()
    stream.plan(batches)
    total = 0
    for idx in batches:
        total += len(stream.index_select(0, idx))
    return total / (time.perf_counter() - t0)


def time_loader(loader: torch.utils.data.DataLoader, device: torch.device) -> float:
    t0 = time.perf_counter()
    total = 0
    for x, _y in loader:
        total += len(x.to(device, non_blocking=True))
    return total / (time.perf_counter() - t0)


def time_resident(x: torch.Tensor, batch: int, seed: int) -> float:
    batches = [b.to(x.device) for b in epoch_batches(len(x), batch, seed)]
    t0 = time.perf_counter()
    total = 0
    for idx in batches:
        total += len(x.index_select(0, idx))
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return total / (time.perf_counter() - t0)


def spec_for(folder: Path, stream: bool, budget: int, workers: int) -> dict:
    return {
        "source": "image_folder",
        "path": str(folder),
        "size": [32, 32],
        "color": "rgb",
        "split": {"val": 0.0, "test": 0.0},
        "stream": stream,
        "memory_budget_mb": budget,
        "workers": workers,
    }


def interleaved(fns: dict, rounds: int) -> dict[str, float]:
    got: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            got[name].append(fns[name](r))
    return {k: statistics.median(v) for k, v in got.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=str(Path(tempfile.gettempdir()) / "deepwire-bench-data"))
    ap.add_argument("--count", type=int, default=50_000)
    ap.add_argument("--subset", type=int, default=5_000, help="images for the resident test")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=default_workers())
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--budget-mb", type=int, default=512)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    device = torch.device(args.device)
    print(f"load average at start: {loadavg()}  (cpus {os.cpu_count()}, workers {args.workers})")
    root = Path(args.dir)
    t0 = time.perf_counter()
    folder = make_folder(root, args.count)
    subset = make_folder(root, min(args.subset, args.count))
    print(f"folders ready in {time.perf_counter() - t0:.1f} s: {folder}, {subset}")

    data = prepare_data(spec_for(folder, True, args.budget_mb, args.workers))
    print(f"full: {data.storage}")
    stream = DeviceStream(data.x_train, device, args.workers)
    ds = data.x_train.dataset
    paths = [ds.source.paths[r] for r in ds.rows]
    labels = [int(v) for v in data.y_train]
    extra = {"persistent_workers": True, "prefetch_factor": 4} if args.workers else {}
    reference = torch.utils.data.DataLoader(
        ReferenceImages(paths, labels),
        batch_size=args.batch,
        shuffle=True,
        num_workers=args.workers,
        pin_memory=device.type == "cuda",
        **extra,
    )
    with MemoryWatch() as mem:
        full = interleaved(
            {
                "stream": lambda r: time_stream(stream, args.batch, r),
                "reference": lambda r: time_loader(reference, device),
            },
            args.rounds,
        )
    stream.close()
    peak_mb = mem.peak_kb / 1024
    print(
        f"{len(paths):,} images: streaming {full['stream']:,.0f} samples/s, plain DataLoader "
        f"{full['reference']:,.0f} samples/s (medians of {args.rounds} interleaved rounds)"
    )
    under = "under" if peak_mb <= args.budget_mb else "OVER"
    print(
        f"peak memory (PSS, this process + workers): {peak_mb:,.0f} MB, {under} the budget "
        f"of {args.budget_mb:,} MB"
    )

    small = prepare_data(spec_for(subset, True, args.budget_mb, args.workers))
    small_stream = DeviceStream(small.x_train, device, args.workers)
    resident = prepare_data(spec_for(subset, False, args.budget_mb, args.workers))
    print(f"subset: {resident.storage}")
    x = torch.from_numpy(resident.x_train).to(device)
    sub = interleaved(
        {
            "stream": lambda r: time_stream(small_stream, args.batch, r),
            "resident": lambda r: time_resident(x, args.batch, r),
        },
        args.rounds,
    )
    small_stream.close()
    print(
        f"{len(x):,} images that fit: resident {sub['resident']:,.0f} samples/s, streaming "
        f"{sub['stream']:,.0f} samples/s"
    )
    print(f"load average at end: {loadavg()}")
    print(
        f"stream_ratio={full['stream'] / full['reference']:.2f} "
        f"resident_ratio={sub['resident'] / sub['stream']:.2f}"
    )


if __name__ == "__main__":
    main()
