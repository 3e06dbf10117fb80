"""The editor canvas on 5,000- and 20,000-node designs: open + first paint, one parameter edit,
pan/zoom frames.

Targets (issue 5 at 5k nodes, issue 11 at 20k): open and paint ≤ 2 s; one parameter edit
updates shapes on screen in ≤ 20 ms of work; panning or zooming repaints in ≤ 33 ms per frame.
Qt renders offscreen into a 1600×1000 viewport (``QT_QPA_PLATFORM=offscreen``), so the figures
are CPU rasterisation, as on a machine without GPU acceleration for QPainter.

The designs (5,001 nodes / 5,714 edges and 20,002 nodes / 22,858 edges:
``bench.designs.residual_cnn``, the ones bench_shapes measures) are deep residual CNNs of 714
and 2,857 blocks (Conv2d → BatchNorm2d → ReLU → Conv2d → BatchNorm2d → Add(skip) → ReLU), laid
out in rows of ten blocks, read from a file. The opens of both sizes alternate (5k, 20k, 5k…)
so that a change of load hits both.

* ``open_paint_s``: ``Document.open(path)`` (parse + full analysis) + ``CanvasView`` (all items) +
  show + fit to the whole design + the first paint of the viewport.
* ``edit_ms``: push one ``SetParam`` (incremental analysis, refresh of the affected items only)
  and process events until the dirty region is repainted, at 100 % zoom on the edited node.
  Side by side: the same edit done naively (full re-analysis + canvas rebuild + repaint).
* ``struct_edit_ms``: push one ``AddNode`` of a ReLU wired after a node (a structural edit:
  a node and an edge added, analysis and canvas updated) until repainted, at 100 % on it.
* ``frame_ms``: the slowest scenario's median frame (pan by 40 px or zoom by 1.1× followed by a
  synchronous repaint of the whole viewport) among: 100 % zoom, 35 % zoom (one-pass overview),
  and the whole design fitted.

Every figure is a median over repeats, given as the GUI thread's CPU time (the work done: this
machine is shared, so elapsed time also holds waits for a core) and as wall time beside it.

Run: ``python bench/bench_editor.py [opens]``. The last line reads
``open_paint_s=<f> edit_ms=<f> frame_ms=<f> struct_edit_ms=<f> open_paint_s_20k=<f>
edit_ms_20k=<f> frame_ms_20k=<f> struct_edit_ms_20k=<f>`` (CPU-time medians; frame = the
slowest scenario).
"""

from __future__ import annotations

import argparse
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
from gui.commands import AddNode, SetParam  # noqa: E402

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


SIZES = {"5k": BLOCKS, "20k": 2857}


def structural_edits(app: QApplication, view, blocks: int) -> list:
    """(wall, cpu) of adding a ReLU wired after a node (AddNode with connect_after, as a drop
    onto a selected node does) until repainted, at 100 % on that node; each undone."""
    doc, scene = view.document, view.scene()
    out = []
    for i in range(11):
        source = f"b{(i * 89) % blocks}_relu2"
        view.center_on_node(source)
        view.viewport().repaint()
        app.processEvents()
        x, y = doc.design.node(source).position
        clock = Clock()
        command = AddNode(doc, "ReLU", (x + 100.0, y + 120.0), connect_after=source)
        doc.push(command)
        app.processEvents()  # repaints the dirty region
        out.append(clock.stop())
        assert command.connected and command.node.id in scene.nodes
        doc.undo_stack.undo()
        app.processEvents()
    return out


def edits(app: QApplication, view, blocks: int) -> tuple[list, list]:
    """(incremental, naive) (wall, cpu) of one parameter edit, at 100 % on the edited node."""
    doc, scene = view.document, view.scene()
    view.set_zoom(1.0)
    edit, naive = [], []
    for i in range(21):
        target = f"b{(i * 97) % blocks}_conv1"
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
        target = f"b{(i * 97) % blocks}_conv1"
        clock = Clock()
        doc.design.set_param(target, "bias", False)
        doc.analysis.run()
        scene.rebuild()
        view.viewport().repaint()
        naive.append(clock.stop())
        doc.design.set_param(target, "bias", None)
    doc.analysis.run()
    scene.rebuild()
    return edit, naive


