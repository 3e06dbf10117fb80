"""Training throughput: the real ``main.py train`` vs a tight hand-written loop vs a DataLoader loop.

Targets (issue 11): ``main.py train`` ≥ 0.97× the tight loop's samples/s (MLP and CNN template),
with its files, and ≥ 1.25× a ``DataLoader(TensorDataset)`` loop (MLP); no collapse when the
machine is busy (``--load N``).

Workloads: the shipped MLP and CNN templates (resources/templates/) as they are (digits, batch 64,
Adam at 1e-3, seed 0), ``--epochs`` epochs each (default 60). Every variant runs in a fresh
Python process, with torch's default thread count unless the code path under test picks its own:

* ``cli``: ``python main.py train TEMPLATE --epochs E --out DIR``, the command a user types, with
  every file it writes (``metrics.jsonl``, ``last.pt``, ``best.pt``, ``summary.json``) and its
  progress bar. Timed by its own report: ``summary.json``'s ``elapsed_s`` runs from the first
  batch to the end of the last epoch with its checkpoints on disk, so it leaves out only the
  start-up (importing torch, loading the data, compiling) that the other two leave out too.
  Samples/s = epochs × training samples / elapsed_s. The bench checks that the four files exist
  and that ``last.pt`` loads with the project's safe loader (after timing).
* ``tight``: the same compiled network and prepared data (``compile_design``, ``prepare_data``
  with the template's seed); tensors indexed by ``torch.randperm`` slices: forward, loss,
  zero_grad, backward, step; a validation pass (loss + accuracy) after every epoch, as the
  trainer does. No files.
* ``dataloader`` (MLP): the same with ``DataLoader(TensorDataset(x, y), batch_size=64,
  shuffle=True)``.

Rounds are interleaved (every variant once per round, the order rotating from round to round), so
a busy machine disturbs all of them alike; each figure is the median of its rounds, and every
round is printed. ``--load N`` starts N busy-looping processes for the whole measurement (killed at
the end) to show what a busy machine does; the 1-minute load average is printed at the start and
the end. ``--loop-threads T`` runs the hand-written loops on T torch threads (``main.py train``
picks its own: one for these small networks, see docs/training.md), to compare like with like.
Run: ``python bench/bench_training.py [--epochs N] [--rounds R] [--load N] [--loop-threads T]``.
The last line reads ``ratio_vs_tight_mlp=<f> ratio_vs_tight_cnn=<f> ratio_vs_dataloader_mlp=<f>``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BATCH = 64
#: (workload, variant) in the order of the first round.
VARIANTS = (
    ("mlp", "cli"),
    ("mlp", "tight"),
    ("mlp", "dataloader"),
    ("cnn", "cli"),
    ("cnn", "tight"),
)
CHILD_TIMEOUT_S = 900


# -- the hand-written loops (run in a child process: --child VARIANT --model NAME) ----------------


def _prepared(model: str):
    """The template's compiled network, optimizer and prepared data, as the trainer gets them."""
    import torch

    from engine.compile import compile_design
    from engine.data import prepare_data
    from engine.io import load_design
    from engine.training import TrainConfig
    from resources import template_path

    design = load_design(template_path(model))
    cfg = TrainConfig.from_design(design)
    assert (cfg.optimizer, cfg.lr, cfg.batch_size) == ("adam", 1e-3, BATCH), cfg
    data = prepare_data(design.data, template_path(model).parent, cfg.seed)
    torch.manual_seed(cfg.seed)
    net = compile_design(design)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    return net, opt, data


def _validate(net, data) -> tuple[float, float]:
    """Validation loss and accuracy, as the trainer reports each epoch."""
    import torch
    import torch.nn.functional as F

    net.eval()
    with torch.no_grad():
        x, y = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
        out = net(x)
        loss, acc = float(F.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())
    net.train()
    return loss, acc


