"""Training throughput: the Trainer (callbacks on) vs a tight hand-written loop vs a DataLoader loop.

Targets (issue 3): trainer ≥ 0.97× the tight loop's samples/s (MLP and CNN) and ≥ 1.25× a
``DataLoader(TensorDataset)`` loop (MLP).

Workloads: digits, batch 64, Adam (lr 1e-3), EPOCHS epochs each:
* MLP 64-128-64-10 with ReLU on the 64 standardized pixels;
* the shipped CNN template (Conv16-BN-ReLU-Conv32-ReLU-MaxPool-Linear64-ReLU-Dropout-Linear10)
  on 1×8×8 images.

All three loops train the same compiled network (``compile_design``) on the same prepared data,
so only the loop differs:
* ``trainer``: ``Trainer.fit`` with a callback that queues every event (what the GUI runner does)
  and the default event batching (BatchEvent every 10 steps, layer statistics every 50), no
  checkpoint files. Timed from ``on_train_start`` to ``on_train_end``.
* ``tight``: tensors indexed by ``torch.randperm`` slices: zero_grad, forward, loss, backward, step.
* ``dataloader``: ``DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True)``, same step.
Like the trainer, both hand-written loops evaluate validation loss and accuracy after every epoch
(eval mode, no gradients), so all three do the same work.

``--clock cpu`` times with the process's CPU time instead of wall time: on a shared machine whose
load changes from second to second this is far steadier, and with ``--threads 1`` every loop runs
on the calling thread, so CPU time is the time the work took. Samples/s = epochs × training
samples / time.

The three run interleaved for ROUNDS rounds (order rotating), so a busy machine disturbs all of
them alike. Each loop's figure is its best round (as ``timeit`` advises: other processes only ever
slow a run down, so the fastest round is the closest to the loop's own cost); medians are printed
too. Run: ``python bench/bench_training.py [--epochs N]
[--rounds R] [--threads T]``. The last line reads
``ratio_vs_tight_mlp=<f> ratio_vs_tight_cnn=<f> ratio_vs_dataloader_mlp=<f>``.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from bench.designs import with_training  # noqa: E402
from engine.compile import compile_design  # noqa: E402
from engine.data import prepare_data  # noqa: E402
from engine.graph import Design, Edge, Node  # noqa: E402
from engine.io import load_design  # noqa: E402
from engine.training import Callback, TrainConfig, Trainer  # noqa: E402
from resources import template_path  # noqa: E402

BATCH = 64
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
clock = time.perf_counter


def mlp_design() -> Design:
    design = Design("bench MLP 64-128-64-10")
    layers = [
        ("x", "Input", {"shape": [64]}),
        ("h1", "Linear", {"out_features": 128}),
        ("r1", "ReLU", {}),
        ("h2", "Linear", {"out_features": 64}),
        ("r2", "ReLU", {}),
        ("logits", "Linear", {"out_features": 10}),
    ]
    for i, (node_id, type_id, params) in enumerate(layers):
        design.add_node(Node(node_id, type_id, params))
        if i:
            design.add_edge(Edge(layers[i - 1][0], node_id))
    design.data = {
        "source": "builtin",
        "name": "digits",
        "form": "flat",
        "preprocess": {"scale": "standard"},
    }
    return design


def cnn_design() -> Design:
    return load_design(template_path("cnn"))


class Queue(Callback):
    """What the GUI runner does: keep every event for another thread; time the run."""

    def __init__(self) -> None:
        self.events: collections.deque = collections.deque()

    def on_train_start(self, event) -> None:
        self.t0 = clock()

    def on_batch_end(self, event) -> None:
        self.events.append(event)

    def on_epoch_end(self, event) -> None:
        self.events.append(event)

    def on_train_end(self, summary) -> None:
        self.t1 = clock()


def run_trainer(design: Design, data, epochs: int) -> float:
    design = with_training(design, epochs, BATCH)
    queue = Queue()
    trainer = Trainer(design, TrainConfig.from_design(design), callbacks=[queue], data=data)
    trainer.fit()
    assert len(queue.events) > epochs
    return epochs * len(data.x_train) / (queue.t1 - queue.t0)


def _fresh(design: Design, data):
    torch.manual_seed(0)
    model = compile_design(design)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train)
    return model, opt, x, y


def validate(model, data) -> tuple[float, float]:
    """Validation loss and accuracy, as a hand-written loop would report each epoch."""
    model.eval()
    with torch.no_grad():
        x, y = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
        out = model(x)
        loss, acc = float(F.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())
    model.train()
    return loss, acc


def run_tight(design: Design, data, epochs: int) -> float:
    model, opt, x, y = _fresh(design, data)
    n = len(x)
    t0 = clock()
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, BATCH):
            idx = perm[i : i + BATCH]
            loss = F.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        validate(model, data)
    return epochs * n / (clock() - t0)


def run_dataloader(design: Design, data, epochs: int) -> float:
    model, opt, x, y = _fresh(design, data)
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    t0 = clock()
    for _ in range(epochs):
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        validate(model, data)
    return epochs * len(x) / (clock() - t0)


def measure(
    name: str, design: Design, data, epochs: int, rounds: int, with_dataloader: bool
) -> dict[str, float]:
    runners = {"trainer": run_trainer, "tight": run_tight}
    if with_dataloader:
        runners["dataloader"] = run_dataloader
    results: dict[str, list[float]] = {k: [] for k in runners}
    order = list(runners)
    run_tight(design, data, 1)  # warm-up: allocator, kernels
    for r in range(rounds):
        for key in order[r % len(order) :] + order[: r % len(order)]:
            results[key].append(runners[key](design, data, epochs))
    best = {k: max(v) for k, v in results.items()}
    for key, values in results.items():
        spread = ", ".join(f"{v / 1000:.1f}k" for v in values)
        print(
            f"{name:4} {key:10} best {best[key] / 1000:6.1f}k  median "
            f"{statistics.median(values) / 1000:6.1f}k samples/s  ({spread})"
        )
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall")
    args = parser.parse_args()
    global clock
    clock = CLOCKS[args.clock]
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock, "
        f"batch {BATCH}, Adam, {args.epochs} epochs, {args.rounds} interleaved rounds"
    )
    mlp = mlp_design()
    mlp_data = prepare_data(mlp.data, seed=0)
    cnn = cnn_design()
    cnn_data = prepare_data(cnn.data, seed=0)
    m = measure("MLP", mlp, mlp_data, args.epochs, args.rounds, with_dataloader=True)
    c = measure("CNN", cnn, cnn_data, args.epochs, args.rounds, with_dataloader=False)
    print(
        f"ratio_vs_tight_mlp={m['trainer'] / m['tight']:.3f} "
        f"ratio_vs_tight_cnn={c['trainer'] / c['tight']:.3f} "
        f"ratio_vs_dataloader_mlp={m['trainer'] / m['dataloader']:.3f}"
    )


if __name__ == "__main__":
    main()
