"""Validation: every kind of problem is attached to the right node with a message and a fix;
incremental re-inference agrees with a full pass."""

from __future__ import annotations

import random

import pytest

from engine.compile import compile_design
from engine.errors import DesignError
from engine.graph import Design, Edge, Node
from engine.io import dumps, load_design
from engine.shapes import ShapeAnalysis, analyze
from resources import template_path
from tests.engine.builders import add, chain


def problems_of(design: Design) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for p in analyze(design).problems:
        assert p.message and p.fix, f"problem without message or fix: {p}"
        out.setdefault(p.node, []).append(f"{p.message} | {p.fix}")
    return out


def test_valid_chain_has_no_problems():
    design = chain(("in", "Input", {"shape": [4]}), ("fc", "Linear", {"out_features": 3}))
    analysis = analyze(design)
    assert analysis.valid and analysis.problems == []
    assert analysis.info["fc"].output_shape == (3,)
    assert analysis.info["fc"].params == 15
    assert analysis.totals().params == 15


def test_linear_after_conv_says_insert_flatten():
    design = chain(
        ("img", "Input", {"shape": [1, 8, 8]}),
        ("conv3", "Conv2d", {"out_channels": 16, "kernel_size": 3, "stride": 2}),
        ("fc", "Linear", {"out_features": 10}),
    )
    found = problems_of(design)
    assert list(found) == ["fc"]
    text = found["fc"][0]
    assert "Linear expects (N, F)" in text
    assert "'conv3' gives (N, 16, 4, 4)" in text
    assert "insert Flatten between 'conv3' and 'fc'" in text


def test_cycle_is_reported_on_its_nodes():
    design = chain(
        ("in", "Input", {"shape": [4]}), ("a", "Linear", {"out_features": 4}), ("b", "ReLU")
    )
    add(design, "merge", "Add", inputs=("b", "in"))
    design.remove_edge(Edge("in", "a", 0))
    design.add_edge(Edge("merge", "a", 0))
    found = problems_of(design)
    assert {"a", "b", "merge"} <= set(found)
    assert all("cycle" in found[n][0] for n in ("a", "b", "merge"))
    with pytest.raises(DesignError, match="cycle"):
        compile_design(design)


def test_unconnected_input_port():
    design = chain(("in", "Input", {"shape": [4]}))
    add(design, "fc", "Linear", {"out_features": 2})
    found = problems_of(design)
    assert "not connected" in found["fc"][0]


def test_two_edges_into_one_port():
    design = chain(("in", "Input", {"shape": [4]}), ("a", "ReLU"))
    add(design, "b", "Tanh", inputs=("in",))
    design.add_edge(Edge("b", "a", 0))
    found = problems_of(design)
    assert "input port 0 has 2 connections" in found["a"][0]
    assert "Add/Concatenate" in found["a"][0]


def test_edge_into_a_port_that_does_not_exist():
    design = chain(("in", "Input", {"shape": [4]}), ("a", "ReLU"))
    design.add_edge(Edge("in", "a", 3))
    assert "edge targets port 3" in problems_of(design)["a"][0]


def test_merge_with_too_few_inputs():
    design = chain(("in", "Input", {"shape": [4]}))
    add(design, "sum", "Add", inputs=("in",))
    assert "needs at least 2 inputs, has 1" in problems_of(design)["sum"][0]


def test_merge_with_mismatched_shapes():
    design = chain(("in", "Input", {"shape": [4]}), ("fc", "Linear", {"out_features": 3}))
    add(design, "sum", "Add", inputs=("fc", "in"))
    text = problems_of(design)["sum"][0]
    assert "equal shapes" in text and "'fc' gives (N, 3)" in text and "'in' gives (N, 4)" in text


def test_edge_into_an_input_layer():
    design = chain(("a", "Input", {"shape": [4]}))
    add(design, "b", "Input", {"shape": [4]}, inputs=("a",))
    assert "Input takes no incoming edges" in problems_of(design)["b"][0]


@pytest.mark.parametrize(
    ("params", "expect"),
    [
        ({"out_features": 0}, "out_features"),
        ({"out_features": "ten"}, "out_features"),
        ({"out_features": 2.5}, "out_features"),
        ({"out_features": True}, "out_features"),
        ({"bias": "yes"}, "bias"),
        ({"units": 3}, "has no parameter 'units'"),
    ],
)
def test_bad_parameters_name_the_parameter(params, expect):
    design = chain(("in", "Input", {"shape": [4]}), ("fc", "Linear", params))
    found = problems_of(design)
    assert list(found) == ["fc"]
    assert expect in found["fc"][0]


def test_choice_parameter_lists_the_choices():
    design = chain(("in", "Input", {"shape": [4]}), ("g", "GELU", {"approximate": "fast"}))
    text = problems_of(design)["g"][0]
    assert "approximate" in text and "tanh" in text


def test_unknown_type_suggests_a_close_name():
    design = chain(("in", "Input", {"shape": [4]}), ("fc", "Lineer", {"out_features": 3}))
    text = problems_of(design)["fc"][0]
    assert "unknown layer type 'Lineer'" in text and "Linear" in text


def test_network_problems():
    design = chain(("fc", "Linear", {"out_features": 3}))
    found = problems_of(design)
    assert any("no Input layer" in t for t in found[None])
    design = chain(("in", "Input", {"shape": [4]}), network="ghost")
    assert any("does not declare" in t for t in problems_of(design)["in"])
    assert problems_of(Design())[None][0].startswith("the design is empty")


