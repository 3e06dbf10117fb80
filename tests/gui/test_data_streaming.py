"""The data panel says whether an image folder is held in memory or streamed from disk, and
its Memory choice overrides that as one undoable edit."""

from __future__ import annotations

import threading

import pytest
from PIL import Image

from engine.io import load_design
from gui.document import Document
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def test_the_panel_shows_streaming_and_overrides_it(qtbot, tmp_path):
    from gui.panels.data import DataPanel
    from gui.panels.data.source_form import STREAM_CHOICES

    for k, name in enumerate(("dark", "light")):
        (tmp_path / "imgs" / name).mkdir(parents=True)
        for i in range(10):
            Image.new("L", (6, 6), 40 + 150 * k + i).save(tmp_path / "imgs" / name / f"{i}.png")
    design = load_design(template_path("mlp"))
    # 20 images of 300×300 floats ≈ 7.2 MB: over a 1 MB budget
    design.data = {"source": "image_folder", "path": "imgs", "size": [300, 300]}
    design.data.update(memory_budget_mb=1, workers=0)
    doc = Document(design)
    doc.save(tmp_path / "design.json")
    panel = DataPanel(doc)
    qtbot.addWidget(panel)
    panel.resize(460, 900)
    try:
        qtbot.waitUntil(lambda: panel.pictures.summary is not None, timeout=30_000)
        text = panel.preview_label.text()
        assert "streams from disk: 20 images ≈ 7.2 MB &gt; budget 1 MB" in text
        assert panel.pictures.summary.kind == "images"  # pictures of streamed data too
        assert not panel.stream_combo.isHidden()
        assert panel.stream_combo.currentText() == STREAM_CHOICES["auto"]

        panel.stream_combo.setCurrentIndex(panel.stream_combo.findData(False))
        panel.stream_combo.activated.emit(panel.stream_combo.currentIndex())
        assert doc.design.data["stream"] is False
        qtbot.waitUntil(lambda: "resident: 20 images" in panel.preview_label.text(), timeout=30_000)
        assert "set to resident; budget 1 MB" in panel.preview_label.text()
        doc.undo_stack.undo()  # one step back: auto again, and streamed
        assert "stream" not in doc.design.data
        assert panel.stream_combo.currentText() == STREAM_CHOICES["auto"]
        qtbot.waitUntil(lambda: "streams from disk" in panel.preview_label.text(), timeout=30_000)
    finally:
        assert panel.shutdown()
        doc.undo_stack.setClean()
    assert not [
        t for t in threading.enumerate() if t.name == "deepwire-data-preview" and t.is_alive()
    ]
