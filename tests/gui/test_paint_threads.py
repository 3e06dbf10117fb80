"""The window paints on its own thread: Deepwire turns Qt's GUI thread pool off (gui/__init__.py),
so a large fill is not handed to pool threads that compete with a training run for the cores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FILL = """
import os, sys
if sys.argv[1] == "deepwire":
    import gui  # noqa: F401 - what every Deepwire entry point imports before its first paint
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QImage, QPainter, QPolygonF
from PySide6.QtWidgets import QApplication
app = QApplication([])
image = QImage(800, 800, QImage.Format.Format_ARGB32_Premultiplied)
painter = QPainter(image)
painter.setBrush(QColor(30, 120, 200, 128))
painter.drawPolygon(QPolygonF([QPointF(0, 0), QPointF(800, 10), QPointF(790, 800), QPointF(5, 780)]))
painter.end()
names = [open(f"/proc/self/task/{t}/comm").read() for t in os.listdir("/proc/self/task")]
print(sum("pooled" in name for name in names))
"""


def pooled_threads(mode: str) -> int:
    """Qt pool threads alive after one large fill, in a fresh process (``mode``: "deepwire"
    imports the gui package first, "plain" does not)."""
    env = {k: v for k, v in os.environ.items() if k != "QT_NO_GUI_THREADPOOL"}
    env["QT_QPA_PLATFORM"] = "offscreen"
    proc = subprocess.run(
        [sys.executable, "-c", FILL, mode],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-500:]
    return int(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="thread names from /proc")
def test_a_large_fill_stays_on_the_painting_thread():
    if pooled_threads("plain") == 0:
        pytest.skip("this Qt fills on the painting thread anyway")
    assert pooled_threads("deepwire") == 0
