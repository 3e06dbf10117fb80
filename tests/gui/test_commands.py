"""Every undo command: undo restores the design byte for byte, redo re-applies it exactly."""

from __future__ import annotations

import random

import pytest

from engine.graph import Edge, Node
from engine.io import dumps, load_design
from gui import commands as C
from gui.document import Document
from resources import template_path
from tests.gui.conftest import wired


def _cnn() -> Document:
    return Document(load_design(template_path("cnn")))


def _check_undo_redo(doc: Document, command) -> str:
    """Push ``command``; assert undo restores and redo re-applies; returns the text after."""
    before = dumps(doc.design)
    doc.push(command)
    after = dumps(doc.design)
    assert after != before, "the command changed nothing"
    doc.undo_stack.undo()
    assert dumps(doc.design) == before
    assert not doc.modified
    doc.undo_stack.redo()
    assert dumps(doc.design) == after
    return after


def test_add_node(qtbot):
    doc = _cnn()
    command = C.AddNode(doc, "Dropout", (120, 340))
    _check_undo_redo(doc, command)
    assert command.text() == "Add Dropout"
    node = doc.design.node(command.node_id)
    assert node.position == (120.0, 340.0) and node.type == "Dropout"


def test_add_node_wired_after_the_selected_node(qtbot):
    doc = _cnn()
    command = C.AddNode(doc, "ReLU", (0, 0), connect_after="logits")
    _check_undo_redo(doc, command)
    assert command.connected and command.text() == "Add ReLU after logits"
    assert doc.analysis.info[command.node_id].output_shape == (10,)


def test_add_node_skips_a_wire_that_does_not_fit(qtbot):
    doc = _cnn()
    command = C.AddNode(doc, "Linear", (0, 0), connect_after="relu1")  # needs Flatten
    doc.push(command)
    assert not command.connected and command.text() == "Add Linear"
    assert doc.design.in_edges(command.node_id) == []


def test_add_node_joins_the_network_of_its_predecessor(qtbot):
    doc = Document(load_design(template_path("gan")))
    command = C.AddNode(doc, "Dropout", (0, 0), connect_after="d_act1")
    _check_undo_redo(doc, command)
    assert doc.design.node(command.node_id).network == "discriminator"


def test_remove_middle_nodes_and_an_edge_restores_every_order(qtbot):
    doc = _cnn()
    command = C.RemoveItems(doc, ["bn1", "pool"], [Edge("dense", "relu3", 0)])
    _check_undo_redo(doc, command)
    assert command.text() == "Delete 2 nodes and 1 edge"
    assert "bn1" not in doc.design and not doc.design.has_edge(Edge("dense", "relu3", 0))
    assert not doc.analysis.valid  # relu1 and flatten lost their inputs


def test_remove_a_single_node_is_named_after_it(qtbot):
    doc = _cnn()
    command = C.RemoveItems(doc, ["dropout"], [])
    _check_undo_redo(doc, command)
    assert command.text() == "Delete dropout"


def test_disconnect_restores_the_edge_at_its_index(qtbot):
    doc = _cnn()
    command = C.Disconnect(doc, Edge("relu2", "pool", 0))
    _check_undo_redo(doc, command)
    assert command.text() == "Disconnect relu2 → pool"
    with pytest.raises(ValueError, match="no edge"):
        C.Disconnect(doc, Edge("relu2", "pool", 0))


def test_connect(qtbot):
    doc = Document(
        wired(
            ("x", "Input", {"shape": [4]}, (0, 0)),
            ("a", "Linear", {}, (200, 0)),
            ("b", "Linear", {}, (200, 200)),
            ("add", "Add", {}, (400, 0)),
            edges=[("x", "a"), ("x", "b"), ("a", "add", 0)],
        )
    )
    command = C.Connect(doc, Edge("b", "add", 1))
    _check_undo_redo(doc, command)
    assert command.text() == "Connect b → add"
    assert doc.analysis.info["add"].output_shape == (64,)
    assert doc.analysis.valid


