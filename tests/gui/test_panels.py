"""Palette, inspector, problems list and template gallery, each against a real Document."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from engine.io import dumps, load_design
from engine.layers import REGISTRY
from gui.document import Document
from gui.panels.gallery import TemplateGallery
from gui.panels.inspector import InspectorPanel, parse_shape
from gui.panels.palette import LAYER_MIME, PalettePanel
from gui.panels.problems import ProblemsPanel
from resources import BLOCK_TEMPLATES, DATASET_TEMPLATES, TEMPLATES, template_path

# The offscreen platform warns once per shown top-level widget; it is not a defect of ours.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def cnn_doc():
    return Document(load_design(template_path("cnn")))


@pytest.fixture
def palette(qtbot):
    panel = PalettePanel()
    qtbot.addWidget(panel)
    return panel


def _type_in(qtbot, editor, text: str) -> None:
    line = editor.lineEdit() if hasattr(editor, "lineEdit") else editor
    line.selectAll()
    qtbot.keyClicks(line, text)
    qtbot.keyClick(line, Qt.Key.Key_Return)


# -- palette -----------------------------------------------------------------------------------


def test_palette_lists_every_registry_layer_grouped_by_category(palette):
    assert sorted(palette.visible_type_ids()) == sorted(spec.type_id for spec in REGISTRY)
    groups = [palette.tree.topLevelItem(i).text(0) for i in range(palette.tree.topLevelItemCount())]
    assert groups == [*REGISTRY.by_category(), "Blocks"]  # then the block library
    conv = palette.item_for("Conv2d")
    assert conv.parent().text(0) == "Convolution"
    assert REGISTRY.get("Conv2d").help in conv.toolTip(0)
    assert not conv.icon(0).isNull()


def test_palette_search_filters(palette, qtbot):
    qtbot.keyClicks(palette.search, "conv")
    assert palette.visible_type_ids() == ["Conv1d", "Conv2d", "ConvTranspose2d"]
    palette.search.clear()
    palette.search.setText("lstm")
    assert palette.visible_type_ids() == ["LSTM"]
    # No layer is called "activation": the category is searched instead.
    palette.search.setText("activation")
    assert palette.visible_type_ids() == [s.type_id for s in REGISTRY.by_category()["Activation"]]
    palette.search.setText("no such layer")
    assert palette.visible_type_ids() == []
    palette.search.setText("")
    assert len(palette.visible_type_ids()) == len(REGISTRY)


def test_palette_drag_carries_the_layer_type(palette):
    mime = palette.tree.mimeData([palette.item_for("BatchNorm2d")])
    assert mime.hasFormat(LAYER_MIME)
    assert bytes(mime.data(LAYER_MIME)).decode() == "BatchNorm2d"


def test_palette_double_click_and_enter_activate(palette, qtbot):
    item = palette.item_for("ReLU")
    with qtbot.waitSignal(palette.layerActivated, timeout=1000) as blocker:
        palette.tree.itemDoubleClicked.emit(item, 0)
    assert blocker.args == ["ReLU"]
    palette.search.setText("dropout")
    with qtbot.waitSignal(palette.layerActivated, timeout=1000) as blocker:
        qtbot.keyClick(palette.search, Qt.Key.Key_Return)
    assert blocker.args == ["Dropout"]
    palette.tree.setCurrentItem(palette.item_for("GELU"))
    with qtbot.waitSignal(palette.layerActivated, timeout=1000) as blocker:
        qtbot.keyClick(palette.tree, Qt.Key.Key_Return)
    assert blocker.args == ["GELU"]


# -- inspector ---------------------------------------------------------------------------------


@pytest.fixture
def inspector(qtbot, cnn_doc):
    panel = InspectorPanel(cnn_doc)
    qtbot.addWidget(panel)
    panel.show()
    return panel


def test_inspector_editors_follow_the_schema(inspector):
    inspector.show_selection(["conv1"])
    out = inspector.editor("out_channels")
    assert isinstance(out, QSpinBox)
    assert (out.minimum(), out.maximum(), out.value()) == (1, 65536, 16)
    assert isinstance(inspector.editor("bias"), QCheckBox)
    assert inspector.output_shape_label.text() == "(N, 16, 8, 8)"
    assert inspector.input_shape_label.text() == "(N, 1, 8, 8)"
    assert inspector.params_label.text() == "160"
    inspector.show_selection(["dropout"])
    p = inspector.editor("p")
    assert isinstance(p, QDoubleSpinBox) and (p.minimum(), p.maximum()) == (0.0, 1.0)
    inspector.show_selection(["image"])
    assert isinstance(inspector.editor("shape"), QLineEdit)
    assert inspector.editor("shape").text() == "1, 8, 8"
    assert isinstance(inspector.editor("dtype"), QComboBox)
    assert inspector.editor("dtype").currentText() == "float32"
    bn = inspector.document.design.node("bn1")
    inspector.show_selection([bn.id])
    assert inspector.editor("eps").text() == "1e-05"  # not rounded to 0.00000


def test_inspector_edit_pushes_one_command_and_updates_shapes(inspector, qtbot):
    doc = inspector.document
    inspector.show_selection(["conv1"])
    _type_in(qtbot, inspector.editor("out_channels"), "32")
    assert doc.design.node("conv1").params["out_channels"] == 32
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.undoText() == "Change out_channels of conv1"
    assert inspector.output_shape_label.text() == "(N, 32, 8, 8)"
    assert inspector.params_label.text() == "320"
    doc.undo_stack.undo()
    # The refresh after undo shows the old value and pushes nothing back.
    assert inspector.editor("out_channels").value() == 16
    assert inspector.output_shape_label.text() == "(N, 16, 8, 8)"
    assert doc.undo_stack.count() == 1 and doc.undo_stack.index() == 0


def test_inspector_edit_updates_the_problems_list(inspector, qtbot):
    doc = inspector.document
    problems = ProblemsPanel(doc)
    qtbot.addWidget(problems)
    assert problems.problems == []
    inspector.show_selection(["conv1"])
    _type_in(qtbot, inspector.editor("kernel_size"), "11")  # 8x8 image, padding 1: nothing left
    assert [p.node for p in problems.problems] == ["conv1"]
    assert problems.tree.topLevelItem(0).text(0) == "conv1"
    assert inspector.output_shape_label.text() == "unknown"
    assert inspector.node_problems.isVisible()
    doc.undo_stack.undo()
    assert problems.problems == []
    assert "No problems" in problems.tree.topLevelItem(0).text(1)


def test_inspector_refuses_invalid_values_with_the_reason(inspector, qtbot):
    doc = inspector.document
    before = dumps(doc.design)
    inspector.show_selection(["image"])
    _type_in(qtbot, inspector.editor("shape"), "1, 0, 8")
    assert "positive" in inspector.error_text
    assert doc.undo_stack.count() == 0
    assert dumps(doc.design) == before
    assert inspector.editor("shape").text() == "1, 8, 8"  # the editor shows the stored value
    _type_in(qtbot, inspector.editor("shape"), "1, eight, 8")
    assert "'eight' is not a whole number" in inspector.error_text
    _type_in(qtbot, inspector.editor("shape"), "(1, 16, 16)")
    assert inspector.error_text == ""
    assert doc.design.node("image").params["shape"] == [1, 16, 16]
    assert inspector.output_shape_label.text() == "(N, 1, 16, 16)"


def test_inspector_choice_bool_and_label_edits(inspector, qtbot):
    doc = inspector.document
    inspector.show_selection(["conv1"])
    inspector.editor("bias").click()
    assert doc.design.node("conv1").params["bias"] is False
    assert inspector.params_label.text() == "144"
    inspector.label_edit.setText("first conv")
    inspector.label_edit.editingFinished.emit()
    assert doc.design.node("conv1").label == "first conv"
    assert doc.undo_stack.undoText() == "Rename conv1 to 'first conv'"
    doc.undo_stack.undo()
    assert inspector.label_edit.text() == ""
    doc.undo_stack.undo()
    assert inspector.editor("bias").isChecked()


def test_inspector_clears_when_its_node_is_removed_and_summarises_the_design(inspector):
    from gui.commands import RemoveItems

    doc = inspector.document
    inspector.show_selection(["conv2"])
    assert inspector.node_id == "conv2"
    doc.push(RemoveItems(doc, ["conv2"]))
    assert inspector.node_id is None
    assert "CNN on digits" in inspector.title.text()
    assert "problem" in inspector.status_value.text()


def test_parse_shape_accepts_common_spellings():
    assert parse_shape("1, 28, 28") == [1, 28, 28]
    assert parse_shape("[3 32 32]") == [3, 32, 32]
    assert parse_shape("1x8x8") == [1, 8, 8]
    with pytest.raises(ValueError, match="separated by commas"):
        parse_shape("  ")


# -- problems ----------------------------------------------------------------------------------


def test_problems_lists_every_problem_and_click_requests_the_node(qtbot):
    doc = Document(load_design(template_path("mlp")))
    from gui.commands import Disconnect

    edge = doc.design.in_edges("hidden2")[0]
    doc.push(Disconnect(doc, edge))
    panel = ProblemsPanel(doc)
    qtbot.addWidget(panel)
    rows = [panel.tree.topLevelItem(i) for i in range(panel.tree.topLevelItemCount())]
    assert [r.text(0) for r in rows] == [p.node or "" for p in doc.analysis.problems]
    assert any(r.text(0) == "hidden2" and "not connected" in r.text(1) for r in rows)
    assert all(r.text(2) for r in rows)  # every problem carries a fix
    target = next(r for r in rows if r.text(0) == "hidden2")
    with qtbot.waitSignal(panel.nodeRequested, timeout=1000) as blocker:
        panel.tree.itemClicked.emit(target, 1)
    assert blocker.args == ["hidden2"]


# -- gallery -----------------------------------------------------------------------------------


def test_gallery_shows_the_seven_templates_with_pictures(qtbot):
    gallery = TemplateGallery()
    qtbot.addWidget(gallery)
    items = [gallery.list.item(i) for i in range(gallery.list.count())]
    every = [*TEMPLATES.values(), *DATASET_TEMPLATES.values(), *BLOCK_TEMPLATES.values()]
    titles = [title for title, _ in every]
    assert [i.text() for i in items] == titles
    assert "CNN on CIFAR-10" in titles
    assert all(not i.icon().isNull() for i in items)
    gallery.select("gan")
    assert gallery.chosen() == "gan"
    assert "Generator and discriminator" in gallery.description.text()
    assert "16 layers" in gallery.description.text()


def test_inspector_refuses_a_spin_box_value_the_schema_excludes(inspector, qtbot):
    doc = inspector.document
    inspector.show_selection(["dropout"])
    p = inspector.editor("p")
    _type_in(qtbot, p, "1")  # within the box's range, but Dropout's p must stay below 1
    assert "below 1" in inspector.error_text
    assert doc.undo_stack.count() == 0
    assert p.value() == 0.25  # back to the stored value
    _type_in(qtbot, p, "0.5")
    assert inspector.error_text == ""
    assert doc.design.node("dropout").params["p"] == 0.5


def test_design_summary_follows_every_kind_of_edit_exactly():
    from engine.graph import Edge
    from gui.commands import AddNode, Connect, Disconnect, Paste, RemoveItems, SetParam
    from gui.summary import summary_of

    doc = Document(load_design(template_path("gan")))
    summary = summary_of(doc)
    assert summary_of(doc) is summary

    def check():
        assert summary.totals == doc.analysis.totals()
        assert summary.problems == doc.analysis.problems
        assert summary.edge_count == len(doc.design.edges)
        assert dict(summary.network_sizes) == {
            net: len(doc.design.nodes_in_network(net))
            for net in doc.design.networks
            if doc.design.nodes_in_network(net)
        }

    check()
    doc.push(SetParam(doc, "g_fc3", "out_features", 32))  # GAN mismatch: a design-wide problem
    assert any(p.node == "sample" for p in summary.problems)
    check()
    doc.push(RemoveItems(doc, ["d_fc2", "g_act1"]))
    check()
    doc.push(
        Disconnect(doc, doc.design.in_edges("g_fc2")[0])
        if doc.design.in_edges("g_fc2")
        else AddNode(doc, "ReLU", (0, 0))
    )
    check()
    add = AddNode(doc, "Linear", (100, 500), network="discriminator")
    doc.push(add)
    doc.push(Connect(doc, Edge("d_act1", add.node_id)))
    check()
    nodes, edges = doc.design.subgraph_ids(["d_fc1", "d_act1"])
    doc.push(Paste(doc, nodes, edges, (40, 40)))
    check()
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
        check()
    while doc.undo_stack.canRedo():
        doc.undo_stack.redo()
        check()
    doc.reset(load_design(template_path("cnn")))
    check()
