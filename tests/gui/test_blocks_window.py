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
    assert item.shape_text == "(N, 1, 8, 8) → (N, 16, 8, 8)"
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