def test_move_nodes_merges_within_one_drag_only(qtbot):
    doc = _cnn()
    before = dumps(doc.design)
    c0, b0 = doc.design.node("conv1").position, doc.design.node("bn1").position
    doc.push(C.MoveNodes(doc, {"conv1": (c0, (220, 20))}, drag_serial=7))
    doc.push(
        C.MoveNodes(doc, {"conv1": ((220, 20), (260, 40)), "bn1": (b0, (440, 40))}, drag_serial=7)
    )
    assert doc.undo_stack.count() == 1
    assert doc.undo_stack.text(0) == "Move 2 nodes"
    doc.push(C.MoveNodes(doc, {"conv1": ((260, 40), (300, 40))}, drag_serial=8))
    assert doc.undo_stack.count() == 2
    doc.undo_stack.undo()
    assert doc.design.node("conv1").position == (260.0, 40.0)
    doc.undo_stack.undo()
    assert dumps(doc.design) == before
    doc.undo_stack.redo()
    assert doc.design.node("bn1").position == (440.0, 40.0)


def test_a_move_back_to_the_start_leaves_no_undo_step(qtbot):
    doc = _cnn()
    here = doc.design.node("conv1").position
    doc.push(C.MoveNodes(doc, {"conv1": (here, here)}))
    assert doc.undo_stack.count() == 0


def test_set_param(qtbot):
    doc = _cnn()
    command = C.SetParam(doc, "conv1", "out_channels", 8)
    _check_undo_redo(doc, command)
    assert command.text() == "Change out_channels of conv1"
    assert doc.analysis.info["bn1"].output_shape == (8, 8, 8)


def test_set_param_reset_restores_key_order_on_undo(qtbot):
    doc = _cnn()
    doc.design.node("conv1").params = {"out_channels": 16, "kernel_size": 3, "padding": 1}
    doc.reset(doc.design)
    command = C.SetParam(doc, "conv1", "out_channels", None)
    _check_undo_redo(doc, command)
    assert command.text() == "Reset out_channels of conv1"
    assert list(doc.design.node("conv1").params) == ["kernel_size", "padding"]


@pytest.mark.parametrize(
    "name,value,reason",
    [
        ("out_channels", 0, "out_channels of conv1 expects an integer from 1"),
        ("out_channels", "wide", "expects an integer"),
        ("kernel", 3, "Conv2d has no parameter 'kernel'"),
    ],
)
def test_set_param_refuses_invalid_values_before_pushing(qtbot, name, value, reason):
    doc = _cnn()
    with pytest.raises(ValueError, match=reason):
        C.SetParam(doc, "conv1", name, value)
    assert doc.undo_stack.count() == 0


def test_set_param_stores_shapes_as_json_lists(qtbot):
    doc = _cnn()
    _check_undo_redo(doc, C.SetParam(doc, "image", "shape", (1, 16, 16)))
    assert doc.design.node("image").params["shape"] == [1, 16, 16]
    assert doc.analysis.info["conv1"].output_shape == (16, 16, 16)


def test_relabel(qtbot):
    doc = _cnn()
    command = C.Relabel(doc, "conv1", "  edge detector ")
    _check_undo_redo(doc, command)
    assert doc.design.node("conv1").label == "edge detector"
    assert command.text() == "Rename conv1 to 'edge detector'"


def test_paste_gives_fresh_ids_and_keeps_internal_edges(qtbot):
    doc = _cnn()
    text = C.fragment_text(doc.design, ["conv2", "relu2", "pool"])
    nodes, edges = C.parse_fragment(text)
    assert [n.id for n in nodes] == ["conv2", "relu2", "pool"]
    assert edges == [Edge("conv2", "relu2", 0), Edge("relu2", "pool", 0)]
    command = C.Paste(doc, nodes, edges, (0, 300))
    _check_undo_redo(doc, command)
    assert command.text() == "Paste 3 nodes"
    new = command.node_ids
    assert len(set(new) & {"conv2", "relu2", "pool"}) == 0
    assert doc.design.edges[-2:] == [Edge(new[0], new[1], 0), Edge(new[1], new[2], 0)]
    x, y = doc.design.node("conv2").position
    assert doc.design.node(new[0]).position == (x, y + 300.0)
    assert doc.design.node(new[0]).params == doc.design.node("conv2").params


