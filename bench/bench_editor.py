"""The editor canvas on a 5,000-node design: open + first paint, one parameter edit, pan/zoom frames.

Targets (issue 5): open and paint ≤ 2 s; one parameter edit updates shapes on screen in ≤ 20 ms of
work; panning or zooming repaints in ≤ 33 ms per frame. Qt renders offscreen into a 1600×1000
viewport (``QT_QPA_PLATFORM=offscreen``), so the figures are CPU rasterisation, as on a machine
without GPU acceleration for QPainter.

The design (5,001 nodes, 5,714 edges: ``bench.designs.residual_cnn``, the one bench_shapes
measures) is a deep residual CNN of 714 blocks (Conv2d → BatchNorm2d → ReLU → Conv2d →
BatchNorm2d → Add(skip) → ReLU), laid out in rows of ten blocks, read from a file.

* ``open_paint_s``: ``Document.open(path)`` (parse + full analysis) + ``CanvasView`` (all items) +
  show + fit to the whole design + the first paint of the viewport.
* ``edit_ms``: push one ``SetParam`` (incremental analysis, refresh of the affected items only)
  and process events until the dirty region is repainted, at 100 % zoom on the edited node.
  Side by side: the same edit done naively (full re-analysis + canvas rebuild + repaint).
* ``frame_ms``: the slowest scenario's median frame (pan by 40 px or zoom by 1.1× followed by a
  synchronous repaint of the whole viewport) among: 100 % zoom, 35 % zoom (one-pass overview),
  and the whole design fitted.

Every figure is a median over repeats, given as the GUI thread's CPU time (the work done: this
machine is shared, so elapsed time also holds waits for a core) and as wall time beside it.

Run: ``python bench/bench_editor.py``. The last line reads
``open_paint_s=<f> edit_ms=<f> frame_ms=<f>`` (CPU-time medians; frame = the slowest scenario).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.designs import BLOCKS, residual_cnn  # noqa: E402
from engine.io import save_design  # noqa: E402
from gui.commands import SetParam  # noqa: E402

SIZE = (1600, 1000)


class Clock:
    """Wall time and this thread's CPU time of one measured stretch, in milliseconds.

    The GUI thread does all the work measured here (parsing, analysis, items, QPainter raster),
    so its CPU time is the work itself; on a shared machine the wall time also contains waits
    for a core, which is why both are reported.
    """

    def __init__(self) -> None:
        self.wall = time.perf_counter()
        self.cpu = time.thread_time()

    def stop(self) -> tuple[float, float]:
        return (
            (time.perf_counter() - self.wall) * 1000.0,
            (time.thread_time() - self.cpu) * 1000.0,
        )


def open_and_paint(app: QApplication, path: Path):
    """One cold open: returns (seconds, view)."""
    from gui.canvas import CanvasView
    from gui.document import Document

    clock = Clock()
    doc = Document()
    doc.open(path)
    view = CanvasView(doc)
    view.resize(*SIZE)
    view.show()
    app.processEvents()
    view.fit()
    view.viewport().repaint()
    return clock.stop(), view


def frames(app: QApplication, view, kind: str, n: int = 36) -> list[tuple[float, float]]:
    """(wall, cpu) of ``n`` pans by 40 px (alternating direction) or zooms by 1.1× (in, out)."""
    out = []
    for i in range(n):
        clock = Clock()
        if kind == "pan":
            d = 40 if (i // 6) % 2 == 0 else -40
            view.pan_by(d, d // 2)
        else:
            view.zoom_by(1.1 if (i // 3) % 2 == 0 else 1 / 1.1)
        view.viewport().repaint()
        out.append(clock.stop())
    app.processEvents()
    return out


def main() -> None:
    app = QApplication.instance() or QApplication([])
    design = residual_cnn()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        save_design(design, path)
        took, view = open_and_paint(app, path)
        opens = [took]
        for _ in range(4):
            view.close()
            view.deleteLater()
            app.processEvents()
            took, view = open_and_paint(app, path)
            opens.append(took)
    doc = view.document
    scene = view.scene()
    assert len(scene.nodes) == len(design) and len(scene.edges) == len(design.edges)
    assert doc.analysis.valid

    # -- one parameter edit, at 100 % on the edited node --------------------------------------
    view.set_zoom(1.0)
    edit, naive = [], []
    for i in range(21):
        target = f"b{(i * 97) % BLOCKS}_conv1"
        view.center_on_node(target)
        view.viewport().repaint()
        app.processEvents()
        clock = Clock()
        doc.push(SetParam(doc, target, "bias", False))
        app.processEvents()  # repaints the dirty region
        edit.append(clock.stop())
        assert scene.nodes[target].params_text == "2,304 parameters"
        doc.undo_stack.undo()
        app.processEvents()
    for i in range(3):
        target = f"b{(i * 97) % BLOCKS}_conv1"
        clock = Clock()
        doc.design.set_param(target, "bias", False)
        doc.analysis.run()
        scene.rebuild()
        view.viewport().repaint()
        naive.append(clock.stop())
        doc.design.set_param(target, "bias", None)
    doc.analysis.run()
    scene.rebuild()

    # -- pan and zoom frames ------------------------------------------------------------------
    results = {}
    for label, setup in (
        ("100%", lambda: view.set_zoom(1.0)),
        ("35%", lambda: view.set_zoom(0.35)),
        ("fit", view.fit),
    ):
        setup()
        view.center_on_node("b357_conv1") if label != "fit" else None
        view.viewport().repaint()
        for kind in ("pan", "zoom"):
            results[(label, kind)] = frames(app, view, kind)

    def med(pairs, which: int) -> float:
        return statistics.median(p[which] for p in pairs)

    print(
        f"nodes={len(design)} edges={len(design.edges)} viewport={SIZE[0]}x{SIZE[1]} "
        f"platform={app.platformName()}; medians; cpu = GUI-thread CPU time, wall = elapsed"
    )
    open_cpu, open_wall = med(opens, 1) / 1000, med(opens, 0) / 1000
    print(
        f"open + first paint: cpu {open_cpu:6.3f} s, wall {open_wall:6.3f} s of {len(opens)} "
        f"(target 2 s, ratio {open_cpu / 2:.2f})"
    )
    edit_cpu, edit_wall, naive_cpu = med(edit, 1), med(edit, 0), med(naive, 1)
    print(
        f"parameter edit:     cpu {edit_cpu:6.2f} ms, wall {edit_wall:6.2f} ms (target 20 ms, "
        f"ratio {edit_cpu / 20:.2f}); naive re-analysis + rebuild: cpu {naive_cpu:.0f} ms, "
        f"{naive_cpu / edit_cpu:.0f}× the incremental edit"
    )
    worst = 0.0
    for (label, kind), times in results.items():
        cpu, wall = med(times, 1), med(times, 0)
        worst = max(worst, cpu)
        print(
            f"{kind:4s} frame @ {label:4s}:   cpu {cpu:6.2f} ms, wall {wall:6.2f} ms, "
            f"slowest wall {max(t[0] for t in times):6.2f} ms (target 33 ms, ratio {cpu / 33:.2f})"
        )
    print(f"open_paint_s={open_cpu:.3f} edit_ms={edit_cpu:.2f} frame_ms={worst:.2f}")


if __name__ == "__main__":
    main()
