"""What augmentation costs the resident-data trainer: CIFAR-size training steps with random crop
+ horizontal flip vs the same steps without augmentation.

Target (issue 13): ``augment_overhead_ratio`` ≤ 1.3 — a training step with crop (padding 4) and
flip (p 0.5) takes at most 1.3× the time of a plain step.

Workload: N random 3×32×32 images with 10 classes, resident on the device as the trainer keeps
them; each step takes a batch the trainer's way (``index_select`` of a slice of a random
permutation), runs it through :class:`engine.data.augment.Augmenter` (augmented variant only),
then a small CNN (conv 3→32, pool, conv 32→64, pool, linear 4096→10) forward, cross-entropy,
backward and an Adam step. Rounds are interleaved (plain, augmented; the order swaps every round)
so a busy machine disturbs both alike; each round times STEPS steps and the figure per variant is
the median of its rounds' per-step times. The augmentation alone is timed per batch too (median
of its own interleaved rounds). The 1-minute load average is printed at the start and the end.

Run: ``python bench/bench_augment.py [--rounds R] [--steps S] [--batch B] [--device cpu|cuda]``.
The last line reads ``augment_overhead_ratio=<f>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from engine.data.augment import Augmenter  # noqa: E402

AUGMENT = {"steps": [{"op": "crop", "padding": 4}, {"op": "flip", "p": 0.5}]}


def loadavg() -> str:
    """The 1-, 5- and 15-minute load averages, as /proc/loadavg has them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def small_cnn() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 8 * 8, 10),
    )


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=8, help="training steps per round")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--samples", type=int, default=4096)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    print(f"load average at start: {loadavg()} ({os.cpu_count()} cpus)")
    print(
        f"device {device}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"{args.samples} samples 3×32×32, batch {args.batch}, {args.steps} steps per round"
    )
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.samples, 3, 32, 32, generator=gen).to(device)
    y = torch.randint(0, 10, (args.samples,), generator=gen).to(device)
    torch.manual_seed(0)
    model = small_cnn().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    augment = Augmenter(AUGMENT, (3, 32, 32), seed=0, device=device)
    perm = torch.randperm(args.samples, generator=gen).to(device)
    batches = list(perm.split(args.batch))[: max(1, args.samples // args.batch)]

    def train(steps: int, augmented: bool) -> float:
        sync(device)
        t0 = time.perf_counter()
        for i in range(steps):
            idx = batches[i % len(batches)]
            xb = x.index_select(0, idx)
            if augmented:
                xb = augment(xb)
            loss = F.cross_entropy(model(xb), y.index_select(0, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync(device)
        return (time.perf_counter() - t0) / steps

    def augment_only(steps: int) -> float:
        sync(device)
        t0 = time.perf_counter()
        for i in range(steps):
            augment(x.index_select(0, batches[i % len(batches)]))
        sync(device)
        return (time.perf_counter() - t0) / steps

    train(2, True)  # warm-up: first calls allocate and pick kernels
    train(2, False)
    times: dict[str, list[float]] = {"plain": [], "augmented": [], "augment_only": []}
    for r in range(args.rounds):
        order = ("plain", "augmented") if r % 2 == 0 else ("augmented", "plain")
        for variant in order:
            times[variant].append(train(args.steps, variant == "augmented"))
        times["augment_only"].append(augment_only(args.steps * 4))
        print(
            f"round {r + 1}: plain {times['plain'][-1] * 1e3:.2f} ms/step, augmented "
            f"{times['augmented'][-1] * 1e3:.2f} ms/step, augmentation alone "
            f"{times['augment_only'][-1] * 1e3:.3f} ms/batch"
        )
    plain = statistics.median(times["plain"])
    augmented = statistics.median(times["augmented"])
    alone = statistics.median(times["augment_only"])
    print(
        f"median: plain {plain * 1e3:.2f} ms/step, crop+flip {augmented * 1e3:.2f} ms/step, "
        f"crop+flip alone {alone * 1e3:.3f} ms per batch of {args.batch} "
        f"({args.batch / alone:,.0f} images/s)"
    )
    print(f"load average at end: {loadavg()}")
    print(f"augment_overhead_ratio={augmented / plain:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