def test_a_network_of_only_inputs_has_nothing_to_train():
    design = chain(("input", "Input", {"shape": [4]}))
    found = problems_of(design)
    assert list(found) == [None]
    assert found[None] == [
        "network 'main' has no layers after its Input | add layers between 'input' and an Output"
    ]
    add(design, "out", "Output", inputs=("input",))
    assert problems_of(design)[None] == [
        "network 'main' has no layers after its Input | add layers between 'input' and 'out'"
    ]


def test_a_network_without_trainable_parameters_is_a_problem():
    design = chain(("x", "Input", {"shape": [4]}), ("relu", "ReLU"), ("out", "Output"))
    found = problems_of(design)
    assert found == {
        None: [
            "network 'main' has no layer with trainable parameters | add a "
            "Linear, convolution, recurrent or SOM layer between 'x' and 'out'"
        ]
    }
    design.remove_node("out")
    add(design, "fc", "Linear", {"out_features": 2}, inputs=("relu",))
    assert analyze(design).valid
    # an upstream problem is reported on its node, not as a second design-wide one
    design.set_param("fc", "out_features", 0)
    assert list(problems_of(design)) == ["fc"]


def test_edge_between_networks():
    design = load_design(template_path("gan"))
    first_d = design.out_edges("sample")[0].target
    design.remove_edge(design.out_edges("sample")[0])
    design.add_edge(Edge("g_pixels", first_d, 0))
    text = problems_of(design)[first_d][0]
    assert "network 'generator'" in text and "one network" in text


def test_gan_shape_mismatch_names_the_discriminator_input():
    design = load_design(template_path("gan"))
    design.set_param("sample", "shape", [32])
    found = problems_of(design)
    assert any("discriminator reads (N, 32)" in t for t in found["sample"])


def test_gan_needs_one_of_each_role():
    design = load_design(template_path("gan"))
    design.networks["discriminator"]["role"] = "generator"
    assert any(
        "exactly one generator and one discriminator" in t for t in problems_of(design)[None]
    )


def test_compile_refuses_invalid_design_with_first_problem():
    design = chain(("img", "Input", {"shape": [1, 8, 8]}), ("fc", "Linear", {"out_features": 2}))
    with pytest.raises(DesignError, match=r"fc.*insert Flatten"):
        compile_design(design)


def _snapshot(analysis: ShapeAnalysis):
    return (
        {
            k: (
                v.output_shape,
                v.output_dtype,
                v.input_dtypes,
                v.params,
                v.macs,
                v.activation_bytes,
                [(p.message, p.fix) for p in v.problems],
            )
            for k, v in analysis.info.items()
        },
        [(p.node, p.message) for p in analysis.problems],
    )


@pytest.mark.parametrize("stem", ["cnn", "lstm", "autoencoder", "gan"])
def test_incremental_update_equals_full_run(stem):
    """Random parameter edits and rewiring, each followed by update(): same as a fresh analysis."""
    rng = random.Random(stem)
    design = load_design(template_path(stem))
    analysis = analyze(design)
    edits = {
        "Linear": ("out_features", [1, 7, 64]),
        "Conv2d": ("out_channels", [1, 5, 16]),
        "LSTM": ("hidden_size", [3, 16]),
        "RNN": ("hidden_size", [3, 16]),
        "Input": ("shape", None),
        "MaxPool2d": ("kernel_size", [2, 3, 9]),
        "Dropout": ("p", [0.0, 2.0]),
    }
    nodes = [n for n in design if n.type in edits]
    for step in range(25):
        node = rng.choice(nodes)
        name, values = edits[node.type]
        if node.type == "Input" and step % 3 == 0:  # integers into float layers, and back
            name, value = "dtype", rng.choice(["int64", "float32"])
        elif node.type == "Input":
            shape = list(node.params.get("shape", [4]))
            shape[-1] = rng.choice([shape[-1], 8, 9])
            value = shape
        else:
            value = rng.choice(values)
        if step % 5 == 4:  # rewire: drop and restore an edge around the node
            edge = design.in_edges(node.id)[0] if design.in_edges(node.id) else None
            if edge is not None:
                design.remove_edge(edge)
                analysis.update({edge.target}, structure_changed=True)
                assert _snapshot(analysis) == _snapshot(analyze(design))
                design.add_edge(edge)
                analysis.update({edge.target}, structure_changed=True)
        design.set_param(node.id, name, value)
        analysis.update({node.id})
        assert _snapshot(analysis) == _snapshot(analyze(design)), (stem, step, node.id)


def test_adding_and_removing_nodes_updates_incrementally():
    design = load_design(template_path("mlp"))
    analysis = analyze(design)
    before = dumps(design)
    node = Node("extra", "Linear", {"out_features": 5}, (0.0, 0.0), "", "main")
    design.add_node(node)
    analysis.update({"extra"}, structure_changed=True)
    assert "extra" in {p.node for p in analysis.problems}
    design.remove_node("extra")
    analysis.update(set(), structure_changed=True)
    assert "extra" not in analysis.info and analysis.valid
    assert dumps(design) == before


@pytest.mark.parametrize("node_id", ["forward", "training", "to", "eval"])
def test_ids_that_clash_with_module_attributes_are_refused(node_id):
    design = chain(("in", "Input", {"shape": [4]}), (node_id, "Linear", {"out_features": 2}))
    found = problems_of(design)
    assert "reserved name" in found[node_id][0] and f"'{node_id}_1'" in found[node_id][0]
    with pytest.raises(DesignError, match="reserved"):
        compile_design(design)
