"""Fixtures for the GUI tests: documents built from templates or small hand-wired designs, a
shown canvas view, and main windows with throwaway settings (offscreen; the platform is chosen in
tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from engine.graph import Design, Edge, Node
from engine.io import load_design
from gui.document import Document
from gui.recovery import RecoveryStore
from resources import template_path
from tests.gui.fakes import FakePrompts


@pytest.fixture(scope="session", autouse=True)
def _pytorch_loaded():
    """GUI tests start with PyTorch imported, as a window is once its background load has ended
    (gui/torch_loader.py), so Train is available at once; tests/gui/test_startup.py covers the
    window while it loads."""
    import importlib

    from gui.torch_loader import MODULES

    for name in MODULES:
        importlib.import_module(name)


@pytest.fixture(scope="session", autouse=True)
def _clipboard_emptied_at_the_end():
    """Empty the clipboard when the session ends. A canvas copy leaves a QMimeData made in
    Python there; the offscreen platform's clipboard is a Qt global that deletes it at process
    exit, after Python has finalized, and PySide then segfaults (exit status 139 after every
    test passed). The application never meets it: it ends with ``os._exit`` (gui/app.py)."""
    yield
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()


def drawn_ticks(axis) -> list:
    """The tick labels a pyqtgraph axis draws (what the user reads, after pyqtgraph has left
    out the ones that do not fit): (rect in scene coordinates, text) each."""
    from PySide6.QtGui import QImage, QPainter

    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        specs = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(axis.mapRectToScene(rect), text) for rect, _flags, text in specs[2]]


def drawn_tick_labels(axis) -> list[str]:
    """The texts of :func:`drawn_ticks`."""
    return [text for _rect, text in drawn_ticks(axis)]


def wired(*layers, edges=(), networks=None) -> Design:
    """A design from ``(id, type, params, (x, y)[, network])`` tuples and ``(src, dst[, port])``."""
    design = Design("test")
    if networks:
        design.networks = {name: {"role": role} for name, role in networks.items()}
    for layer in layers:
        node_id, type_id, params, pos, *rest = layer
        network = rest[0] if rest else next(iter(design.networks))
        design.add_node(Node(node_id, type_id, dict(params), pos, "", network))
    for e in edges:
        design.add_edge(Edge(*e))
    return design


@pytest.fixture
def template_doc():
    """Factory: ``template_doc("cnn")`` → a Document holding that packaged template."""

    def make(stem: str) -> Document:
        return Document(load_design(template_path(stem)))

    return make


@pytest.fixture
def canvas(qtbot):
    """Factory: ``canvas(doc)`` → a shown, exposed CanvasView of ``doc`` at 1200×800."""
    from gui.canvas import CanvasView

    def make(doc: Document, size=(1200, 800)) -> CanvasView:
        view = CanvasView(doc)
        qtbot.addWidget(view)
        view.resize(*size)
        with qtbot.waitExposed(view, timeout=5000):
            view.show()
        with qtbot.waitActive(view, timeout=5000):  # shortcuts fire only in the active window
            view.activateWindow()
        view.setFocus()
        return view

    return make


@pytest.fixture
def settings(tmp_path):
    """The test's own settings file (``settings.ini`` in its temporary folder)."""
    s = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    yield s
    s.sync()


@pytest.fixture
def main_window(qtbot, tmp_path, settings):
    """Factory: ``main_window(design)`` → (a shown MainWindow, its FakePrompts).

    ``design`` is a Design, a design file's path, or None (an empty document). Keywords:
    ``settings`` (default: the ``settings`` fixture), ``recovery_dir`` (default: ``data`` in the
    test's folder), ``size`` (resize before showing), ``exposed`` (wait until the window is
    exposed); the rest go to MainWindow. Teardown joins the export/import dialogs' workers,
    marks the documents clean and closes the windows.
    """
    from gui.mainwindow import MainWindow

    windows = []

    def make(
        design: Design | Path | None = None,
        *,
        settings: QSettings = settings,
        recovery_dir: Path | None = None,
        size: tuple[int, int] | None = None,
        exposed: bool = False,
        **kwargs,
    ):
        doc = Document()
        if design is not None:
            doc.reset(design if isinstance(design, Design) else load_design(design), None)
        prompts = FakePrompts()
        store = RecoveryStore(recovery_dir or tmp_path / "data")
        window = MainWindow(doc, settings=settings, recovery=store, prompts=prompts, **kwargs)
        qtbot.addWidget(window)
        if size is not None:
            window.resize(*size)
        if exposed:
            with qtbot.waitExposed(window, timeout=5000):
                window.show()
        else:
            window.show()
        windows.append(window)
        return window, prompts

    yield make
    for window in windows:
        for name in ("export_dialog", "import_dialog"):
            dialog = getattr(window, name, None)
            if dialog is not None:
                dialog.shutdown()  # join the worker threads
        window.document.undo_stack.setClean()
        window.close()  # asks the workers to stop; joined here
        window.training_panel.shutdown(30.0)
        window.data_panel.shutdown(30.0)
        window.search_panel.shutdown(30.0)
