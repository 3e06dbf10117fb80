"""Start-up as a person feels it, each variant in a fresh process (interleaved rounds, medians):

* ``import_torch``: ``python -c "import torch"`` — the reference the others are compared with;
* ``help``: ``main.py --help``;
* ``check``: ``main.py check resources/templates/cnn.json``;
* ``first_paint``: ``main.py`` (the editor on the MLP template, offscreen) from the process's
  launch to its main window's first painted frame (``DEEPWIRE_EXIT_AFTER_FIRST_PAINT``, which
  then quits); the line also says whether torch was loaded by then (it must not be);
* ``first_batch:<template>``: a warm window (shown, PyTorch loaded in the background, the
  warm-up done, the template open and its preparation idle), then Train is clicked; the time
  until the training panel receives the first batch's event. One process per template.

Rounds rotate the variants' order, so a burst of load from other processes does not fall on
one variant only. Run: ``python bench/bench_startup.py [--rounds N] [--templates mlp,cnn]``.
The last line reads ``check_s=<f> help_s=<f> window_first_paint_s=<f> first_batch_s_max=<f>``
(medians; the maximum over templates of each template's median).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATES = ("mlp", "cnn", "rnn", "lstm", "autoencoder", "gan", "som")
TIMEOUT_S = 300


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", **extra}


def _wall(argv: list[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {result.stderr.strip()[-400:]}")
    return seconds


def _first_paint() -> tuple[float, bool]:
    """Seconds from launch to the first painted frame, and whether torch was loaded by then."""
    with subprocess.Popen(
        [sys.executable, "main.py"],
        cwd=ROOT,
        env=_env(DEEPWIRE_EXIT_AFTER_FIRST_PAINT="1"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        launched = time.time()
        out, err = proc.communicate(timeout=TIMEOUT_S)
    fields = dict(
        f.split("=", 1)
        for line in out.splitlines()
        if "first_paint_wall=" in line
        for f in line.split()
    )
    if "first_paint_wall" not in fields:
        raise SystemExit(f"main.py did not report its first paint: {err.strip()[-400:]}")
    return float(fields["first_paint_wall"]) - launched, fields["torch_loaded"] == "True"


def _first_batch(template: str) -> float:
    result = subprocess.run(
        [sys.executable, __file__, "--child-first-batch", template],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("first_batch_s=")]
    if result.returncode != 0 or not lines:
        raise SystemExit(f"first batch of {template} failed: {result.stderr.strip()[-600:]}")
    return float(lines[-1].split("=", 1)[1])


def child_first_batch(template: str) -> None:
    """In a fresh process: a warm window on ``template``, then one Train click, timed."""
    sys.path.insert(0, str(ROOT))
    from PySide6.QtCore import QEventLoop, qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from engine.io import load_design
    from engine.training.events import BatchEvent, TrainStartEvent
    from gui.mainwindow import MainWindow
    from gui.torch_loader import torch_loader
    from resources import template_path

    qInstallMessageHandler(lambda *_a: None)
    app = QApplication.instance() or QApplication([])

    def spin_until(cond, limit_s: float) -> None:
        deadline = time.perf_counter() + limit_s
        while not cond() and time.perf_counter() < deadline:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            time.sleep(0.005)
        if not cond():
            raise SystemExit(f"timed out after {limit_s} s")

    window = MainWindow()
    window.resize(1400, 900)
    window.show()
    panel = window.training_panel
    panel.runner.warm_up()
    spin_until(torch_loader().is_ready, 120)
    spin_until(lambda: panel.runner.wait_warm_up(0.0), 120)
    spin_until(panel.runner.worker_settled, 300)  # the training process, when that is the path
    window.document.reset(load_design(template_path(template)), None)
    spin_until(lambda: panel.train_action.isEnabled() and not panel.preparing, 120)
    for _ in range(20):  # let the window settle (layout, first paints of the new design)
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    seen: list[float] = []
    started: list[float] = []

    def on_events(events) -> None:
        now = time.perf_counter()
        if not started and any(isinstance(e, TrainStartEvent) for e in events):
            started.append(now)
        if not seen and any(isinstance(e, BatchEvent) for e in events):
            seen.append(now)

    panel.runner.eventsReady.connect(on_events)
    clicked = time.perf_counter()
    panel.train_action.trigger()
    spin_until(lambda: bool(seen) or not panel.is_training, 120)
    if not seen:
        raise SystemExit(f"{template}: the run ended without a batch: {panel.error_label.text()}")
    setup = started[0] - clicked if started else float("nan")
    print(f"setup_s={setup:.4f}", flush=True)  # click → the run has its data and network
    print(f"first_batch_s={seen[0] - clicked:.4f}", flush=True)
    panel.shutdown(30)
    window.document.undo_stack.setClean()
    os._exit(0)  # skip the interpreter's teardown (as the editor does)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--templates", default=",".join(TEMPLATES))
    parser.add_argument("--child-first-batch", metavar="TEMPLATE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_first_batch:
        child_first_batch(args.child_first_batch)
        return
    templates = [t for t in args.templates.split(",") if t]
    py = sys.executable
    cnn = str(ROOT / "resources" / "templates" / "cnn.json")
    variants = {
        "import_torch": lambda: _wall([py, "-c", "import torch"]),
        "help": lambda: _wall([py, "main.py", "--help"]),
        "check": lambda: _wall([py, "main.py", "check", cnn]),
        "first_paint": _first_paint,
        **{f"first_batch:{t}": (lambda t=t: _first_batch(t)) for t in templates},
    }
    names = list(variants)
    results: dict[str, list[float]] = {name: [] for name in names}
    torch_at_paint = []
    print(f"load average at start: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            value = variants[name]()
            if name == "first_paint":
                value, loaded = value
                torch_at_paint.append(loaded)
            results[name].append(value)
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    med = {name: statistics.median(values) for name, values in results.items()}
    ref = med["import_torch"]
    print(f"{'variant':<24}{'median s':>10}{'min s':>9}{'max s':>9}{'÷ import torch':>16}")
    for name in names:
        values = results[name]
        print(
            f"{name:<24}{med[name]:>10.3f}{min(values):>9.3f}{max(values):>9.3f}"
            f"{med[name] / ref:>16.2f}"
        )
    print(f"torch loaded at first paint: {any(torch_at_paint)}")
    print(f"load average at end: {open('/proc/loadavg').read().split()[:3]}")
    batch = [med[f"first_batch:{t}"] for t in templates]
    print(
        f"check_s={med['check']:.3f} help_s={med['help']:.3f} "
        f"window_first_paint_s={med['first_paint']:.3f}"
        + (f" first_batch_s_max={max(batch):.3f}" if batch else "")
    )


if __name__ == "__main__":
    main()
