"""The editor canvas on a 5,000-node design: open + first paint, one parameter edit, pan/zoom frames.

Targets (issue 5): open and paint ≤ 2 s; one parameter edit updates shapes on screen in ≤ 20 ms of
work; panning or zooming repaints in ≤ 33 ms per frame. Qt renders offscreen into a 1600×1000
viewport (``QT_QPA_PLATFORM=offscreen``), so the figures are CPU rasterisation, as on a machine
without GPU acceleration for QPainter.

The design (5,001 nodes, 5,715 edges) is a deep residual CNN of 714 blocks (Conv2d → BatchNorm2d →
ReLU → Conv2d → BatchNorm2d → Add(skip) → ReLU), laid out in rows of ten blocks, read from a file.

* ``open_paint_s``: ``Document.open(path)`` (parse + full analysis) + ``CanvasView`` (all items) +
  show + fit to the whole design + the first paint of the viewport.
* ``edit_ms``: push one ``SetParam`` (incremental analysis, refresh of the affected items only)
  and process events until the dirty region is repainted, at 100 % zoom on the edited node.
  Side by side: the same edit done naively (full re-analysis + canvas rebuild + repaint).
* ``frame_ms``: the slowest scenario's mean frame (pan by 40 px or zoom by 1.1× followed by a
  synchronous viewport repaint) among: 100 % zoom, 35 % zoom, and the whole design fitted.

Run: ``python bench/bench_editor.py``. The last line reads
``open_paint_s=<f> edit_ms=<f> frame_ms=<f>``.
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

from engine.graph import Design, Edge, Node  # noqa: E402
from engine.io import save_design  # noqa: E402
from gui.commands import SetParam  # noqa: E402

BLOCKS = 714
PER_ROW = 70
SIZE = (1600, 1000)


def build() -> Design:
    """The 5,001-node residual CNN, positioned in rows of 70 nodes."""
    design = Design("bench: 5,000 nodes")
    count = 0

    def node(node_id: str, type_id: str, params: dict | None = None, *inputs: str) -> str:
        nonlocal count
        pos = ((count % PER_ROW) * 260.0, (count // PER_ROW) * 200.0 + (count % 2) * 40.0)
        count += 1
        design.add_node(Node(node_id, type_id, dict(params or {}), pos))
        for port, src in enumerate(inputs):
            design.add_edge(Edge(src, node_id, port))
        return node_id

    prev = node("image", "Input", {"shape": [16, 8, 8]})
    for b in range(BLOCKS):
        c1 = node(f"b{b}_conv1", "Conv2d", {"out_channels": 16}, prev)
        n1 = node(f"b{b}_bn1", "BatchNorm2d", {}, c1)
        r1 = node(f"b{b}_relu1", "ReLU", {}, n1)
        c2 = node(f"b{b}_conv2", "Conv2d", {"out_channels": 16}, r1)
        n2 = node(f"b{b}_bn2", "BatchNorm2d", {}, c2)
        s = node(f"b{b}_add", "Add", {}, n2, prev)
        prev = node(f"b{b}_relu2", "ReLU", {}, s)
    flat = node("flat", "Flatten", {}, prev)
    node("head", "Linear", {"out_features": 10}, flat)
    return design


def ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def open_and_paint(app: QApplication, path: Path):
    """One cold open: returns (seconds, view)."""
    from gui.canvas import CanvasView
    from gui.document import Document

    start = time.perf_counter()
    doc = Document()
    doc.open(path)
    view = CanvasView(doc)
    view.resize(*SIZE)
    view.show()
    app.processEvents()
    view.fit()
    view.viewport().repaint()
    return (time.perf_counter() - start), view


def frames(app: QApplication, view, kind: str, n: int = 24) -> list[float]:
    """Per-frame times of ``n`` pans (alternating direction) or zooms (in and out)."""
    out = []
    for i in range(n):
        start = time.perf_counter()
        if kind == "pan":
            d = 40 if (i // 6) % 2 == 0 else -40
            view.pan_by(d, d // 2)
        else:
            view.zoom_by(1.1 if (i // 3) % 2 == 0 else 1 / 1.1)
        view.viewport().repaint()
        out.append(ms(start))
    app.processEvents()
    return out


def main() -> None:
    app = QApplication.instance() or QApplication([])
    design = build()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big.json"
        save_design(design, path)
        seconds, view = open_and_paint(app, path)
        opens = [seconds]
        for _ in range(2):
            view.close()
            view.deleteLater()
            app.processEvents()
            seconds, view = open_and_paint(app, path)
            opens.append(seconds)
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
        start = time.perf_counter()
        doc.push(SetParam(doc, target, "bias", False))
        app.processEvents()  # repaints the dirty region
        edit.append(ms(start))
        assert scene.nodes[target].params_text == "2,304 parameters"
        doc.undo_stack.undo()
        app.processEvents()
    for i in range(3):
        target = f"b{(i * 97) % BLOCKS}_conv1"
        start = time.perf_counter()
        doc.design.set_param(target, "bias", False)
        doc.analysis.run()
        scene.rebuild()
        view.viewport().repaint()
        naive.append(ms(start))
        doc.design.set_param(target, "bias", None)
    doc.analysis.run()
    scene.rebuild()

    # -- pan and zoom frames ------------------------------------------------------------------
    results = {}
    for label, setup in (("100%", lambda: view.set_zoom(1.0)),
                         ("35%", lambda: view.set_zoom(0.35)),
                         ("fit", view.fit)):
        setup()
        view.center_on_node("b357_conv1") if label != "fit" else None
        view.viewport().repaint()
        for kind in ("pan", "zoom"):
            results[(label, kind)] = frames(app, view, kind)

    open_s = statistics.median(opens)
    edit_ms = statistics.median(edit)
    naive_ms = statistics.median(naive)
    print(f"nodes={len(design)} edges={len(design.edges)} viewport={SIZE[0]}x{SIZE[1]} "
          f"platform={app.platformName()}")
    print(f"open + first paint: median {open_s:6.3f} s of {len(opens)} "
          f"(target 2 s, ratio {open_s / 2:.2f})")
    print(f"parameter edit:     median {edit_ms:6.2f} ms (target 20 ms, ratio {edit_ms / 20:.2f}); "
          f"naive full re-analysis + rebuild {naive_ms:.0f} ms → {naive_ms / edit_ms:.0f}× slower")
    worst = 0.0
    for (label, kind), times in results.items():
        mean = statistics.fmean(times)
        worst = max(worst, mean)
        print(f"{kind:4s} frame @ {label:4s}:   mean {mean:6.2f} ms, max {max(times):6.2f} ms "
              f"(target 33 ms, ratio {mean / 33:.2f})")
    print(f"open_paint_s={open_s:.3f} edit_ms={edit_ms:.2f} frame_ms={worst:.2f}")


if __name__ == "__main__":
    main()
