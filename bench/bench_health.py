"""Health on the canvas, what it costs: Train in the real main window with the health overlays on
vs off, on the same design.

* ``on``: as the app ships: the probe's extra statistics (dead ReLU units over a window,
  saturation, the weight copy for weight change), the canvas's health strips refreshed at the
  plots' rate, and View → Show Gradient Flow on Wires checked.
* ``off``: the strips' connection to the runner cut, the flow toggle off, and the probe's extras
  switched off (no dead / saturation statistic, no weight copy): the window as before the
  feature.

samples/s = epochs × training samples / the trainer's own ``elapsed_s`` (first batch to last
epoch). The variants run interleaved for ``--rounds`` rounds (order alternating), each figure a
median; ``--sample-every`` sets how often statistics are sampled (the window's default: 25 steps;
smaller is a harsher test). The last line reads ``health_overlay_ratio=…`` (on / off; target ≥
0.95).
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

from bench.bench_window_train import open_window, template, wait_for  # noqa: E402


def set_overlays(window, on: bool, saved: dict) -> None:
    """Switch the whole feature on or off (see the module's docstring)."""
    from engine.training import stats

    health = window.canvas_health
    runner = window.training_panel.runner
    if saved.get("on", True) == on:
        return
    saved["on"] = on
    if on:
        stats._kind = saved["kind"]
        stats.LayerProbe._weight_change = saved["change"]
        runner.eventsReady.connect(health.add_events)
    else:
        stats._kind = lambda _module: ""
        stats.LayerProbe._weight_change = lambda self, node_id, params: None
        runner.eventsReady.disconnect(health.add_events)
        health.clear()
    health.flow_action.setChecked(on)


def run(window, design) -> float:
    """Press Train; samples/s of the run."""
    panel = window.training_panel
    window.document.reset(design, None)
    panel.train_action.trigger()
    if not panel.is_training:
        raise RuntimeError(f"Train did not start: {panel.error_label.text()}")
    result = wait_for(panel.runFinished)[0]
    if not result.ok:
        raise RuntimeError(f"window run failed: {result.error}")
    s = result.summary
    return s.epochs_completed * s.n_train / max(s.elapsed_s, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--template", default="mlp")
    parser.add_argument("--epochs", type=int, default=50)  # runs of 1 s or more (5 lasted 0.1 s)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sample-every", type=int, default=25)
    args = parser.parse_args()
    window, _work = open_window("bench-health-")
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    from engine.training import stats

    saved = {"kind": stats._kind, "change": stats.LayerProbe._weight_change}
    window.canvas_health.flow_action.setChecked(True)
    design = template(args.template, args.epochs)
    design.training["sample_every"] = args.sample_every
    design.training["device"] = "cpu"
    print(
        f"{args.template}, {args.epochs} epochs, sample_every {args.sample_every}, "
        f"{os.cpu_count()} cores, load {open('/proc/loadavg').read().split()[:3]}; "
        f"{args.rounds} interleaved rounds (medians)",
        flush=True,
    )
    found: dict[str, list[float]] = {"on": [], "off": []}
    shown = 0
    try:
        for r in range(args.rounds):
            for variant in ("on", "off") if r % 2 == 0 else ("off", "on"):
                set_overlays(window, variant == "on", saved)
                found[variant].append(run(window, design))
                if variant == "on":
                    app.processEvents()
                    window.canvas_health.refresh()
                    shown = sum(1 for i in window.canvas.scene().nodes.values() if i.health)
                print(f"round {r + 1} {variant}: {found[variant][-1]:,.0f} samples/s", flush=True)
    finally:
        set_overlays(window, True, saved)
        window.training_panel.shutdown(10.0)
        window.document.undo_stack.setClean()
        window.close()
        window.deleteLater()
        app.processEvents()
    if shown == 0:
        raise RuntimeError("no health strip was shown in the 'on' runs")
    on, off = statistics.median(found["on"]), statistics.median(found["off"])
    print(f"on {on:,.0f} samples/s, off {off:,.0f} samples/s ({shown} nodes with strips)")
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}", flush=True)
    print(f"health_overlay_ratio={on / off:.3f}")


if __name__ == "__main__":
    main()
