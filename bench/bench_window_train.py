"""The window's training speed as a user feels it: Train pressed in the real main window, with
the Plots dock in front, against ``python main.py train`` on the same design.

What runs:

* ``cli``: ``python main.py train DESIGN --epochs N --out DIR`` in a fresh process (its
  checkpoints and metrics written, as a user runs it); samples/s from its ``summary.json``.
* ``thread``: the real :class:`gui.mainwindow.MainWindow` (offscreen, at its natural default
  size, default docks, run folders written like the app's) with the design open, its runner on
  the thread path (``TrainingRunner.where = "thread"``); the bench triggers the Train action,
  which applies the training layout (Plots dock visible and tall enough), and waits for the run
  to end. samples/s = epochs × training samples / the trainer's own ``elapsed_s`` (first batch
  to last epoch, evaluation included, data loading excluded) for all variants, so only where
  and how the loop runs differs.
* ``process``: the same window and Train press, the runner on the process path: the run goes to
  the warm training process (spawned and ready before the rounds, as the app spawns it after
  torch has loaded), whose events the same plots draw.

While the window trains, the bench records what a user notices: the lateness of a 10 ms
:class:`QTimer` on the GUI thread (p99 and max, between the first batch and the end), how often
the loss curve gets new data (Hz), how many times the plots' viewport is painted (must be > 0:
the plots are really drawn), and Train click → first batch event (s).

Then the long-run redraw: the window's plots are fed synthetic events worth ``--long-steps``
(default 1,000,000) logged steps, and one redraw (new data in, then a full repaint of the plots'
viewport) is timed, median of ``--redraws``; the same at 1,000 steps for comparison.

Templates: ``mlp`` and ``cnn`` (digits, built in), ``--epochs-mlp``/``--epochs-cnn`` epochs
(default 100 and 16: runs of 1–4 s, long enough that the timer figures describe the run rather
than its first and last events). The variants run interleaved for ``--rounds`` rounds (order
rotating) and every figure is a median.
The last line reads ``first_batch_s_mlp=… first_batch_s_cnn=… latency_p99_ms=…
gui_ratio_mlp=… gui_ratio_cnn=… redraw_1m_ms=…`` for the window's default path
(``gui.runner.DEFAULT_TRAIN_IN``; latency: the worse template's median p99); the line before it
gives the same figures for both paths side by side.
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

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TIMER_MS = 10


def cli_run(design_path: Path, epochs: int, out: Path) -> float:
    """samples/s of ``main.py train`` (a fresh process, files written)."""
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "main.py"),
            "train",
            str(design_path),
            "--epochs",
            str(epochs),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"main.py train failed: {proc.stderr.strip().splitlines()[-1:]}")
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    return epochs * summary["n_train"] / max(summary["elapsed_s"], 1e-9)


class Watch:
    """What the GUI thread feels during a run: timer lateness, curve updates, paints."""

    def __init__(self, window) -> None:
        from PySide6.QtCore import QEvent, QObject, Qt, QTimer

        self.window = window
        self.ticks: list[float] = []
        self.curve_updates = 0
        self.paints = 0
        self.first_batch: float | None = None
        self.t0 = time.perf_counter()
        self.t_end: float | None = None
        self._curves: set[int] = set()
        self.timer = QTimer()
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        watch = self

        class Painted(QObject):
            def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
                if event.type() == QEvent.Type.Paint:
                    watch.paints += 1
                return False

        self.filter = Painted()
        window.plots.view.viewport().installEventFilter(self.filter)

    def start(self) -> None:
        self.t0 = time.perf_counter()
        self.timer.start(TIMER_MS)

    def on_events(self, events) -> None:
        from engine.training.events import BatchEvent

        if self.first_batch is None and any(isinstance(e, BatchEvent) for e in events):
            self.first_batch = time.perf_counter()
        self.hook_curve()

    def hook_curve(self) -> None:
        curve = self.window.plots.step_curves.get("loss")
        if curve is not None and id(curve) not in self._curves:
            self._curves.add(id(curve))
            curve.sigPlotChanged.connect(self._curve_changed)

    def _curve_changed(self, *_args) -> None:
        if self.first_batch is not None:
            self.curve_updates += 1

    def stop(self) -> dict[str, float]:
        self.t_end = time.perf_counter()
        self.timer.stop()
        self.window.plots.view.viewport().removeEventFilter(self.filter)
        start = self.first_batch or self.t0
        # the run's start and end bound the first and last gap: a GUI thread that never got
        # to its timer shows as one long gap, not as none
        ticks = [start] + [t for t in self.ticks if t >= start] + [self.t_end]
        late = sorted(max(0.0, (b - a) * 1000 - TIMER_MS) for a, b in zip(ticks, ticks[1:]))
        if not late:
            late = [0.0]
        span = max(self.t_end - start, 1e-9)
        return {
            "first_batch_s": (self.first_batch or self.t_end) - self.t0,
            "p99_ms": late[min(len(late) - 1, int(0.99 * len(late)))],
            "max_ms": late[-1],
            "ticks_hz": (len(ticks) - 2) / span,  # 100 when the GUI thread is never late
            "curve_hz": self.curve_updates / span,
            "paints": float(self.paints),
            "paints_hz": self.paints / span,
        }


def wait_for(signal, timeout_s: float = 1800) -> list:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    got: list = []
    signal.connect(lambda *args: (got.extend(args), loop.quit()))
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    loop.exec()
    if not got:
        raise RuntimeError("the run did not finish in time")
    return got


def wait_for_torch(window, timeout_s: float = 300) -> None:
    """The window imports torch in the background after its first paint: Train waits for it."""
    from PySide6.QtWidgets import QApplication

    loader = window.training_panel.loader
    loader.start()
    end = time.perf_counter() + timeout_s
    while not loader.is_ready():
        if loader.error or time.perf_counter() > end:
            raise RuntimeError(f"torch did not load: {loader.error or 'timed out'}")
        QApplication.processEvents()
        time.sleep(0.02)
    QApplication.processEvents()


def open_window(prefix: str):
    """The real main window as the app opens it, shown, torch loaded, its settings, data and
    run folders in a new temporary folder (its path is returned with the window)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["DEEPWIRE_DATA_DIR"] = str(work / "data")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(sys.argv[:1])
    from gui.document import Document
    from gui.mainwindow import MainWindow

    settings = QSettings(str(work / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(Document(), settings=settings)
    window.training_panel.runs_dir = work / "runs"  # as the app does: run folders written
    window.show()
    app.processEvents()
    wait_for_torch(window)
    return window, work


def gui_run(window, design, epochs: int, where: str = "thread") -> dict[str, float]:
    """Press Train in the window (the run in a thread or the training process); samples/s and
    what the GUI thread felt."""
    panel = window.training_panel
    panel.runner.where = where
    if where == "process" and not panel.runner.wait_worker(300):
        raise RuntimeError("the training process is not ready")
    window.document.reset(design, None)
    watch = Watch(window)
    panel.runner.eventsReady.connect(watch.on_events)
    watch.start()
    panel.train_action.trigger()  # the Train button: the training layout, the Plots in front
    if not panel.is_training:
        raise RuntimeError(f"Train did not start: {panel.error_label.text()}")
    if not window.plots_dock.isVisible() or window.plots.view.height() < 200:
        raise RuntimeError("the Plots dock is not in view")
    result = wait_for(panel.runFinished)[0]
    figures = watch.stop()
    panel.runner.eventsReady.disconnect(watch.on_events)
    if not result.ok:
        raise RuntimeError(f"window run failed: {result.error}")
    figures["samples_s"] = epochs * result.summary.n_train / max(result.summary.elapsed_s, 1e-9)
    return figures


def long_run_redraw(window, steps: int, redraws: int) -> float:
    """One redraw (new data in, then a full repaint) after ``steps`` logged steps, in ms."""
    import numpy as np

    from engine.training.events import BatchEvent, LayerStats

    plots = window.plots
    design = window.document.design
    plots.prepare_run(design, "classification")
    layers = [n.id for n in design][1:-1]
    stats = {i: LayerStats(0.1, 1.0, 0.2) for i in layers}
    per_event, bpe = 25, 1000
    rng = np.random.default_rng(0)
    losses = 2.0 * np.exp(-np.arange(steps + per_event * redraws) / steps * 5)
    losses += rng.normal(scale=0.05, size=len(losses))

    def event(i: int) -> BatchEvent:
        steps_here = list(range(i + 1, i + per_event + 1))
        sampled = i % 100 == 0
        return BatchEvent(
            epoch=i // bpe,
            step=i + per_event,
            batch=(i + per_event) % bpe,
            batches_per_epoch=bpe,
            steps=steps_here,
            losses={"loss": losses[i : i + per_event].tolist()},
            lr=1e-3,
            samples_per_s=1e5,
            activation_stats=stats if sampled else None,
            grad_norms={k: 0.5 for k in layers} if sampled else None,
        )

    chunk = []
    for i in range(0, steps, per_event):
        chunk.append(event(i))
        if len(chunk) == 2000:
            plots.add_events(chunk)
            chunk = []
    if chunk:
        plots.add_events(chunk)
    plots.flush()
    viewport = plots.view.viewport()
    viewport.repaint()
    times = []
    for r in range(redraws):
        plots.add_events([event(steps + r * per_event)])
        t0 = time.perf_counter()
        plots.flush()
        viewport.repaint()
        times.append((time.perf_counter() - t0) * 1000)
    if plots.step_series["loss"].n < steps:
        raise RuntimeError("the plots did not take the synthetic steps")
    return statistics.median(times)


def template(name: str, epochs: int):
    from engine.io import load_design
    from resources import template_path

    design = load_design(template_path(name))
    design.training = dict(design.training, epochs=epochs)
    return design


def measure(window, name: str, epochs: int, rounds: int, work: Path, paths: list[str]) -> dict:
    from engine.io import save_design

    design = template(name, epochs)
    path = work / f"{name}.json"
    save_design(design, path)
    variants = {"cli": lambda r: {"samples_s": cli_run(path, epochs, work / f"{name}-cli-{r}")}}
    for where in paths:
        variants[where] = lambda r, w=where: gui_run(window, template(name, epochs), epochs, w)
    for where in paths:  # warm-up: imports, allocator, kernels (in each process)
        gui_run(window, template(name, 1), 1, where)
    results: dict[str, list[dict]] = {k: [] for k in variants}
    order = list(variants)
    for r in range(rounds):
        for key in order[r % len(order) :] + order[: r % len(order)]:
            results[key].append(variants[key](r))
    medians = {
        key: {f: statistics.median(run[f] for run in runs) for f in runs[0]}
        for key, runs in results.items()
    }
    cli = medians["cli"]["samples_s"]
    for key, m in medians.items():
        spread = ", ".join(f"{run['samples_s'] / 1000:.1f}k" for run in results[key])
        extra = ""
        if "p99_ms" in m:
            extra = (
                f"  first batch {m['first_batch_s']:.2f} s  timer late p99 {m['p99_ms']:.0f} ms"
                f" max {m['max_ms']:.0f} ms ({m['ticks_hz']:.0f} ticks/s)  curve {m['curve_hz']:.1f} Hz"
                f"  paints {m['paints']:.0f} ({m['paints_hz']:.1f}/s)"
            )
        print(
            f"{name:4} {key:8} {m['samples_s'] / 1000:7.2f}k samples/s  x{m['samples_s'] / cli:5.2f}"
            f" of cli ({spread}){extra}",
            flush=True,
        )
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # runs of a second or more on a fast machine (0.3 s runs measured mostly their start and end)
    parser.add_argument("--epochs-mlp", type=int, default=100)
    parser.add_argument("--epochs-cnn", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--long-steps", type=int, default=1_000_000)
    parser.add_argument("--redraws", type=int, default=9)
    parser.add_argument(
        "--paths", default="thread,process", help="the window's training paths to compare"
    )
    args = parser.parse_args()
    window, work = open_window("bench-window-train-")
    from PySide6.QtWidgets import QApplication

    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if "process" in paths:
        window.training_panel.runner.warm_up()  # as the app does after its first paint
    size = window.size()
    print(
        f"window {size.width()}×{size.height()}, {os.cpu_count()} cores, load "
        f"{open('/proc/loadavg').read().split()[:3]}; {args.rounds} interleaved rounds (medians)",
        flush=True,
    )
    found = {}
    for name, epochs in (("mlp", args.epochs_mlp), ("cnn", args.epochs_cnn)):
        found[name] = measure(window, name, epochs, args.rounds, work, paths)
        if any(found[name][p]["paints"] <= 0 for p in paths):
            raise RuntimeError("the plots were never painted")
    window.document.reset(template("mlp", 1), None)
    short = long_run_redraw(window, 1000, args.redraws)
    long = long_run_redraw(window, args.long_steps, args.redraws)
    print(f"one redraw: {short:.1f} ms after 1k steps, {long:.1f} ms after {args.long_steps:,}")
    window.training_panel.shutdown(10.0)
    window.document.undo_stack.setClean()
    window.close()
    window.deleteLater()  # gone before the application: no teardown in the wrong order
    QApplication.processEvents()
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}", flush=True)

    def line(where: str, prefix: str = "") -> str:
        ratio = {k: v[where]["samples_s"] / v["cli"]["samples_s"] for k, v in found.items()}
        p99 = max(v[where]["p99_ms"] for v in found.values())
        return (
            f"{prefix}first_batch_s_mlp={found['mlp'][where]['first_batch_s']:.2f} "
            f"{prefix}first_batch_s_cnn={found['cnn'][where]['first_batch_s']:.2f} "
            f"{prefix}latency_p99_ms={p99:.1f} {prefix}gui_ratio_mlp={ratio['mlp']:.3f} "
            f"{prefix}gui_ratio_cnn={ratio['cnn']:.3f}"
        )

    print("  ".join(line(where, f"{where}_") for where in paths))
    from gui.runner import DEFAULT_TRAIN_IN

    default = DEFAULT_TRAIN_IN if DEFAULT_TRAIN_IN in paths else paths[0]
    print(f"{line(default)} redraw_1m_ms={long:.1f}")


if __name__ == "__main__":
    main()
