"""The canvas as a user drives it: drops, wiring by mouse, selection, editing, zoom, layout."""

from __future__ import annotations

import gc
import weakref

import pytest
import shiboken6
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage, QPainter
from PySide6.QtWidgets import QApplication

from engine.graph import Edge
from engine.io import dumps
from gui import commands as C
from gui.canvas import LAYER_MIME
from gui.canvas.items import EdgeItem, GroupItem, LabelEditor, NodeItem
from gui.canvas.theme import NODE_WIDTH
from gui.document import Document
from tests.gui.conftest import wired

# The offscreen platform warns once per shown top-level widget; it is not a defect of ours.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

LEFT = Qt.MouseButton.LeftButton


def _vp(view, scene_point: QPointF) -> QPoint:
    return view.mapFromScene(scene_point)


def _port(view, node_id: str, port: int | None = None) -> QPoint:
    item = view.scene().nodes[node_id]
    local = item.output_port_pos() if port is None else item.input_port_pos(port)
    return _vp(view, item.mapToScene(local))


def _drag(qtbot, view, start: QPoint, end: QPoint, steps: int = 4) -> None:
    vp = view.viewport()
    qtbot.mousePress(vp, LEFT, pos=start)
    for i in range(1, steps + 1):
        qtbot.mouseMove(vp, start + (end - start) * i / steps)
    qtbot.mouseRelease(vp, LEFT, pos=end)


def _small() -> Document:
    return Document(
        wired(
            ("img", "Input", {"shape": [1, 8, 8]}, (0, 0)),
            ("conv", "Conv2d", {"out_channels": 4}, (260, 0)),
            ("flat", "Flatten", {}, (520, 0)),
            ("dense", "Linear", {"out_features": 10}, (780, 0)),
            ("other", "Linear", {"out_features": 3}, (780, 200)),
            edges=[("img", "conv")],
        )
    )


def _messages(view) -> list[str]:
    """Every status message, passing (statusMessage) or kept (statusKept), in order."""
    got: list[str] = []
    view.statusMessage.connect(got.append)
    view.statusKept.connect(got.append)
    return got


def test_items_mirror_the_design_and_a_gan_shows_its_two_networks(canvas, template_doc):
    view = canvas(template_doc("gan"))
    scene = view.scene()
    design = view.document.design
    assert set(scene.nodes) == {n.id for n in design}
    assert set(scene.edges) == set(design.edges)
    groups = [i for i in scene.items() if isinstance(i, GroupItem)]
    assert sorted(g.title for g in groups) == ["Discriminator", "Generator"]
    gen, disc = scene.groups["generator"], scene.groups["discriminator"]
    assert not gen.rect().intersects(disc.rect())
    for node in design:
        assert scene.groups[node.network].rect().contains(scene.nodes[node.id].sceneBoundingRect())
    edge = scene.edges[Edge("g_fc1", "g_act1", 0)]
    assert edge.label == "(N, 128)"
    assert scene.tooltip_at(edge.path().pointAtPercent(0.5)) == "g_fc1 → g_act1 (input 1): (N, 128)"


def test_a_single_network_design_has_no_group_frame(canvas, template_doc):
    view = canvas(template_doc("cnn"))
    assert not [i for i in view.scene().items() if isinstance(i, GroupItem)]
    item = view.scene().nodes["conv1"]
    assert item.title == "Conv2d" and item.label_text == "conv1"
    assert item.shape_text == "→ (N, 16, 8, 8)" and item.params_text == "160 parameters"


