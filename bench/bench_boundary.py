"""The live decision boundary, what it costs: Train a moons classifier in the real main window
with the boundary on vs off.

* ``on``: as the app ships: each epoch's evaluation also computes the class probabilities on the
  64 × 64 grid (engine/insight/boundary.py) and the plots draw it under the training points.
* ``off``: the loop never computes a grid (``engine.training.loops.shows_boundary`` answers
  False), so nothing is sent or drawn: the window as before the feature.

samples/s = epochs × training samples / the trainer's own ``elapsed_s`` (first batch to last
epoch). The variants run interleaved for ``--rounds`` rounds (order alternating), each figure a
median. Moons epochs are short (a grid per epoch is the harshest rate the feature has). The last
line reads ``boundary_overlay_ratio=…`` (on / off; target ≥ 0.95).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The "off" variant patches engine objects in this process: train in the window's thread path,
# where the patch reaches the trainer (and where overlays cost training the most: one GIL).
os.environ["DEEPWIRE_TRAIN_IN"] = "thread"
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_health import run  # noqa: E402
from bench.bench_window_train import open_window  # noqa: E402


def moons_design(epochs: int, n_samples: int):
    """A small MLP on the built-in moons (2 features, 2 classes), as a user would build it."""
    from tests.engine.builders import chain

    design = chain(
        ("points", "Input", {"shape": [2]}),
        ("hidden1", "Linear", {"out_features": 16}),
        ("act1", "Tanh"),
        ("hidden2", "Linear", {"out_features": 16}),
        ("act2", "Tanh"),
        ("logits", "Linear", {"out_features": 2}),
    )
    design.name = "moons"
    design.data = {
        "source": "builtin",
        "name": "moons",
        "options": {"n_samples": n_samples},
        "split": {"val": 0.2, "test": 0.0},
        "preprocess": {"scale": "standard"},
    }
    design.training = {
        "task": "classification",
        "epochs": epochs,
        "batch_size": 32,
        "lr": 0.03,
        "device": "cpu",
    }
    return design


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=100)  # runs of 2 s or more (20: 0.4 s)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    window, _work = open_window("bench-boundary-")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    from engine.training import loops
    from gui.plots import family

    drawn = [0]
    draw = family.draw_boundary

    def counted(*a, **k):
        drawn[0] += 1
        return draw(*a, **k)

    family.draw_boundary = counted
    shows = loops.shows_boundary
    design = moons_design(args.epochs, args.samples)
    print(
        f"moons ({args.samples} samples), {args.epochs} epochs, {os.cpu_count()} cores, "
        f"load {open('/proc/loadavg').read().split()[:3]}; {args.rounds} interleaved rounds "
        "(medians)",
        flush=True,
    )
    found: dict[str, list[float]] = {"on": [], "off": []}
    try:
        for r in range(args.rounds):
            for variant in ("on", "off") if r % 2 == 0 else ("off", "on"):
                loops.shows_boundary = shows if variant == "on" else (lambda *_a: False)
                found[variant].append(run(window, design))
                print(f"round {r + 1} {variant}: {found[variant][-1]:,.0f} samples/s", flush=True)
    finally:
        loops.shows_boundary = shows
        window.training_panel.shutdown(10.0)
        window.document.undo_stack.setClean()
        window.close()
        window.deleteLater()
        app.processEvents()
    if drawn[0] == 0:
        raise RuntimeError("no boundary was drawn in the 'on' runs")
    on, off = statistics.median(found["on"]), statistics.median(found["off"])
    print(f"on {on:,.0f} samples/s, off {off:,.0f} samples/s ({drawn[0]} boundaries drawn)")
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    print(f"boundary_overlay_ratio={on / off:.3f}")


if __name__ == "__main__":
    main()
