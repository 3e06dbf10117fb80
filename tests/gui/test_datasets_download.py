"""The window's data prepared ahead of Train downloads a named dataset with a progress bar and
Cancel (a throwaway server on 127.0.0.1, never the network)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from engine.data import datasets, downloads
from gui.panels.training.prepared import DownloadBar, PreparedCache
from tests.engine.dataset_files import FileServer, mnist_files, register

SPEC = {"source": "builtin", "name": "mnist", "split": {"val": 0.25}}


@pytest.fixture
def slow_server(tmp_path, monkeypatch):
    files, _ = mnist_files(n_train=600)  # about 470 kB of images: several pieces
    register(monkeypatch, "mnist", files)
    server = FileServer()
    server.serve("mnist", files)
    server.httpd.delay = 0.05
    monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(downloads.MIRROR_ENV, server.url)
    datasets._arrays_cached.cache_clear()
    yield files, tmp_path / "cache" / "datasets" / "mnist"
    server.close()
    datasets._arrays_cached.cache_clear()


@pytest.fixture
def bar(qtbot):
    cache = PreparedCache()
    widget = DownloadBar(cache)
    qtbot.addWidget(widget)
    yield widget
    assert cache.shutdown(10)


def test_download_shows_progress_and_cancel_leaves_no_dataset_file(bar, qtbot, slow_server):
    files, folder = slow_server
    assert bar.isHidden()
    assert bar.cache.prepare(SPEC, 0)
    qtbot.waitUntil(lambda: not bar.isHidden(), timeout=20_000)
    assert bar.label.text().startswith("Downloading train-images-idx3-ubyte.gz:")
    assert "MB" in bar.label.text() and 0 <= bar.bar.value() < 1000
    qtbot.mouseClick(bar.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not bar.cache.preparing, timeout=20_000)
    assert bar.isHidden()
    assert bar.cache.get(SPEC, 0) is None
    assert all(p.name.endswith(".part") for p in folder.iterdir())  # only what resumes


def test_a_finished_download_hides_the_bar_and_the_data_is_prepared(bar, qtbot, slow_server):
    files, folder = slow_server
    assert bar.cache.prepare(SPEC, 0)
    qtbot.waitUntil(lambda: not bar.cache.preparing, timeout=60_000)
    assert bar.isHidden()
    data = bar.cache.get(SPEC, 0)
    assert data is not None and len(data.x_test) == 10
    assert sorted(p.name for p in folder.iterdir()) == sorted(files)


def test_data_panel_offers_the_named_sets_and_their_forms(qtbot, tmp_path, monkeypatch):
    import threading

    from engine.io import load_design
    from gui.document import Document
    from gui.panels.data import DataPanel
    from resources import template_path

    monkeypatch.setenv(downloads.MIRROR_ENV, "http://127.0.0.1:9")  # nothing may download
    monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
    doc = Document(load_design(template_path("mlp")))
    panel = DataPanel(doc)
    panel.set_on_screen(False)  # no preview: nothing is prepared
    qtbot.addWidget(panel)
    try:
        combo = panel.dataset_combo
        combo.setCurrentIndex(combo.findData("cifar10"))
        combo.activated.emit(combo.currentIndex())
        assert doc.design.data["name"] == "cifar10" and "170 MB" in combo.currentData() + (
            panel.description_label.text()
        )
        items = [panel.form_combo.itemText(i) for i in range(panel.form_combo.count())]
        assert items == ["default (image)", "image", "flat"]
        panel.form_combo.setCurrentIndex(2)
        panel.form_combo.activated.emit(2)
        assert doc.design.data["form"] == "flat"
        doc.undo_stack.undo()  # each choice is one undo step
        assert "form" not in doc.design.data
        combo.setCurrentIndex(combo.findData("digits"))
        combo.activated.emit(combo.currentIndex())
        assert panel.form_combo.itemText(0) == "auto (from the Input shape)"
        assert not (tmp_path / "cache").exists()
    finally:
        assert panel.shutdown()
        doc.undo_stack.setClean()
    assert not [
        t for t in threading.enumerate() if t.name == "deepwire-data-preview" and t.is_alive()
    ]
