"""Editor training throughput: the GUI's TrainingRunner vs a command-line style main-thread fit.

What the editor does when you press Train: ``gui.runner.TrainingRunner`` runs ``Trainer.fit`` in a
worker thread (torch limited to ``worker_threads()`` threads) while the GUI thread drains the
event buffer on a 20 Hz timer and redraws the live plots. This benchmark measures what that costs
against ``Trainer.fit`` on the main thread, as ``python main.py train`` runs it.

Workloads (digits, batch 64, Adam, as bench/bench_training.py): the MLP 64-128-64-10 and the
shipped CNN template, ``--epochs`` each (default 20 MLP / 5 CNN). Every variant trains the same
design on the same prepared data, and every figure is samples/s = epochs × training samples /
the trainer's own ``elapsed_s`` (first batch to last epoch, evaluation included, data loading
excluded), so only where and how the loop runs differs:

* ``main``: ``Trainer.fit`` on the main thread with torch's default thread count (the CLI);
* ``main-1t``: the same with ``torch.set_num_threads(1)``;
* ``runner``: ``TrainingRunner`` with a receiver that only counts the drained events;
* ``window``: the real main window (offscreen, 1600×1000) training through its training panel,
  with the training layout applied as Train applies it (the Plots dock in view, so the plots
  are really painted), with the panel's defaults (layer statistics every 10 steps).
  ``bench/bench_window_train.py`` presses the Train button itself and also times the GUI
  thread's latency and the redraws.

The variants run interleaved for ``--rounds`` rounds (order rotating) and each figure is the
median. The last line reads ``runner_ratio_mlp=<f> runner_ratio_cnn=<f>``: the window's
samples/s over the faster of the two main-thread variants — the conservative comparison.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench import designs  # noqa: E402
from engine.data import prepare_data  # noqa: E402
from engine.graph import Design, Edge, Node  # noqa: E402
from engine.io import load_design  # noqa: E402
from engine.training import TrainConfig, Trainer  # noqa: E402
from engine.training.summary import RunSummary  # noqa: E402
from resources import template_path  # noqa: E402

BATCH = 64


def mlp_design() -> Design:
    design = Design("bench MLP 64-128-64-10")
    layers = [
        ("x", "Input", {"shape": [64]}),
        ("h1", "Linear", {"out_features": 128}),
        ("r1", "ReLU", {}),
        ("h2", "Linear", {"out_features": 64}),
        ("r2", "ReLU", {}),
        ("logits", "Linear", {"out_features": 10}),
        ("out", "Output", {}),
    ]
    for i, (node_id, type_id, params) in enumerate(layers):
        design.add_node(Node(node_id, type_id, params, (240.0 * i, 0.0)))
        if i:
            design.add_edge(Edge(layers[i - 1][0], node_id))
    design.data = {
        "source": "builtin",
        "name": "digits",
        "form": "flat",
        "preprocess": {"scale": "standard"},
    }
    return design


def with_training(design: Design, epochs: int) -> Design:
    return designs.with_training(design, epochs, BATCH)


def rate(summary: RunSummary, epochs: int, n_train: int) -> float:
    return epochs * n_train / max(summary.elapsed_s, 1e-9)


def run_main(design: Design, data, epochs: int, threads: int | None) -> float:
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        summary = Trainer(design, TrainConfig.from_design(design), data=data).fit()
    finally:
        torch.set_num_threads(before)
    return rate(summary, epochs, len(data.x_train))


def _wait(signal, timeout_ms: int = 600_000) -> list:
    """Run the event loop until ``signal`` fires; returns its arguments."""
    loop = QEventLoop()
    got: list = []
    signal.connect(lambda *args: (got.extend(args), loop.quit()))
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()
    if not got:
        raise RuntimeError("the run did not finish in time")
    return got


def run_runner(design: Design, data, epochs: int) -> float:
    from gui.runner import TrainingRunner

    runner = TrainingRunner()
    counted = [0]
    runner.eventsReady.connect(lambda events: counted.__setitem__(0, counted[0] + len(events)))
    runner.start(design, data=data)
    result = _wait(runner.finished)[0]
    runner.shutdown()
    runner.deleteLater()
    if not result.ok or counted[0] <= epochs:
        raise RuntimeError(f"runner run failed: {result.error}")
    return rate(result.summary, epochs, len(data.x_train))


def run_window(window, design: Design, data, epochs: int) -> float:
    window.document.reset(design, None)
    window.apply_training_layout()  # as the Train button: the Plots dock in view, painted
    panel = window.training_panel
    if not panel.train(data=data):
        raise RuntimeError(panel.error_label.text())
    result = _wait(panel.runFinished)[0]
    if not result.ok:
        raise RuntimeError(f"window run failed: {result.error}")
    if not window.plots.step_series:
        raise RuntimeError("the plots received nothing")
    return rate(result.summary, epochs, len(data.x_train))


def measure(name: str, window, design: Design, data, epochs: int, rounds: int) -> dict[str, float]:
    design = with_training(design, epochs)
    variants = {
        "main": lambda: run_main(design, data, epochs, None),
        "main-1t": lambda: run_main(design, data, epochs, 1),
        "runner": lambda: run_runner(design, data, epochs),
        "window": lambda: run_window(window, design, data, epochs),
    }
    results: dict[str, list[float]] = {k: [] for k in variants}
    order = list(variants)
    run_main(with_training(design, 1), data, 1, None)  # warm-up: allocator, kernels
    run_runner(with_training(design, 1), data, 1)
    for r in range(rounds):
        for key in order[r % len(order) :] + order[: r % len(order)]:
            results[key].append(variants[key]())
    medians = {k: statistics.median(v) for k, v in results.items()}
    base = medians["main"]
    for key, values in results.items():
        spread = ", ".join(f"{v / 1000:.1f}k" for v in values)
        print(
            f"{name:4} {key:8} median {medians[key] / 1000:7.2f}k samples/s  "
            f"x{medians[key] / base:5.2f} of main  ({spread})",
            flush=True,
        )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs-mlp", type=int, default=20)
    parser.add_argument("--epochs-cnn", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.document import Document
    from gui.mainwindow import MainWindow
    from gui.runner import worker_threads

    print(
        f"torch {torch.__version__}, {os.cpu_count()} cores, main thread: "
        f"{torch.get_num_threads()} torch threads, runner: {worker_threads()}; batch {BATCH}, "
        f"Adam; {args.rounds} interleaved rounds (medians)",
        flush=True,
    )
    window = MainWindow(Document())
    window.resize(1600, 1000)
    window.show()
    app.processEvents()
    mlp = mlp_design()
    cnn = load_design(template_path("cnn"))
    m = measure("MLP", window, mlp, prepare_data(mlp.data, seed=0), args.epochs_mlp, args.rounds)
    c = measure("CNN", window, cnn, prepare_data(cnn.data, seed=0), args.epochs_cnn, args.rounds)
    window.document.undo_stack.setClean()
    window.close()
    print(
        f"runner_ratio_mlp={m['window'] / max(m['main'], m['main-1t']):.3f} "
        f"runner_ratio_cnn={c['window'] / max(c['main'], c['main-1t']):.3f}"
    )


if __name__ == "__main__":
    main()
