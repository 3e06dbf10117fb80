"""Blocks in the window: make, repeat, enter, expand, palette, save/reopen, problems."""

from __future__ import annotations

from engine.editing.blocks import make_block, set_repeat
from engine.io import dumps, load_design
from gui.commands import ApplyDesignEdit, push_block_edit


def test_make_block_draws_one_instance_and_undo_restores(template_doc, canvas, qtbot):
    doc = template_doc("cnn")
    view = canvas(doc)
    scene = view.scene()
    before = dumps(doc.design)
    inst = push_block_edit(doc, make_block(doc.design, ["conv1", "bn1", "relu1"], "stem"))
    assert inst == "stem"
    assert not {"conv1", "bn1", "relu1"} & set(scene.nodes)
    item = scene.nodes["stem"]
    assert item.title == "▣ stem"
    assert item.shape_text == "1×8×8 → 16×8×8"
    assert item.params_text.endswith("parameters") and item.params_text != "no parameters"
    assert item.slot_ports == [0]
    assert len(scene.edges) == len(doc.design.edges)
    doc.undo_stack.undo()
    assert {"conv1", "bn1", "relu1"} <= set(scene.nodes) and "stem" not in scene.nodes
    assert dumps(doc.design) == before
    doc.undo_stack.redo()
    push_block_edit(doc, set_repeat(doc.design, "stem", 2))
    assert scene.nodes["stem"].title == "▣ stem ×2"


def test_copy_paste_keeps_block(template_doc, canvas, qtbot):
    doc = template_doc("cnn")
    view = canvas(doc)
    scene = view.scene()
    doc.push(ApplyDesignEdit(doc, make_block(doc.design, ["conv2"], "c2").design, "make"))
    # paste the instance into another document: the definition travels with it
    scene.select_nodes(["c2"])
    assert scene.copy_selection() == 1
    other = template_doc("mlp")
    view2 = canvas(other)
    ids = view2.scene().paste()
    assert len(ids) == 1 and "c2" in other.design.blocks
    assert other.design.node(ids[0]).params["block"] == "c2"
    other.undo_stack.undo()
    assert "c2" not in other.design.blocks


def test_save_reopen_keeps_blocks(template_doc, tmp_path):
    doc = template_doc("cnn")
    push_block_edit(doc, make_block(doc.design, ["conv1", "bn1", "relu1"], "stem"))
    path = tmp_path / "b.json"
    doc.save(path)
    again = load_design(path)
    assert "stem" in again.blocks and again.node("stem").type == "Block"
    assert dumps(again) == dumps(doc.design)


# -- the window ---------------------------------------------------------------------------------

from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from resources import template_path  # noqa: E402


def _window(main_window, stem="cnn"):
    window, prompts = main_window(load_design(template_path(stem)), size=(1400, 900), exposed=True)
    return window, window.block_canvas


def _double_click(qtbot, view, node_id):
    item = view.scene().nodes[node_id]
    view.center_on_node(node_id)
    point = view.mapFromScene(item.mapToScene(QPointF(60, 30)))
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=point)


def test_make_block_action_repeat_enter_edit_expand(main_window, qtbot):
    window, blocks = _window(main_window)
    doc = window.document
    before = dumps(doc.design)
    blocks.ask_name = lambda _title, _default: "stem"
    window.canvas.select_nodes(["conv1", "bn1", "relu1"])
    assert blocks.make_action.shortcut().toString() == "Ctrl+B"
    blocks.make_action.trigger()
    scene = window.canvas.scene()
    assert "stem" in scene.nodes and "conv1" not in scene.nodes
    assert scene.nodes["stem"].shape_text == "1×8×8 → 16×8×8"
    assert window.canvas.selected_node_ids() == ["stem"]
    # the status bar's totals and counts follow the swap
    assert window.summary.totals == doc.analysis.totals()
    assert window.summary.edge_count == len(doc.design.edges)
    # the inspector shows the instance and its repeat
    assert "stem" in window.inspector.title.text()
    assert window.inspector.editor("repeat").value() == 1
    doc.undo_stack.undo()
    assert dumps(doc.design) == before and "conv1" in scene.nodes
    assert window.summary.totals == doc.analysis.totals()
    doc.undo_stack.redo()
    # Repeat ×2 (conv1 takes 1 channel in, 16 out: a second copy refuses; the node says so)
    window.canvas.select_nodes(["stem"])
    blocks.ask_repeat = lambda current: 2
    blocks.repeat_action.trigger()
    assert scene.nodes["stem"].title == "▣ stem ×2"
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert scene.nodes["stem"].title == "▣ stem"
    # double-click enters: the breadcrumb shows the path and the inside's layers
    _double_click(qtbot, window.canvas, "stem")
    qtbot.waitUntil(lambda: blocks.inner_view is not None, timeout=3000)
    assert blocks.crumb_texts() == [doc.design.name or "design", "stem"]  # instance = block name
    assert blocks.crumbs.isVisible()
    inner_scene = blocks.inner_view.scene()
    assert {"conv1", "bn1", "relu1"} <= set(inner_scene.nodes)
    # edit a parameter inside with the inspector: the definition changes, one undo step
    blocks.inner_view.select_nodes(["conv1"])
    qtbot.waitUntil(lambda: window.inspector.node_id == "conv1", timeout=3000)
    steps = doc.undo_stack.index()
    window.inspector.editor("out_channels").setValue(8)
    assert doc.design.blocks["stem"].body.node("conv1").params["out_channels"] == 8
    assert doc.undo_stack.index() == steps + 1
    assert scene.nodes["stem"].shape_text == "1×8×8 → 8×8×8"
    doc.undo_stack.undo()
    assert doc.design.blocks["stem"].body.node("conv1").params["out_channels"] == 16
    qtbot.waitUntil(
        lambda: inner_scene.nodes["conv1"].shape_text == "→ (N, 16, 8, 8)", timeout=3000
    )
    # back with the breadcrumb, then expand
    blocks.go_to(0)
    assert blocks.inner_view is None and blocks.crumb_texts() == [doc.design.name or "design"]
    window.canvas.select_nodes(["stem"])
    blocks.expand_action.trigger()
    assert {"conv1", "bn1", "relu1"} <= set(scene.nodes) and "stem" not in scene.nodes
    assert "stem" not in doc.design.blocks


