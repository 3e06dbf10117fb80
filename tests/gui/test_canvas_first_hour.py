"""The canvas as a new user first meets it: a template opens readable in the default window,
Fit and Auto-layout frame everything, refusals are explained at the pointer and stay in the
status bar, a wire dropped on a fed input replaces the old one, a GAN shows its hidden link."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QHelpEvent, QImage, QPainter
from PySide6.QtWidgets import QApplication, QToolTip

from engine.graph import Edge
from engine.io import load_design
from gui import commands as C
from gui.canvas import theme as th
from gui.canvas.items import LinkItem, NoteItem
from gui.canvas.layout import layered_layout
from resources import template_path
from tests.gui.conftest import wired

pytestmark = pytest.mark.qt_log_ignore(
    "This plugin does not support propagateSizeHints", "This plugin does not support raise"
)

LEFT = Qt.MouseButton.LeftButton
TEMPLATES = ["mlp", "cnn", "rnn", "lstm", "autoencoder", "gan", "som"]


def _open(main_window, qtbot, design):
    """A main window at its default size (1400×900, default docks) showing ``design``."""
    window, _ = main_window(design, exposed=True)
    assert (window.width(), window.height()) == (1400, 900)
    view = window.canvas
    qtbot.waitUntil(lambda: view.viewport().width() > 600, timeout=5000)
    return window, view


def _visible(view) -> QRectF:
    return view.mapToScene(view.viewport().rect()).boundingRect()


def _unframed(view) -> list[str]:
    """Nodes, wires (their curves and labels) and links not wholly inside the viewport."""
    seen = _visible(view)
    scene = view.scene()
    out = [nid for nid, item in scene.nodes.items() if not seen.contains(item.sceneBoundingRect())]
    out += [
        f"{e.source}->{e.target}"
        for e, item in scene.edges.items()
        if not seen.contains(item.sceneBoundingRect())
        or not _holds(seen, item.path().boundingRect())
    ]
    out += ["link" for link in scene.links if not seen.contains(link.sceneBoundingRect())]
    return out


def _holds(outer: QRectF, box: QRectF) -> bool:
    """``outer`` contains ``box``, also when ``box`` is a flat line (QRectF.contains says no)."""
    return outer.contains(box.topLeft()) and outer.contains(box.bottomRight())


def _port(view, node_id: str, port: int | None = None) -> QPoint:
    item = view.scene().nodes[node_id]
    local = item.output_port_pos() if port is None else item.input_port_pos(port)
    return view.mapFromScene(item.mapToScene(local))


@pytest.mark.parametrize("stem", TEMPLATES)
def test_every_template_opens_with_its_labels_drawn_and_readable(main_window, qtbot, stem):
    window, view = _open(main_window, qtbot, template_path(stem))
    scene = view.scene()
    zoom = view.zoom()
    theme = scene.theme
    assert not scene.overview_on
    for item in scene.nodes.values():
        assert item.labels_drawn(zoom), (stem, item.node_id, zoom)
    for font in (theme.title_font, theme.body_font):
        assert th.font_px(font) * zoom >= th.MIN_TEXT_PX, (stem, font.pointSizeF(), zoom)
    # ...and the whole design is on screen: nothing to scroll to on first sight.
    assert _unframed(view) == []


@pytest.mark.parametrize("stem", ["mlp", "cnn", "gan", "autoencoder"])
def test_fit_and_auto_layout_frame_every_node_and_wire(main_window, qtbot, stem):
    window, view = _open(main_window, qtbot, template_path(stem))
    doc = view.document
    # A node dragged away below, the view zoomed in: Fit brings everything back in, wires
    # included (the dragged node's wire now runs back to the left).
    node = doc.design.nodes[-1]
    bottom = max(n.position[1] for n in doc.design)
    doc.push(C.MoveNodes(doc, {node.id: (node.position, (0.0, bottom + 160.0))}))
    view.zoom_by(3.0)
    assert _unframed(view) != []
    view.fit_action.trigger()
    assert _unframed(view) == []
    assert view.zoom() >= view.label_zoom()
    # Auto-layout (Ctrl+L, keyboard on the canvas) lays out for the view and frames the result.
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert doc.undo_stack.text(doc.undo_stack.count() - 1) == "Auto-layout"
    assert _unframed(view) == []
    assert view.zoom() >= view.label_zoom()
    assert all(item.labels_drawn(view.zoom()) for item in view.scene().nodes.values())


def test_fit_on_a_design_too_big_to_read_whole_keeps_labels_and_shows_its_start(canvas):
    layers = [("n0", "Input", {"shape": [8]}, (0.0, 0.0))]
    layers += [(f"n{i}", "ReLU", {}, (i * 260.0, 0.0)) for i in range(1, 40)]
    view = canvas(load_design_from(layers, [(f"n{i - 1}", f"n{i}") for i in range(1, 40)]))
    messages: list[str] = []
    view.statusMessage.connect(messages.append)
    view.zoom_by(2.0)
    view.fit_action.trigger()
    assert view.zoom() == pytest.approx(view.label_zoom())
    assert not view.scene().overview_on
    assert _visible(view).contains(view.scene().nodes["n0"].sceneBoundingRect())
    assert "Ctrl+0" in messages[-1]
    # Fit again: the whole design, however small.
    view.fit_action.trigger()
    assert view.zoom() < view.label_zoom()
    assert _unframed(view) == []


def load_design_from(layers, edges):
    from gui.document import Document

    return Document(wired(*layers, edges=edges))


def test_backward_wires_run_in_a_lane_between_the_rows(canvas, template_doc):
    view = canvas(template_doc("cnn"))
    scene = view.scene()
    wrap = scene.edges[Edge("relu1", "conv2", 0)]  # end of the first band → start of the next
    source, target = scene.nodes["relu1"], scene.nodes["conv2"]
    assert target.pos().x() < source.pos().x() and target.pos().y() > source.pos().y()
    box = wrap.path().boundingRect()
    # The wire stays right of the source and left of the target: it never crosses the rows.
    assert box.right() <= source.sceneBoundingRect().right() + 30
    assert box.left() >= target.pos().x() - 30
    assert _holds(wrap.sceneBoundingRect(), box)


def test_nodes_side_by_side_are_joined_by_a_short_straight_wire(canvas):
    """Two nodes dropped next to each other, level: the wire between them is a short straight
    line in the gap, not a loop under both nodes (as it was when the gap was under 40 px)."""
    from gui.document import Document

    doc = Document(
        wired(
            ("a", "Input", {"shape": [8]}, (0.0, 0.0)),
            ("b", "ReLU", {}, (th.NODE_WIDTH + 16.0, 0.0)),
            ("c", "ReLU", {}, (2 * th.NODE_WIDTH + 32.0, 60.0)),  # close, not level: a lane
            edges=[("a", "b"), ("b", "c")],
        )
    )
    scene = canvas(doc).scene()
    wire = scene.edges[Edge("a", "b", 0)]
    box = wire.path().boundingRect()
    a = scene.nodes["a"].sceneBoundingRect()
    assert box.height() < 1 and a.top() < box.top() < a.bottom()
    # from a's right edge to b's left edge: in the gap
    assert (box.left(), box.right()) == (th.NODE_WIDTH, th.NODE_WIDTH + 16.0)
    assert scene.edges[Edge("b", "c", 0)]._lane is not None


def test_layout_wraps_long_chains_into_bands():
    design = load_design(template_path("mlp"))
    flat = layered_layout(design)
    assert len({y for _, y in flat.values()}) == 1  # one row without a limit
    wrapped = layered_layout(design, max_columns=3)
    order = [n.id for n in design]
    columns = [wrapped[n][0] for n in order]
    bands = [wrapped[n][1] for n in order]
    assert len(set(columns)) == 3 and columns[:4] == [
        columns[0],
        columns[1],
        columns[2],
        columns[0],
    ]
    assert bands == sorted(bands) and len(set(bands)) == 3


def test_hovering_a_node_at_overview_zoom_shows_its_tooltip(canvas, qtbot, template_doc):
    view = canvas(template_doc("cnn"))
    view.set_zoom(0.25)
    view.centerOn(view.scene().nodes["conv1"])
    qtbot.waitUntil(lambda: view.scene().overview_on, timeout=2000)
    point = view.mapFromScene(view.scene().nodes["conv1"].sceneBoundingRect().center())
    event = QHelpEvent(QEvent.Type.ToolTip, point, view.viewport().mapToGlobal(point))
    QApplication.sendEvent(view.viewport(), event)
    qtbot.waitUntil(QToolTip.isVisible, timeout=2000)
    text = QToolTip.text()
    assert "Conv2d" in text and "conv1" in text and "(N, 16, 8, 8)" in text
    assert "parameters" in text and "in: (N, 1, 8, 8)" in text
    QToolTip.hideText()


def _white_pixels_on(view, node_id: str, scale: float) -> int:
    view.set_zoom(scale)
    item = view.scene().nodes[node_id]
    view.centerOn(item)
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32)
    image.fill(0)
    painter = QPainter(image)
    view.render(painter)
    painter.end()
    box = view.mapFromScene(item.sceneBoundingRect()).boundingRect()
    white = 0
    for x in range(box.left() + 2, box.right() - 2):
        for y in range(box.top() + 2, box.bottom() - 2):
            if QColor(image.pixel(x, y)).lightnessF() > 0.9:
                white += 1
    return white


def test_overview_blocks_name_their_layer_type_where_it_fits(canvas, template_doc):
    view = canvas(template_doc("cnn"))
    # Far out (blocks a few pixels high) there is no room; at 30 % the type name is written.
    assert _white_pixels_on(view, "conv1", 0.3) > 20
    assert view.scene().overview_on
    assert _white_pixels_on(view, "conv1", 0.1) == 0


def _refusing_design():
    return wired(
        ("img", "Input", {"shape": [1, 8, 8]}, (0, 0)),
        ("conv", "Conv2d", {"out_channels": 4}, (280, 0)),
        ("dense", "Linear", {"out_features": 10}, (560, 0)),
        ("other", "Input", {"shape": [1, 8, 8]}, (0, 160)),
        edges=[("img", "conv")],
    )


def _status_timers(window) -> list[QTimer]:
    return [t for t in window.statusBar().findChildren(QTimer) if t.isActive()]


def test_a_refused_wire_explains_itself_at_the_pointer_and_in_the_status_bar(main_window, qtbot):
    window, view = _open(main_window, qtbot, _refusing_design())
    scene, vp = view.scene(), view.viewport()
    start, target = _port(view, "conv"), _port(view, "dense", 0)
    qtbot.mousePress(vp, LEFT, pos=start)
    qtbot.mouseMove(vp, start + (target - start) / 2)
    assert scene.refusal_note is None  # nothing to refuse over empty canvas
    qtbot.mouseMove(vp, target)
    note = scene.refusal_note
    assert isinstance(note, NoteItem) and note.isVisible()
    assert "Linear" in note.text and "Flatten" in note.text
    # Beside the pointer, the same size at any zoom, in the error colour.
    where = view.mapFromScene(note.pos())
    assert (where - target).manhattanLength() <= 4
    assert note.flags() & NoteItem.GraphicsItemFlag.ItemIgnoresTransformations
    assert note.boundingRect().height() >= th.MIN_TEXT_PX
    image = view.viewport().grab().toImage()
    box = note.boundingRect().translated(QPointF(where)).toRect()  # device pixels
    assert view.viewport().rect().contains(box)
    reds = sum(
        1
        for x in range(box.left(), box.right())
        for y in range(box.top(), box.bottom())
        if _near(QColor(image.pixel(x, y)), th.ERROR_COLOUR)
    )
    assert reds > 30
    qtbot.mouseMove(vp, start + (target - start) / 2)  # off the refusing port: the note goes
    assert scene.refusal_note is None
    qtbot.mouseMove(vp, target)
    assert scene.refusal_note is not None
    qtbot.mouseRelease(vp, LEFT, pos=target)
    assert scene.refusal_note is None and not scene.connecting
    message = window.statusBar().currentMessage()
    assert message.startswith("Not connected:") and "Flatten" in message
    assert _status_timers(window) == []  # kept until the next message, no timeout
    assert view.document.design.edges == [Edge("img", "conv", 0)]


def _near(a: QColor, b: QColor) -> bool:
    return abs(a.red() - b.red()) + abs(a.green() - b.green()) + abs(a.blue() - b.blue()) < 40


def test_dropping_a_wire_on_a_fed_input_replaces_it_in_one_undo_step(main_window, qtbot):
    window, view = _open(main_window, qtbot, _refusing_design())
    doc = view.document
    _drag_wire(qtbot, view, "other", "conv")
    assert doc.design.edges == [Edge("other", "conv", 0)]
    assert set(view.scene().edges) == {Edge("other", "conv", 0)}
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.text(0) == "Replace img → conv with other → conv"
    assert "replaces the wire from img" in window.statusBar().currentMessage()
    doc.undo_stack.undo()
    assert doc.design.edges == [Edge("img", "conv", 0)]
    assert set(view.scene().edges) == {Edge("img", "conv", 0)}
    doc.undo_stack.redo()
    assert doc.design.edges == [Edge("other", "conv", 0)]


def _drag_wire(qtbot, view, source: str, target: str) -> None:
    vp = view.viewport()
    start, end = _port(view, source), _port(view, target, 0)
    qtbot.mousePress(vp, LEFT, pos=start)
    for i in range(1, 5):
        qtbot.mouseMove(vp, start + (end - start) * i / 4)
    qtbot.mouseRelease(vp, LEFT, pos=end)


def test_the_gan_shows_what_feeds_its_discriminator(canvas, template_doc):
    view = canvas(template_doc("gan"))
    scene = view.scene()
    assert [(link.source.node_id, link.target.node_id) for link in scene.links] == [
        ("fake", "sample")
    ]
    link = scene.links[0]
    assert isinstance(link, LinkItem) and link.label == "feeds fake samples"
    assert not link.flags() & LinkItem.GraphicsItemFlag.ItemIsSelectable
    assert not link.acceptedMouseButtons()
    tip = scene.tooltip_at(link.path().pointAtPercent(0.5))
    assert "generator" in tip and "discriminator" in tip and "fake" in tip
    # It follows the nodes it joins.
    doc = view.document
    before = link.path().pointAtPercent(1.0)
    sample = doc.design.node("sample")
    doc.push(
        C.MoveNodes(
            doc, {"sample": (sample.position, (sample.position[0], sample.position[1] + 100))}
        )
    )
    assert link.path().pointAtPercent(1.0).y() == pytest.approx(before.y() + 100)
    # Select all + delete removes nodes and wires, never the link by itself.
    scene.select_all()
    assert link not in scene.selectedItems()


def test_designs_without_gan_roles_have_no_link(canvas, template_doc):
    assert canvas(template_doc("mlp")).scene().links == []


def test_replace_edge_command_undo_redo(template_doc):
    doc = template_doc("cnn")
    edges = list(doc.design.edges)
    new = Edge("relu1", "relu2", 0)  # relu2 is fed by conv2
    command = C.ReplaceEdge(doc, new)
    doc.push(command)
    assert new in doc.design.edges and Edge("conv2", "relu2", 0) not in doc.design.edges
    doc.undo_stack.undo()
    assert doc.design.edges == edges
    with pytest.raises(ValueError, match="free"):
        C.ReplaceEdge(doc, Edge("relu1", "dense", 1))
    with pytest.raises(ValueError, match="cycle"):
        C.ReplaceEdge(doc, Edge("pool", "conv2", 0))


def test_zoom_gestures_stop_the_view_following_resizes(canvas, template_doc):
    view = canvas(template_doc("cnn"))
    fitted = view.zoom()
    view.resize(900, 700)
    assert view.zoom() != fitted  # still fitting while the user has not zoomed
    view.zoom_in_action.trigger()
    zoom = view.zoom()
    view.resize(1200, 800)
    assert view.zoom() == pytest.approx(zoom)
