"""What the main window's panels add to one parameter edit on the 5,001-node design.

Side by side in one run, the same ``SetParam`` edits (median of 30, each followed by processing
events so every observer has reacted and repainted):

* ``document``: the document alone (incremental shape analysis);
* ``canvas``: the document shown in a ``CanvasView`` (1600×1000);
* ``window``: the full ``MainWindow`` at 1600×1000 (canvas, status bar totals, problems list,
  inspector summary, history), with nothing selected so the inspector shows the design summary;
* ``window_full_scan``: the same window, but the panels recompute totals and problems from
  ``ShapeAnalysis`` each edit (what they did before ``gui.summary.DesignSummary``).

Run: ``python bench/bench_window.py``. The last line reads
``document_ms=<f> canvas_ms=<f> window_ms=<f> window_full_scan_ms=<f> panels_ms=<f>``
where ``panels_ms = window_ms - canvas_ms``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_editor import build  # noqa: E402
from PySide6.QtCore import qInstallMessageHandler  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.commands import SetParam  # noqa: E402
from gui.document import Document  # noqa: E402

EDITS = 30
SIZE = (1600, 1000)


def _quiet(_mode, _context, message: str) -> None:
    if "propagateSizeHints" not in message:
        sys.stderr.write(message + "\n")


def _measure(app: QApplication, design, make) -> float:
    doc = Document()
    doc.reset(design.copy())
    widget = make(doc)
    if widget is not None:
        widget.resize(*SIZE)
        widget.show()
        app.processEvents()
    target = next(n.id for n in design if n.type == "Conv2d")
    times = []
    for i in range(EDITS + 3):
        start = time.perf_counter()
        doc.push(SetParam(doc, target, "out_channels", 16 + (i % 2)))
        app.processEvents()
        if i >= 3:  # warm-up edits excluded
            times.append((time.perf_counter() - start) * 1000)
    if widget is not None:
        doc.undo_stack.setClean()
        widget.close()
        widget.deleteLater()
        app.processEvents()
    return statistics.median(times)


def _full_scan_window(doc: Document):
    """A main window whose panels rescan the analysis per edit (the pre-summary behaviour)."""
    from gui.mainwindow import MainWindow

    window = MainWindow(doc)
    summary = window.summary

    def rescan(_changed=None) -> None:
        summary.recompute()

    doc.analysisChanged.connect(rescan)
    return window


def main() -> None:
    qInstallMessageHandler(_quiet)
    app = QApplication.instance() or QApplication([])
    from gui.canvas import CanvasView
    from gui.mainwindow import MainWindow

    design = build()
    print(f"design: {len(design)} nodes, {len(design.edges)} edges; {EDITS} edits each")
    results = {
        "document": _measure(app, design, lambda doc: None),
        "canvas": _measure(app, design, lambda doc: CanvasView(doc)),
        "window": _measure(app, design, lambda doc: MainWindow(doc)),
        "window_full_scan": _measure(app, design, _full_scan_window),
    }
    for name, ms in results.items():
        print(f"{name:>18}: {ms:7.2f} ms per edit (median)")
    panels = results["window"] - results["canvas"]
    print(
        f"window / canvas: {results['window'] / results['canvas']:.2f}x; "
        f"full scan / summary: {results['window_full_scan'] / results['window']:.2f}x"
    )
    print(" ".join(f"{k}_ms={v:.2f}" for k, v in results.items()) + f" panels_ms={panels:.2f}")


if __name__ == "__main__":
    main()