def test_make_block_refusal_is_one_line(main_window):
    window, blocks = _window(main_window)
    refusals = []
    blocks.refused.connect(refusals.append)
    blocks.ask_name = lambda _title, _default: "odd"
    window.canvas.select_nodes(["conv1", "conv2"])  # bn1, relu1 between: not convex
    blocks.make_action.trigger()
    assert len(refusals) == 1 and "not convex" in refusals[0] and "\n" not in refusals[0]
    assert "Not applied" in window.statusBar().currentMessage()
    assert "odd" not in window.document.design.blocks


def test_palette_lists_library_blocks_and_inserts(main_window, qtbot):
    window, blocks = _window(main_window)
    paths = window.palette_panel.block_paths()
    assert "resnet_basic" in paths and "lstm_stack" in paths
    window.palette_panel.blockActivated.emit(paths["resnet_basic"])
    doc = window.document
    inst = [n.id for n in doc.design if n.type == "Block"]
    assert inst and "resnet_basic" in doc.design.blocks
    assert window.canvas.scene().nodes[inst[0]].title == "▣ resnet_basic"
    doc.undo_stack.undo()
    assert "resnet_basic" not in doc.design.blocks


def test_save_block_to_library_appears_in_palette(main_window, tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPWIRE_DATA_DIR", str(tmp_path / "userdata"))
    window, blocks = _window(main_window)
    push_block_edit(window.document, make_block(window.document.design, ["conv2"], "mine"))
    window.canvas.select_nodes(["mine"])
    path = blocks.save_to_library()
    assert path is not None and path.exists()
    assert "mine" in window.palette_panel.block_paths()


def test_window_save_reopen_keeps_blocks(main_window, tmp_path):
    window, blocks = _window(main_window)
    doc = window.document
    push_block_edit(doc, make_block(doc.design, ["conv1", "bn1", "relu1"], "stem"))
    path = tmp_path / "with_blocks.json"
    assert window._save_to(path)
    text = path.read_text()
    window2, _ = main_window(path)
    assert "stem" in window2.document.design.blocks
    assert window2.canvas.scene().nodes["stem"].title == "▣ stem"
    assert dumps(window2.document.design) == text


def test_problem_inside_block_shows_its_path(main_window, qtbot):
    window, blocks = _window(main_window)
    doc = window.document
    push_block_edit(doc, make_block(doc.design, ["conv1", "bn1", "relu1"], "stem"))
    body = doc.design.blocks["stem"].body.copy()
    body.set_param("conv1", "kernel_size", 99)  # bigger than the 8×8 image
    from engine.editing.blocks import edit_definition

    push_block_edit(doc, edit_definition(doc.design, "stem", body=body))
    qtbot.waitUntil(
        lambda: any("stem[0]/conv1" in p.message for p in window.problems.problems), timeout=3000
    )
    row = next(i for i, p in enumerate(window.problems.problems) if "stem[0]/" in p.message)
    item = window.problems.tree.topLevelItem(row)
    window.problems.tree.itemClicked.emit(item, 0)
    assert window.canvas.selected_node_ids() == ["stem"]


def test_inspector_sets_an_exposed_value_checked_by_shape_rules(main_window, qtbot):
    window, blocks = _window(main_window, "resnet")
    doc = window.document
    window.canvas.select_nodes(["stage1"])
    qtbot.waitUntil(lambda: window.inspector.node_id == "stage1", timeout=3000)
    assert window.inspector.editor("repeat").value() == 2
    channels = window.inspector.editor("channels")
    assert channels.value() == 16
    channels.setValue(24)  # the identity shortcut adds 16 channels to 24: a shape problem
    assert doc.design.node("stage1").params["channels"] == 24
    assert doc.undo_stack.undoText() == "Set stage1.channels"
    qtbot.waitUntil(
        lambda: any(p.message.startswith("stage1[0]/") for p in window.problems.problems),
        timeout=3000,
    )
    assert window.canvas.scene().nodes["stage1"].problems
    doc.undo_stack.undo()
    assert doc.design.node("stage1").params["channels"] == 16
    assert channels.value() == 16
    qtbot.waitUntil(lambda: not window.canvas.scene().nodes["stage1"].problems, timeout=3000)


def test_nested_block_made_and_entered_inside(main_window, qtbot):
    window, blocks = _window(main_window)
    doc = window.document
    assert not blocks.crumbs.isVisible()  # no blocks: no breadcrumb bar
    blocks.ask_name = lambda _title, _default: "stem"
    window.canvas.select_nodes(["conv1", "bn1", "relu1"])
    assert blocks.make_block()
    assert blocks.crumbs.isVisible()
    assert blocks.enter("stem")
    blocks.inner_view.select_nodes(["bn1", "relu1"])
    assert blocks.make_block("post")  # a block inside the block: one undo step on the document
    assert "post" in doc.design.blocks
    body = doc.design.blocks["stem"].body
    assert body.node("post").type == "Block" and "bn1" not in body
    qtbot.waitUntil(lambda: "post" in blocks.inner_view.scene().nodes, timeout=3000)
    assert blocks.enter("post")
    assert blocks.crumb_texts() == [doc.design.name or "design", "stem", "post"]
    assert set(blocks.inner_view.scene().nodes) >= {"bn1", "relu1"}
    blocks.go_to(1)
    assert blocks.crumb_texts()[-1] == "stem"
    doc.undo_stack.undo()  # the nested Make Block
    assert "post" not in doc.design.blocks and "bn1" in doc.design.blocks["stem"].body
    qtbot.waitUntil(lambda: "bn1" in blocks.inner_view.scene().nodes, timeout=3000)
    doc.undo_stack.undo()  # the outer Make Block: the block shown is gone, back to the design
    qtbot.waitUntil(lambda: blocks.inner_view is None, timeout=3000)
    assert "conv1" in window.canvas.scene().nodes


def test_dropping_a_library_block_on_the_canvas(main_window, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

    from gui.panels.palette import BLOCK_MIME

    window, blocks = _window(main_window)
    palette = window.palette_panel
    assert "resnet_basic" in palette.block_paths()  # listed (after the first paint, or now)
    item = next(
        palette._blocks_group.child(i)
        for i in range(palette._blocks_group.childCount())
        if palette._blocks_group.child(i).text(0) == "resnet_basic"
    )
    mime = palette.tree.mimeData([item])  # what a drag from the palette carries
    assert mime.hasFormat(BLOCK_MIME) and not mime.hasFormat("application/x-deepwire-layer")
    refusals = []
    blocks.refused.connect(refusals.append)
    viewport = window.canvas.viewport()
    at = QPoint(viewport.width() // 2, viewport.height() // 3)
    copy, left, mods = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier(0)
    enter = QDragEnterEvent(at, copy, mime, left, mods)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDragMoveEvent(at, copy, mime, left, mods))
    QApplication.sendEvent(viewport, QDropEvent(QPointF(at), copy, mime, left, mods))
    assert refusals == []
    inst = [n for n in window.document.design if n.type == "Block"]
    assert len(inst) == 1 and inst[0].params["block"] == "resnet_basic"
    rect = window.canvas.scene().nodes[inst[0].id].sceneBoundingRect()
    assert rect.contains(window.canvas.mapToScene(at))


def test_palette_layer_added_inside_a_block_goes_into_its_definition(main_window, qtbot):
    window, blocks = _window(main_window)
    doc = window.document
    push_block_edit(doc, make_block(doc.design, ["conv1", "bn1", "relu1"], "stem"))
    assert blocks.enter("stem")
    top = len(doc.design)
    node_id = window.add_layer("Dropout")
    assert node_id in doc.design.blocks["stem"].body and node_id not in doc.design
    assert len(doc.design) == top
    assert doc.undo_stack.undoText() == "Add Dropout in block 'stem'"
    doc.undo_stack.undo()
    assert node_id not in doc.design.blocks["stem"].body
    qtbot.waitUntil(lambda: node_id not in blocks.inner_view.scene().nodes, timeout=3000)