def test_dropping_a_palette_layer_creates_it_at_the_drop_point(canvas, qtbot):
    view = canvas(_small())
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"BatchNorm2d")
    point = QPoint(600, 500)
    enter = QDragEnterEvent(
        point, Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(point), Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(view.viewport(), drop)
    design = view.document.design
    added = [n for n in design if n.type == "BatchNorm2d"]
    assert len(added) == 1
    item = view.scene().nodes[added[0].id]
    assert item.sceneBoundingRect().contains(view.mapToScene(point))
    assert view.document.undo_stack.text(0) == "Add BatchNorm2d"
    assert view.selected_node_ids() == [added[0].id]


def test_foreign_drags_are_not_accepted(canvas):
    view = canvas(_small())
    mime = QMimeData()
    mime.setData(LAYER_MIME, b"NoSuchLayer")
    enter = QDragEnterEvent(
        QPoint(10, 10), Qt.DropAction.CopyAction, mime, LEFT, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(view.viewport(), enter)
    assert not enter.isAccepted()


def test_dragging_output_to_input_connects_and_updates_shapes(canvas, qtbot):
    view = canvas(_small())
    scene = view.scene()
    messages = _messages(view)
    assert scene.nodes["flat"].shape_text == "→ ?"
    _drag(qtbot, view, _port(view, "conv"), _port(view, "flat", 0))
    assert view.document.design.has_edge(Edge("conv", "flat", 0))
    assert Edge("conv", "flat", 0) in scene.edges
    assert scene.nodes["flat"].shape_text == "→ (N, 256)"
    assert messages[-1] == "Connected conv → flat"
    assert any(m.startswith("Release to connect conv → flat") for m in messages)
    assert view.document.undo_stack.text(0) == "Connect conv → flat"
    assert not scene.connecting and scene.port_verdict("flat", 0) is None


def test_an_incompatible_connection_is_refused_with_the_reason(canvas, qtbot):
    view = canvas(_small())
    messages = _messages(view)
    scene = view.scene()
    vp = view.viewport()
    qtbot.mousePress(vp, LEFT, pos=_port(view, "conv"))
    assert scene.connecting
    # Visible ports are judged as soon as the drag starts: flat accepts, dense refuses.
    assert scene.port_verdict("flat", 0) is True
    assert scene.port_verdict("dense", 0) is False
    target = _port(view, "dense", 0)
    qtbot.mouseMove(vp, target)
    assert "Cannot connect conv → dense" in messages[-1] and "Flatten" in messages[-1]
    qtbot.mouseRelease(vp, LEFT, pos=target)
    assert view.document.design.edges == [Edge("img", "conv", 0)]
    assert messages[-1].startswith("Not connected:") and "Flatten" in messages[-1]
    assert view.document.undo_stack.count() == 0


def test_dropping_a_wire_on_empty_canvas_cancels(canvas, qtbot):
    view = canvas(_small())
    messages = _messages(view)
    empty = _vp(view, QPointF(400, 600))
    _drag(qtbot, view, _port(view, "conv"), empty)
    assert view.document.design.edges == [Edge("img", "conv", 0)]
    assert messages[-1] == "Connection cancelled"
    assert not [i for i in view.scene().items() if i.zValue() == 20.0]  # the rubber wire is gone


def test_dragging_a_node_is_one_undoable_move(canvas, qtbot):
    view = canvas(_small())
    item = view.scene().nodes["other"]
    start = _vp(view, item.mapToScene(QPointF(NODE_WIDTH / 2, 40)))
    _drag(qtbot, view, start, start + QPoint(83, 41), steps=6)
    doc = view.document
    assert doc.undo_stack.count() == 1 and doc.undo_stack.text(0) == "Move other"
    x, y = doc.design.node("other").position
    assert (x % 20, y % 20) == (0, 0) and (x, y) != (780, 200)  # snapped to the grid
    assert item.pos() == QPointF(x, y)
    doc.undo_stack.undo()
    assert item.pos() == QPointF(780, 200)


def test_moving_a_node_reroutes_its_wires(canvas):
    view = canvas(_small())
    scene = view.scene()
    edge = scene.edges[Edge("img", "conv", 0)]
    end_before = edge.path().pointAtPercent(1.0)
    view.document.push(C.MoveNodes(view.document, {"conv": ((260, 0), (260, 300))}))
    end_after = edge.path().pointAtPercent(1.0)
    assert end_after.y() - end_before.y() == pytest.approx(300)


def test_delete_key_removes_selection_and_undo_brings_items_back(canvas, qtbot, template_doc):
    view = canvas(template_doc("cnn"))
    scene = view.scene()
    view.select_nodes(["bn1", "relu1"])
    view.setFocus()
    qtbot.keyClick(view.viewport(), Qt.Key.Key_Delete)
    assert "bn1" not in scene.nodes and "relu1" not in scene.nodes
    assert Edge("conv1", "bn1", 0) not in scene.edges
    assert scene.nodes["conv2"].problems  # its input is gone: the badge shows
    view.document.undo_stack.undo()
    assert {"bn1", "relu1"} <= set(scene.nodes)
    assert set(scene.edges) == set(view.document.design.edges)
    assert not scene.nodes["conv2"].problems


def test_disconnecting_a_selected_edge(canvas, qtbot, template_doc):
    view = canvas(template_doc("cnn"))
    scene = view.scene()
    scene.clearSelection()
    scene.edges[Edge("pool", "flatten", 0)].setSelected(True)
    view.delete_action.trigger()
    assert not view.document.design.has_edge(Edge("pool", "flatten", 0))
    assert view.document.undo_stack.text(0) == "Disconnect pool → flatten"
    assert scene.nodes["flatten"].shape_text == "→ ?"


def test_select_all_copy_paste_and_duplicate(canvas, qtbot, template_doc):
    view = canvas(template_doc("cnn"))
    scene = view.scene()
    doc = view.document
    view.select_nodes(["conv2", "relu2"])
    view.copy_action.trigger()
    scene.paste()
    pasted = view.selected_node_ids()
    assert len(pasted) == 2 and not {"conv2", "relu2"} & set(pasted)
    assert Edge(pasted[0], pasted[1], 0) in scene.edges
    assert doc.design.node(pasted[0]).position == (
        doc.design.node("conv2").position[0] + 40,
        doc.design.node("conv2").position[1] + 40,
    )
    dup = scene.duplicate_selection()
    assert len(dup) == 2 and doc.undo_stack.text(doc.undo_stack.count() - 1) == "Duplicate 2 nodes"
    view.setFocus()
    qtbot.keyClick(view.viewport(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    assert len(view.selected_node_ids()) == len(doc.design)


def test_cut_is_one_undo_step(canvas, template_doc):
    view = canvas(template_doc("cnn"))
    before = dumps(view.document.design)
    view.select_nodes(["dropout"])
    view.cut_action.trigger()
    assert "dropout" not in view.document.design
    assert view.document.undo_stack.text(0) == "Cut 1 node"
    view.document.undo_stack.undo()
    assert dumps(view.document.design) == before
    view.scene().paste(QPointF(1000, 1000))
    assert any(n.type == "Dropout" and n.position == (1000, 1000) for n in view.document.design)


def test_pasting_foreign_text_explains_itself(canvas):
    view = canvas(_small())
    messages = _messages(view)
    QApplication.clipboard().setText("hello")
    assert view.scene().paste() == []
    assert "no Deepwire layers" in messages[-1]


def test_inline_relabel_by_double_click(canvas, qtbot):
    view = canvas(_small())
    scene = view.scene()
    item = scene.nodes["conv"]
    point = _vp(view, item.mapToScene(QPointF(60, 30)))
    qtbot.mouseDClick(view.viewport(), LEFT, pos=point)
    editor = scene._editor
    assert editor is not None and editor.toPlainText() == "conv"
    qtbot.keyClicks(view.viewport(), "features")
    qtbot.keyClick(view.viewport(), Qt.Key.Key_Return)
    assert view.document.design.node("conv").label == "features"
    assert item.label_text == "features"
    assert view.document.undo_stack.text(0) == "Rename conv to 'features'"
    qtbot.waitUntil(
        lambda: not [i for i in scene.items() if isinstance(i, LabelEditor)], timeout=2000
    )


def test_escape_cancels_a_relabel(canvas, qtbot):
    view = canvas(_small())
    editor = view.scene().start_relabel("dense")
    qtbot.keyClicks(view.viewport(), "xyz")
    qtbot.keyClick(view.viewport(), Qt.Key.Key_Escape)
    assert view.document.design.node("dense").label == ""
    assert not (shiboken6.isValid(editor) and editor.isVisible())
    assert view.document.undo_stack.count() == 0


def test_param_edit_updates_shape_text_of_affected_items_only(canvas, template_doc, monkeypatch):
    view = canvas(template_doc("cnn"))
    scene = view.scene()
    refreshed = []
    original = NodeItem.refresh_analysis

    def spy(self):
        refreshed.append(self.node_id)
        original(self)

    monkeypatch.setattr(NodeItem, "refresh_analysis", spy)
    view.document.push(C.SetParam(view.document, "conv2", "out_channels", 8))
    assert scene.nodes["conv2"].shape_text == "→ (N, 8, 8, 8)"
    assert scene.nodes["pool"].shape_text == "→ (N, 8, 4, 4)"
    assert scene.nodes["dense"].params_text == "8,256 parameters"
    assert scene.edges[Edge("conv2", "relu2", 0)].label == "(N, 8, 8, 8)"
    assert set(refreshed) == {"conv2", "relu2", "pool", "flatten", "dense"}


def test_a_bad_param_shows_the_error_badge_and_tooltip(canvas, template_doc):
    view = canvas(template_doc("cnn"))
    view.document.push(C.SetParam(view.document, "dense", "out_features", 20))
    view.document.push(C.SetParam(view.document, "image", "shape", [1, 8]))
    conv = view.scene().nodes["conv1"]
    assert conv.problems
    tip = view.scene().tooltip_at(conv.sceneBoundingRect().center())
    assert "Conv2d" in tip and conv.problems[0].split(" — ")[0][:30] in tip
    assert conv.shape_text == "→ ?"


def test_wheel_zoom_fit_and_center(canvas, template_doc):
    view = canvas(template_doc("cnn"))
    view.fit()
    viewport_rect = view.mapToScene(view.viewport().rect()).boundingRect()
    assert viewport_rect.contains(view.scene().content_rect())
    zoom = view.zoom()
    view.zoom_in_action.trigger()
    assert view.zoom() == pytest.approx(zoom * 1.15**2)
    view.zoom_by(1e-6)
    assert view.zoom() == pytest.approx(0.03)
    view.center_on_node("dense")
    centre = view.mapToScene(view.viewport().rect().center())
    assert view.scene().nodes["dense"].sceneBoundingRect().adjusted(-2, -2, 2, 2).contains(centre)
    assert view.zoom() == pytest.approx(1.0)


def test_middle_drag_pans(canvas, qtbot, template_doc):
    view = canvas(template_doc("cnn"))
    view.set_zoom(1.0)
    before = view.mapToScene(QPoint(0, 0))
    vp = view.viewport()
    qtbot.mousePress(vp, Qt.MouseButton.MiddleButton, pos=QPoint(500, 400))
    qtbot.mouseMove(vp, QPoint(400, 350))
    qtbot.mouseRelease(vp, Qt.MouseButton.MiddleButton, pos=QPoint(400, 350))
    after = view.mapToScene(QPoint(0, 0))
    assert (after - before).x() == pytest.approx(100, abs=1)
    assert (after - before).y() == pytest.approx(50, abs=1)


def test_auto_layout_orders_by_depth_and_keeps_gan_networks_apart(canvas, template_doc):
    view = canvas(template_doc("gan"))
    doc = view.document
    # Scramble, then lay out.
    pos = doc.design.node
    doc.push(
        C.MoveNodes(
            doc,
            {
                "sample": (pos("sample").position, (0, 0)),
                "d_fc1": (pos("d_fc1").position, (900, 10)),
            },
        )
    )
    view.auto_layout_action.trigger()
    assert doc.undo_stack.text(1) == "Auto-layout"
    gen, disc = view.scene().groups["generator"], view.scene().groups["discriminator"]
    view.scene()._refresh_groups()
    assert not gen.rect().intersects(disc.rect())
    # Depth reads like text: left to right, a chain too long for the view wraps onto a band below.
    order = doc.analysis.topological_order("discriminator")
    reading = [tuple(reversed(doc.design.node(n).position)) for n in order]
    assert reading == sorted(reading)


def test_palette_style_add_wires_after_the_selected_node(canvas, template_doc):
    view = canvas(template_doc("mlp"))
    last = view.document.design.nodes[-1].id
    view.select_nodes([last])
    node_id = view.add_layer("Softmax")
    assert view.document.design.has_edge(Edge(last, node_id, 0))
    assert view.selected_node_ids() == [node_id]
    assert view.scene().nodes[node_id].pos().x() > view.scene().nodes[last].pos().x()


def test_zoomed_out_nodes_skip_their_text(canvas, template_doc):
    view = canvas(template_doc("cnn"))

    def ink(scale: float) -> int:
        view.resetTransform()
        view.set_zoom(scale)
        view.center_on_node("conv1") if scale >= 0.7 else view.centerOn(view.scene().nodes["conv1"])
        image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32)
        image.fill(0)
        painter = QPainter(image)
        view.render(painter)
        painter.end()
        colours = {
            image.pixel(x, y)
            for x in range(0, image.width(), 2)
            for y in range(0, image.height(), 2)
        }
        return len(colours)

    # Full detail draws antialiased text in many shades; the overview draws flat blocks (with
    # their type names only where a block is big enough to hold them).
    assert ink(1.0) > 3 * ink(0.15)


def test_closing_the_view_frees_its_items(qtbot, template_doc):
    from gui.canvas import CanvasView

    doc = template_doc("cnn")
    view = CanvasView(doc)
    with qtbot.waitExposed(view, timeout=5000):
        view.show()
    node_ref = weakref.ref(view.scene().nodes["conv1"])
    edge_ref = weakref.ref(next(iter(view.scene().edges.values())))
    scene_ref = weakref.ref(view.scene())
    view.close()
    view.deleteLater()
    del view
    qtbot.wait(10)
    QApplication.sendPostedEvents(None, 0)
    gc.collect()
    assert node_ref() is None and edge_ref() is None and scene_ref() is None
    # The document outlives its views and keeps working.
    doc.push(C.SetParam(doc, "dense", "out_features", 8))
    assert doc.analysis.info["dense"].output_shape == (8,)


def test_every_item_kind_is_drawn_without_errors(canvas, template_doc):
    view = canvas(template_doc("gan"))
    view.scene().select_all()
    view.document.push(C.SetParam(view.document, "d_fc1", "out_features", 3))
    for scale in (1.5, 1.0, 0.5, 0.2, 0.05):
        view.set_zoom(scale)
        image = view.grab()
        assert not image.isNull()
    kinds = {type(i) for i in view.scene().items()}
    assert {NodeItem, EdgeItem, GroupItem} <= kinds


def _grid_design(rows: int, cols: int) -> Document:
    layers, edges = [], []
    for r in range(rows):
        prev = None
        for c in range(cols):
            node_id = f"n{r}_{c}"
            if c == 0:
                layers.append((node_id, "Input", {"shape": [8]}, (0.0, r * 200.0)))
            else:
                layers.append((node_id, "ReLU", {}, (c * 260.0, r * 200.0)))
                edges.append((prev, node_id))
            prev = node_id
    return Document(wired(*layers, edges=edges))


def test_far_zoom_draws_one_overview_and_nodes_stay_clickable(canvas, qtbot):
    view = canvas(_grid_design(12, 20))
    scene = view.scene()
    no_contents = NodeItem.GraphicsItemFlag.ItemHasNoContents
    view.set_zoom(0.2)  # Fit stops at a readable zoom; zooming out shows the whole grid
    view.centerOn(scene.content_rect().center())
    assert view.zoom() < 0.42 and scene.overview_on and scene.overview.isVisible()
    assert scene.nodes["n3_4"].flags() & no_contents
    assert scene.edges[Edge("n3_3", "n3_4", 0)].flags() & no_contents
    image = view.grab()  # the overview paints the blocks
    assert not image.isNull()
    # Nodes are still there to click, select and drag while zoomed out.
    target = scene.nodes["n5_7"]
    qtbot.mouseClick(view.viewport(), LEFT, pos=_vp(view, target.sceneBoundingRect().center()))
    assert view.selected_node_ids() == ["n5_7"]
    assert scene.overview._dirty  # the outline of the selection is redrawn
    # Zooming back in hands drawing back to the items (with hysteresis in between).
    view.set_zoom(0.45)
    assert scene.overview_on
    view.set_zoom(0.6)
    assert not scene.overview_on and not scene.overview.isVisible()
    assert not scene.nodes["n3_4"].flags() & no_contents


def test_items_added_while_zoomed_out_follow_the_overview(canvas):
    view = canvas(_grid_design(12, 20))
    view.set_zoom(0.2)
    node_id = view.drop_layer("Dropout", QPointF(100, -300))
    item = view.scene().nodes[node_id]
    assert item.flags() & NodeItem.GraphicsItemFlag.ItemHasNoContents
    view.set_zoom(1.0)
    assert not item.flags() & NodeItem.GraphicsItemFlag.ItemHasNoContents


def test_wires_built_on_open_meet_their_ports_and_reopening_zoomed_out_keeps_the_overview(
    canvas,
):
    """Opening builds wires from the design's positions: each one starts at its source's output
    port and ends at its target's input port, a backward wire on its return lane, exactly as
    when a node move reroutes it; a design reset while zoomed out gives wires no contents."""
    doc = Document(
        wired(
            ("a", "Input", {"shape": [8]}, (0.0, 0.0)),
            ("b", "ReLU", {}, (260.0, 0.0)),
            ("c", "ReLU", {}, (0.0, 200.0)),  # left of its source: a backward wire
            edges=[("a", "b"), ("b", "c")],
        )
    )
    view = canvas(doc)
    scene = view.scene()
    for edge in doc.design.edges:
        item = scene.edges[edge]
        source, target = scene.nodes[edge.source], scene.nodes[edge.target]
        out = source.mapToScene(source.output_port_pos())
        into = target.mapToScene(target.input_port_pos(edge.port))
        assert item.ends == (out.x(), out.y(), into.x(), into.y())
        built = (item.ends, item._lane, item.boundingRect())
        item._place(*item._ends())  # what a reroute computes
        assert (item.ends, item._lane, item.boundingRect()) == built
    assert scene.edges[Edge("b", "c", 0)]._lane is not None
    view.set_zoom(0.2)
    assert scene.overview_on
    doc.reset(doc.design)  # a reopen while zoomed out rebuilds every item
    no_contents = EdgeItem.GraphicsItemFlag.ItemHasNoContents
    assert all(item.flags() & no_contents for item in scene.edges.values())
    assert all(
        item.flags() & EdgeItem.GraphicsItemFlag.ItemIsSelectable for item in scene.edges.values()
    )


def test_edge_context_menu_disconnects(canvas, template_doc):
    view = canvas(template_doc("cnn"))
    edge = view.scene().edges[Edge("conv1", "bn1", 0)]
    menu = view.scene().context_menu(edge.path().pointAtPercent(0.5))
    actions = {a.text(): a for a in menu.actions()}
    actions["Disconnect conv1 → bn1"].trigger()
    assert not view.document.design.has_edge(Edge("conv1", "bn1", 0))
    node_menu = view.scene().context_menu(view.scene().nodes["dense"].sceneBoundingRect().center())
    assert [a.text() for a in node_menu.actions() if a.text()] == [
        "Rename",
        "Duplicate",
        "Copy",
        "Delete",
    ]


def test_space_drag_pans_and_snap_can_be_turned_off(canvas, qtbot):
    view = canvas(_small())
    view.set_zoom(1.0)
    vp = view.viewport()
    before = view.mapToScene(QPoint(0, 0))
    qtbot.keyPress(vp, Qt.Key.Key_Space)
    _drag(qtbot, view, QPoint(600, 600), QPoint(560, 570))
    qtbot.keyRelease(vp, Qt.Key.Key_Space)
    after = view.mapToScene(QPoint(0, 0))
    assert (after - before).x() == pytest.approx(40, abs=1)
    assert view.document.undo_stack.count() == 0  # panning changed nothing in the design
    view.snap_action.trigger()
    assert not view.scene().snap_to_grid
    item = view.scene().nodes["other"]
    start = _vp(view, item.mapToScene(QPointF(NODE_WIDTH / 2, 40)))
    _drag(qtbot, view, start, start + QPoint(33, 7))
    assert view.document.design.node("other").position == (813.0, 207.0)


def test_a_drop_in_a_gan_joins_the_network_it_lands_in(canvas, template_doc):
    view = canvas(template_doc("gan"))
    scene = view.scene()
    disc = scene.groups["discriminator"].rect()
    inside = view.drop_layer("Dropout", disc.center())
    below = view.drop_layer("Dropout", QPointF(disc.center().x(), disc.bottom() + 400))
    design = view.document.design
    assert design.node(inside).network == "discriminator"
    assert design.node(below).network == "discriminator"  # nearest frame
    gen = scene.groups["generator"].rect()
    above = view.drop_layer("ReLU", QPointF(gen.center().x(), gen.top() - 300))
    assert design.node(above).network == "generator"


def test_undoing_the_source_away_mid_drag_cancels_the_wire(canvas, qtbot):
    view = canvas(_small())
    doc = view.document
    doc.push(C.AddNode(doc, "ReLU", (0, 400)))
    new_id = doc.design.nodes[-1].id
    view.scene().begin_connection(new_id)
    doc.undo_stack.undo()
    assert not view.scene().connecting
    view.scene().update_connection(QPointF(10, 10))  # no stale state left behind


def test_an_edit_while_zoomed_out_outlines_the_broken_node_in_the_overview(canvas):
    """At overview zoom a node is a flat block; one that an edit breaks still stands out (outlined
    in the error colour) and is plain again after undo — the incremental analysis reaches the
    far-zoom drawing too."""
    from gui.canvas.theme import ERROR_COLOUR

    view = canvas(_grid_design(12, 20))
    scene = view.scene()
    view.set_zoom(0.2)
    view.centerOn(scene.nodes["n5_7"].sceneBoundingRect().center())
    assert scene.overview_on

    def outline_pixels(node_id: str) -> int:
        """Pixels in the error colour along the block's edges (in the viewport)."""
        image = view.viewport().grab().toImage()
        box = view.mapFromScene(scene.nodes[node_id].sceneBoundingRect()).boundingRect()
        red = ERROR_COLOUR.rgb() & 0xFFFFFF
        return sum(
            1
            for x in range(box.left() - 2, box.right() + 3)
            for y in range(box.top() - 2, box.bottom() + 3)
            if 0 <= x < image.width()
            and 0 <= y < image.height()
            and image.pixel(x, y) & 0xFFFFFF == red
        )

    assert outline_pixels("n5_7") == 0 and scene.nodes["n5_7"].isVisible()
    doc = view.document
    doc.push(C.Disconnect(doc, Edge("n5_6", "n5_7", 0)))  # n5_7's input is now unconnected
    assert doc.analysis.info["n5_7"].problems
    assert outline_pixels("n5_7") > 8  # a visible outline around the block
    assert outline_pixels("n5_5") == 0  # its neighbours stay plain
    doc.undo_stack.undo()
    assert outline_pixels("n5_7") == 0