def test_paste_into_another_design_drops_unknown_networks(qtbot):
    gan = Document(load_design(template_path("gan")))
    nodes, edges = C.parse_fragment(C.fragment_text(gan.design, ["g_fc1", "g_act1", "d_fc1"]))
    doc = _cnn()
    command = C.Paste(doc, nodes, edges)
    _check_undo_redo(doc, command)
    assert {doc.design.node(n).network for n in command.node_ids} == {"main"}
    assert len(doc.design.edges) == 12 + 1  # g_fc1 → g_act1 kept


def test_auto_layout(qtbot):
    doc = _cnn()
    from gui.canvas.layout import layered_layout

    command = C.AutoLayout(doc, layered_layout(doc.design))
    _check_undo_redo(doc, command)
    assert command.text() == "Auto-layout"
    xs = [doc.design.node(n).position[0] for n in doc.analysis.topological_order()]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_a_random_edit_session_undoes_to_the_original_and_redoes_to_the_end(qtbot):
    rng = random.Random(4)
    doc = _cnn()
    original = dumps(doc.design)
    for _ in range(60):
        design = doc.design
        ids = [n.id for n in design]
        choice = rng.randrange(7)
        try:
            if choice == 0:
                doc.push(
                    C.AddNode(
                        doc,
                        rng.choice(["ReLU", "Dropout", "Linear"]),
                        (rng.randrange(900), rng.randrange(900)),
                        connect_after=rng.choice(ids) if ids else None,
                    )
                )
            elif choice == 1 and ids:
                doc.push(C.RemoveItems(doc, rng.sample(ids, min(2, len(ids))), []))
            elif choice == 2 and design.edges:
                doc.push(C.Disconnect(doc, rng.choice(design.edges)))
            elif choice == 3 and len(ids) > 1:
                a, b = rng.sample(ids, 2)
                doc.push(C.Connect(doc, Edge(a, b, 0)))
            elif choice == 4 and ids:
                n = rng.choice(ids)
                doc.push(
                    C.MoveNodes(
                        doc,
                        {n: (design.node(n).position, (rng.random() * 500, rng.random() * 500))},
                    )
                )
            elif choice == 5 and ids:
                n = rng.choice([i for i in ids if design.node(i).type == "Linear"] or ids)
                if design.node(n).type == "Linear":
                    doc.push(C.SetParam(doc, n, "out_features", rng.randrange(1, 99)))
            elif ids:
                nodes, edges = C.parse_fragment(C.fragment_text(design, rng.sample(ids, 1)))
                doc.push(C.Paste(doc, nodes, edges, (40, 40)))
        except ValueError:
            pass  # refused connections are part of a real session
    final = dumps(doc.design)
    assert doc.undo_stack.count() > 20
    while doc.undo_stack.canUndo():
        doc.undo_stack.undo()
    assert dumps(doc.design) == original
    while doc.undo_stack.canRedo():
        doc.undo_stack.redo()
    assert dumps(doc.design) == final
    # The incrementally kept analysis equals a fresh one.
    from engine.shapes import analyze

    fresh = analyze(doc.design)
    assert {k: v.output_shape for k, v in doc.analysis.info.items()} == {
        k: v.output_shape for k, v in fresh.info.items()
    }
    assert [str(p) for p in doc.analysis.problems] == [str(p) for p in fresh.problems]


def test_node_objects_are_not_shared_with_pasted_sources(qtbot):
    doc = _cnn()
    source = Node("z", "Linear", {"out_features": 3}, (0, 0), "", "main")
    command = C.Paste(doc, [source], [])
    doc.push(command)
    doc.push(C.SetParam(doc, command.node_ids[0], "out_features", 9))
    assert source.params == {"out_features": 3}


def test_section_edits_go_through_the_document_and_undo_exactly(qtbot):
    doc = _cnn()
    seen: list[str] = []
    doc.sectionChanged.connect(seen.append)
    after = _check_undo_redo(doc, C.SetSection(doc, "training", "epochs", 5))
    assert '"epochs": 5' in after
    assert seen and set(seen) == {"training"}
    seen.clear()
    doc.push(C.SetSection(doc, "data", "name", "iris"))
    assert doc.design.data["name"] == "iris" and seen == ["data"]
    doc.undo_stack.undo()
    assert doc.design.data["name"] == "digits" and seen == ["data", "data"]
