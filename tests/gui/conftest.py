"""Fixtures for the GUI tests: documents built from templates or small hand-wired designs, and a
shown canvas view (offscreen; the platform is chosen in tests/conftest.py)."""

from __future__ import annotations

import pytest

from engine.graph import Design, Edge, Node
from engine.io import load_design
from gui.document import Document
from resources import template_path


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