def run_loop(variant: str, model: str, epochs: int, threads: int = 0) -> float:
    """Samples/s of the ``tight`` or ``dataloader`` loop (``threads``: torch threads, 0 for
    torch's default)."""
    import torch
    import torch.nn.functional as F
    from torch.utils.data import DataLoader, TensorDataset

    if threads:
        torch.set_num_threads(threads)
    net, opt, data = _prepared(model)
    x, y = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    n = len(x)
    net.train()
    if variant == "tight":

        def batches():
            perm = torch.randperm(n)
            for i in range(0, n, BATCH):
                idx = perm[i : i + BATCH]
                yield x[idx], y[idx]

    else:
        loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)

        def batches():
            return iter(loader)

    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in batches():
            loss = F.cross_entropy(net(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        _validate(net, data)
    return epochs * n / (time.perf_counter() - t0)


# -- the parent: one fresh process per variant and round ------------------------------------------


def run_cli(model: str, epochs: int) -> float:
    """Samples/s of ``main.py train`` on the template, from its own summary.json."""
    from resources import template_path

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        out = Path(tmp) / "run"
        cmd = [sys.executable, "main.py", "train", str(template_path(model))]
        cmd += ["--epochs", str(epochs), "--out", str(out)]
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
        )
        if proc.returncode != 0:
            raise SystemExit(f"main.py train failed: {proc.stderr.strip()[-500:]}")
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        files = {"metrics.jsonl", "last.pt", "best.pt", "summary.json"}
        missing = files - {p.name for p in out.iterdir()}
        if missing:
            raise SystemExit(f"main.py train left no {', '.join(sorted(missing))}")
        from engine.training import load_checkpoint

        if load_checkpoint(out / "last.pt").epoch != epochs:
            raise SystemExit("main.py train's last.pt is not its last epoch")
        return summary["epochs_completed"] * summary["n_train"] / summary["elapsed_s"]


def run_child(variant: str, model: str, epochs: int, threads: int) -> float:
    cmd = [sys.executable, __file__, "--child", variant, "--model", model, "--epochs", str(epochs)]
    cmd += ["--loop-threads", str(threads)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    if proc.returncode != 0:
        raise SystemExit(f"{variant} loop failed: {proc.stderr.strip()[-500:]}")
    return float(proc.stdout.strip().splitlines()[-1])


def measure(epochs: int, rounds: int, threads: int) -> dict[tuple[str, str], list[float]]:
    results: dict[tuple[str, str], list[float]] = {v: [] for v in VARIANTS}
    order = list(VARIANTS)
    for r in range(rounds):
        k = r % len(order)
        for model, variant in order[k:] + order[:k]:
            if variant == "cli":
                rate = run_cli(model, epochs)
            else:
                rate = run_child(variant, model, epochs, threads)
            results[(model, variant)].append(rate)
        print(
            f"round {r + 1}/{rounds}: "
            + "  ".join(f"{m}-{v} {results[(m, v)][-1] / 1000:.1f}k" for m, v in VARIANTS)
            + f"  (load {os.getloadavg()[0]:.2f})",
            flush=True,
        )
    return results


def start_load(n: int) -> list[subprocess.Popen]:
    """``n`` processes that keep one core busy each until killed."""
    return [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(n)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # 60 epochs: an MLP run of 0.5 s on a fast machine (20 lasted 0.25 s, and the run's last
    # checkpoint write, inside the timed part, weighed as much as a tenth of it)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--load", type=int, default=0, help="busy background processes")
    parser.add_argument(
        "--loop-threads",
        type=int,
        default=0,
        help="torch threads of the hand-written loops (default: torch's own)",
    )
    parser.add_argument("--child", choices=("tight", "dataloader"), help=argparse.SUPPRESS)
    parser.add_argument("--model", choices=("mlp", "cnn"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(run_loop(args.child, args.model, args.epochs, args.loop_threads))
        return
    import torch

    load = start_load(args.load)
    try:
        time.sleep(1.0 if load else 0.0)
        print(
            f"torch {torch.__version__}, {os.cpu_count()} cores, default {torch.get_num_threads()}"
            f" torch threads; templates mlp and cnn, batch {BATCH}, Adam, {args.epochs} epochs, "
            f"{args.rounds} interleaved rounds, {args.load} busy processes, hand-written loops on "
            f"{args.loop_threads or 'default'} threads; "
            f"load average {os.getloadavg()[0]:.2f} at the start",
            flush=True,
        )
        results = measure(args.epochs, args.rounds, args.loop_threads)
    finally:
        for proc in load:
            proc.kill()
            proc.wait()
    med = {key: statistics.median(values) for key, values in results.items()}
    for (model, variant), values in results.items():
        print(
            f"{model} {variant:10} median {med[(model, variant)] / 1000:6.1f}k samples/s  "
            f"(min {min(values) / 1000:.1f}k, max {max(values) / 1000:.1f}k)"
        )
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print(
        f"ratio_vs_tight_mlp={med[('mlp', 'cli')] / med[('mlp', 'tight')]:.3f} "
        f"ratio_vs_tight_cnn={med[('cnn', 'cli')] / med[('cnn', 'tight')]:.3f} "
        f"ratio_vs_dataloader_mlp={med[('mlp', 'cli')] / med[('mlp', 'dataloader')]:.3f}"
    )


if __name__ == "__main__":
    main()