def scenario_frames(app: QApplication, view, blocks: int) -> dict:
    """(wall, cpu) frames per (zoom, pan|zoom) scenario."""
    results = {}
    for label, setup in (
        ("100%", lambda: view.set_zoom(1.0)),
        ("35%", lambda: view.set_zoom(0.35)),
        ("fit", view.fit),
    ):
        setup()
        view.center_on_node(f"b{blocks // 2}_conv1") if label != "fit" else None
        view.viewport().repaint()
        for kind in ("pan", "zoom"):
            results[(label, kind)] = frames(app, view, kind)
    return results


def med(pairs, which: int) -> float:
    return statistics.median(p[which] for p in pairs)


def report(
    label: str, design, opens: list, edit: list, naive: list, struct: list, results: dict
) -> str:
    """Print one size's figures; returns its part of the last line."""
    print(f"[{label}] nodes={len(design)} edges={len(design.edges)}")
    open_cpu, open_wall = med(opens, 1) / 1000, med(opens, 0) / 1000
    print(
        f"  open + first paint: cpu {open_cpu:6.3f} s, wall {open_wall:6.3f} s of {len(opens)} "
        f"(target 2 s, ratio {open_cpu / 2:.2f})"
    )
    edit_cpu, edit_wall, naive_cpu = med(edit, 1), med(edit, 0), med(naive, 1)
    print(
        f"  parameter edit:     cpu {edit_cpu:6.2f} ms, wall {edit_wall:6.2f} ms (target 20 ms, "
        f"ratio {edit_cpu / 20:.2f}); naive re-analysis + rebuild: cpu {naive_cpu:.0f} ms, "
        f"{naive_cpu / edit_cpu:.0f}× the incremental edit"
    )
    struct_cpu = med(struct, 1)
    print(
        f"  add node + wire:    cpu {struct_cpu:6.2f} ms, wall {med(struct, 0):6.2f} ms (target 20 "
        f"ms, ratio {struct_cpu / 20:.2f}; AddNode after a node, repainted)"
    )
    worst = 0.0
    for (where, kind), times in results.items():
        cpu, wall = med(times, 1), med(times, 0)
        worst = max(worst, cpu)
        print(
            f"  {kind:4s} frame @ {where:4s}: cpu {cpu:6.2f} ms, wall {wall:6.2f} ms, slowest "
            f"wall {max(t[0] for t in times):6.2f} ms (target 33 ms, ratio {cpu / 33:.2f})"
        )
    suffix = "" if label == "5k" else f"_{label}"
    return (
        f"open_paint_s{suffix}={open_cpu:.3f} edit_ms{suffix}={edit_cpu:.2f} "
        f"frame_ms{suffix}={worst:.2f} struct_edit_ms{suffix}={struct_cpu:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("rounds", nargs="?", type=int, default=5, help="interleaved rounds")
    rounds = parser.parse_args().rounds
    app = QApplication.instance() or QApplication([])
    designs = {label: residual_cnn(blocks) for label, blocks in SIZES.items()}
    opens: dict[str, list] = {label: [] for label in SIZES}
    views = {}
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for label, design in designs.items():
            paths[label] = Path(tmp) / f"big_{label}.json"
            save_design(design, paths[label])
        for _ in range(rounds):
            for label in SIZES:
                if label in views:
                    views[label].close()
                    views[label].deleteLater()
                    app.processEvents()
                took, views[label] = open_and_paint(app, paths[label])
                opens[label].append(took)
    print(
        f"viewport={SIZE[0]}x{SIZE[1]} platform={app.platformName()}; medians; "
        "cpu = GUI-thread CPU time, wall = elapsed"
    )
    last = []
    for label, blocks in SIZES.items():
        view, design = views[label], designs[label]
        scene = view.scene()
        assert len(scene.nodes) == len(design) and len(scene.edges) == len(design.edges)
        assert view.document.analysis.valid
        edit, naive = edits(app, view, blocks)
        struct = structural_edits(app, view, blocks)
        results = scenario_frames(app, view, blocks)
        last.append(report(label, design, opens[label], edit, naive, struct, results))
    print(" ".join(last))


if __name__ == "__main__":
    main()
