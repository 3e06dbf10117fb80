"""Blocks (sub-graphs): the file format, the edits, shape inference through instances, compiling."""

from __future__ import annotations

import json

import pytest
import torch

from engine.blocks import BLOCK_TYPE
from engine.compile import compile_design
from engine.editing.blocks import (
    BlockEditError,
    edit_definition,
    expand,
    make_block,
    make_unique,
    set_block_value,
    set_repeat,
)
from engine.errors import DesignFormatError
from engine.graph import Edge, Node
from engine.io import dumps, dumps_block, load_design, loads, loads_block, save_design
from engine.shapes import analyze
from tests.engine.builders import add, chain

RESIDUAL = ["conv1", "bn1", "relu1", "conv2", "sum"]


def residual_cnn():
    """x → conv0 → [conv1 → bn1 → relu1 → conv2 → sum(conv2, conv0)] → relu → flat → fc."""
    d = chain(
        ("x", "Input", {"shape": [1, 6, 6]}),
        ("conv0", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("conv1", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("bn1", "BatchNorm2d"),
        ("relu1", "ReLU"),
        ("conv2", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
    )
    add(d, "sum", "Add", inputs=("conv2", "conv0"))
    add(d, "relu", "ReLU", inputs=("sum",))
    add(d, "flat", "Flatten", inputs=("relu",))
    add(d, "fc", "Linear", {"out_features": 3}, inputs=("flat",))
    return d


def conv_chain(depth=2, size=6):
    """x → conv1 → relu1 → … (channel-preserving) → flat → fc."""
    layers = [("x", "Input", {"shape": [2, size, size]})]
    for i in range(1, depth + 1):
        layers.append((f"conv{i}", "Conv2d", {"out_channels": 2, "kernel_size": 3, "padding": 1}))
        layers.append((f"relu{i}", "ReLU"))
    layers += [("flat", "Flatten"), ("fc", "Linear", {"out_features": 3})]
    return chain(*layers)


def outputs_equal(before, after, rename):
    """Compile both, copy ``before``'s weights into ``after`` through ``rename`` (key → key),
    and compare the outputs on one random batch."""
    torch.manual_seed(0)
    m1, m2 = compile_design(before).eval(), compile_design(after).eval()
    state = {rename(k): v for k, v in m1.state_dict().items()}
    assert set(state) == set(m2.state_dict())
    m2.load_state_dict(state)
    (x,) = m1.example_inputs(3)
    assert torch.equal(m1(x), m2(x))
    return m2


def into(instance, inner_ids):
    def rename(key):
        _, node_id, rest = key.split(".", 2)
        return f"layers.{instance}.{node_id}.{rest}" if node_id in inner_ids else key

    return rename


# -- make block / expand ------------------------------------------------------------------------


def test_make_block_keeps_outputs_equal_and_wires_ports_where_wires_cross():
    d = residual_cnn()
    edit = make_block(d, RESIDUAL, "basic")
    new = edit.design
    assert edit.instance == "basic" and new.node("basic").type == BLOCK_TYPE
    assert "conv1" in d and "conv1" not in new  # the input design is unchanged
    defn = new.blocks["basic"]
    # conv0 feeds conv1 and sum: one port, named after the first inner node it feeds
    assert defn.input_ids == ["conv1_in"] and defn.output_ids == ["sum_out"]
    assert new.in_edges("basic") == [Edge("conv0", "basic", 0)]
    assert new.out_edges("basic") == [Edge("basic", "relu", 0)]
    assert analyze(new).totals() == analyze(d).totals()
    module = outputs_equal(d, new, into("basic", set(RESIDUAL)))
    assert type(module.layers["basic"]).__name__ == "Basic"
    assert "layers.basic.conv2.weight" in module.state_dict()


def test_expand_is_the_inverse_of_make_block():
    d = residual_cnn()
    back = expand(make_block(d, RESIDUAL, "basic").design, "basic").design
    assert [(n.id, n.type, n.params, n.position) for n in back] == [
        (n.id, n.type, n.params, n.position) for n in d
    ]
    assert sorted(back.edges) == sorted(d.edges)
    assert back.blocks == {}  # nothing uses the definition any more
    outputs_equal(d, back, lambda k: k)


def test_repeat_two_gives_two_instances_with_nested_state_dict_keys():
    d = conv_chain(depth=1)
    one = make_block(d, ["conv1", "relu1"], "stage").design
    two = set_repeat(one, "stage", 2).design
    assert two.node("stage").params == {"block": "stage", "repeat": 2}
    keys = set(compile_design(two).state_dict())
    assert {"layers.stage.0.conv1.weight", "layers.stage.1.conv1.weight"} <= keys
    a1, a2 = analyze(one), analyze(two)
    conv_params = 2 * 2 * 9 + 2
    assert a2.info["stage"].params == 2 * a1.info["stage"].params == 2 * conv_params
    # ×2 equals two loose copies of the layers, weights mapped
    loose = conv_chain(depth=2)
    outputs_equal(
        loose,
        two,
        lambda k: k.replace("layers.conv1.", "layers.stage.0.conv1.").replace(
            "layers.conv2.", "layers.stage.1.conv1."
        ),
    )
    expanded = expand(two, "stage").design
    assert [n.type for n in expanded] == ["Input", "Conv2d", "ReLU", "Conv2d", "ReLU"] + [
        "Flatten",
        "Linear",
    ]
    assert analyze(expanded).totals() == analyze(two).totals()


def test_nested_blocks_compile_with_nested_keys_and_equal_outputs():
    d = conv_chain(depth=2)
    inner = make_block(d, ["conv1", "relu1"], "unit").design
    outer = make_block(inner, ["unit", "conv2", "relu2"], "stage").design
    assert outer.blocks["stage"].body.node("unit").type == BLOCK_TYPE
    text = dumps(outer)
    assert loads(text).blocks.keys() == {"unit", "stage"}
    module = outputs_equal(
        d,
        outer,
        lambda k: k.replace("layers.conv1.", "layers.stage.unit.conv1.").replace(
            "layers.conv2.", "layers.stage.conv2."
        ),
    )
    assert type(module.layers["stage"].unit).__name__ == "Unit"


def test_make_unique_detaches_one_instance_and_editing_a_definition_changes_all():
    d = conv_chain(depth=1)
    one = make_block(d, ["conv1", "relu1"], "unit").design
    # a second instance after the first
    one.add_node(Node("unit2", BLOCK_TYPE, {"block": "unit"}), 2)
    one.remove_edge(Edge("unit", "flat", 0))
    one.add_edge(Edge("unit", "unit2", 0))
    one.add_edge(Edge("unit2", "flat", 0))
    assert analyze(one).valid
    body = one.blocks["unit"].body.copy()
    body.set_param("conv1", "out_channels", 5)
    edited = edit_definition(one, "unit", body=body).design
    a = analyze(edited)
    assert a.info["unit"].output_shape == a.info["unit2"].output_shape == (5, 6, 6)
    unique = make_unique(one, "unit2").design
    assert unique.node("unit2").params["block"] == "unit_2"
    body2 = unique.blocks["unit_2"].body.copy()
    body2.set_param("conv1", "out_channels", 7)
    a = analyze(edit_definition(unique, "unit_2", body=body2).design)
    assert a.info["unit"].output_shape == (2, 6, 6)
    assert a.info["unit2"].output_shape == (7, 6, 6)


def test_exposed_parameters_are_set_per_instance_and_checked_by_the_shape_rules():
    one = make_block(conv_chain(depth=1), ["conv1", "relu1"], "unit").design
    one = edit_definition(one, "unit", params={"channels": ["conv1.out_channels"]}).design
    wide = set_block_value(one, "unit", "channels", 8).design
    a = analyze(wide)
    assert a.valid and a.info["unit"].output_shape == (8, 6, 6)
    assert a.info["unit"].resolved == {"block": "unit", "repeat": 1, "channels": 8}
    bad = analyze(set_block_value(one, "unit", "channels", 0).design)
    (problem,) = [p for p in bad.problems if p.node == "unit"]
    assert problem.message.startswith("unit[0]/conv1: parameter 'out_channels'")
    with pytest.raises(BlockEditError, match="has no parameter 'width'.*channels"):
        set_block_value(one, "unit", "width", 3)


def test_a_shape_error_inside_names_the_block_path():
    d = chain(
        ("x", "Input", {"shape": [1, 5, 5]}),
        ("conv1", "Conv2d", {"out_channels": 1, "kernel_size": 3, "padding": 0}),
        ("flat", "Flatten"),
        ("fc", "Linear", {"out_features": 2}),
    )
    one = set_repeat(make_block(d, ["conv1"], "stage2").design, "stage2", 3).design
    a = analyze(one)
    (problem,) = a.problems
    assert problem.node == "stage2"
    assert problem.message.startswith("stage2[2]/conv1: ")  # 5 → 3 → 1 → too small
    nested = make_block(set_repeat(one, "stage2", 3).design, ["stage2"], "outer").design
    (problem,) = analyze(nested).problems
    assert problem.message.startswith("outer[0]/stage2[2]/conv1: ")


def test_incremental_update_after_editing_inside_a_definition():
    one = make_block(conv_chain(depth=1), ["conv1", "relu1"], "unit").design
    a = analyze(one)
    one.blocks["unit"].body.set_param("conv1", "out_channels", 3)  # edited in place
    updated = a.update_blocks({"unit"})
    assert {"unit", "flat", "fc"} <= updated
    assert a.info["unit"].output_shape == (3, 6, 6)
    assert a.info["fc"].input_shapes == ((108,),)


# -- refusals ------------------------------------------------------------------------------------


def test_refusals_are_one_line_and_change_nothing():
    d = residual_cnn()
    before = dumps(d)
    cases = [
        ([], "x", "selection is empty"),
        (["conv1", "conv2"], "x", "not convex: .* through 'bn1'"),
        (["conv1", "bn1"], "conv0", None),
        (["x", "conv0"], "b", "'x' is an Input"),
        (["conv0", "conv1"], "b", "one output, but wires leave the selection from"),
        (["conv1"], "2bad", "block name '2bad'"),
    ]
    for ids, name, match in cases:
        if match is None:
            make_block(d, ids, name)  # a block may share a node's name
            continue
        with pytest.raises(BlockEditError, match=match) as info:
            make_block(d, ids, name)
        assert "\n" not in str(info.value)
    named = make_block(d, ["relu"], "b").design
    with pytest.raises(BlockEditError, match="a block called 'b' exists already"):
        make_block(named, ["conv1"], "b")
    with pytest.raises(BlockEditError, match="whole number"):
        set_repeat(named, "b", 0)
    assert dumps(d) == before


def test_unknown_block_and_bad_repeat_are_problems_on_the_instance():
    one = make_block(conv_chain(depth=1), ["conv1", "relu1"], "unit").design
    one.set_param("unit", "block", "nope")
    (p,) = analyze(one).problems
    assert p.node == "unit" and "does not define" in p.message and "unit" in p.message


# -- file format ---------------------------------------------------------------------------------


def test_old_files_open_unchanged_and_stay_byte_identical(tmp_path):
    d = residual_cnn()
    text = dumps(d)
    assert json.loads(text)["version"] == 1  # nothing new in it: still written as version 1
    assert dumps(loads(text)) == text
    for name in ("cnn", "lstm", "gan"):
        path = f"resources/templates/{name}.json"
        with open(path, encoding="utf-8") as f:
            original = f.read()
        assert dumps(load_design(path)) == original


def test_a_design_with_blocks_round_trips_byte_identically(tmp_path):
    d = conv_chain(depth=2)
    inner = make_block(d, ["conv1", "relu1"], "unit").design
    outer = set_repeat(make_block(inner, ["unit", "conv2"], "stage").design, "stage", 2).design
    outer = edit_definition(outer, "stage", params={"c": ["conv2.out_channels"]}).design
    path = tmp_path / "blocks.json"
    save_design(outer, path)
    first = path.read_bytes()
    assert json.loads(first)["version"] == 2
    save_design(load_design(path), path)
    assert path.read_bytes() == first


def test_a_cycle_of_definitions_is_one_clear_error():
    one = make_block(conv_chain(depth=1), ["conv1", "relu1"], "a").design
    doc = json.loads(dumps(one))
    body = doc["blocks"]["a"]
    b = json.loads(json.dumps(body))
    for n in b["nodes"]:
        if n["id"] == "conv1":
            n["type"], n["params"] = "Block", {"block": "a"}
    doc["blocks"]["b"] = b
    for n in body["nodes"]:
        if n["id"] == "conv1":
            n["type"], n["params"] = "Block", {"block": "b"}
    with pytest.raises(DesignFormatError, match=r"blocks a → b → a contain each other") as info:
        loads(json.dumps(doc), "loop.json")
    assert "\n" not in str(info.value)


def test_bad_block_entries_are_refused_with_the_place():
    one = make_block(conv_chain(depth=1), ["conv1", "relu1"], "a").design
    doc = json.loads(dumps(one))
    doc["blocks"]["a"]["params"] = {"c": "conv1.out_channels"}
    with pytest.raises(DesignFormatError, match=r"blocks\.a\.params\.c: must be a list"):
        loads(json.dumps(doc), "f.json")
    doc["blocks"]["a"]["params"] = {}
    doc["blocks"]["a"]["nodez"] = []
    with pytest.raises(DesignFormatError, match="nodez"):
        loads(json.dumps(doc), "f.json")


def test_a_block_file_round_trips_with_the_blocks_it_uses():
    d = conv_chain(depth=2)
    inner = make_block(d, ["conv1", "relu1"], "unit").design
    outer = make_block(inner, ["unit", "conv2"], "stage").design
    text = dumps_block(outer.blocks["stage"], outer.blocks)
    defn, used = loads_block(text, "stage.json")
    assert defn.name == "stage" and set(used) == {"unit"}
    assert dumps_block(defn, used) == text
    with pytest.raises(DesignFormatError, match="not a Deepwire block file"):
        loads_block(dumps(d), "x.json")


# -- training statistics -------------------------------------------------------------------------


def test_training_statistics_per_instance_and_per_inner_layer_by_block_path():
    from engine.training.stats import LayerProbe

    d = conv_chain(depth=2)
    inner = set_repeat(make_block(d, ["conv1", "relu1"], "unit").design, "unit", 2).design
    outer = make_block(inner, ["unit", "conv2"], "stage").design
    net = compile_design(outer)
    probe = LayerProbe(dict(net.layers.items()), expand_blocks=True)
    probe.attach()
    (x,) = net.example_inputs(3)
    net(x).sum().backward()
    acts, norms = probe.collect(), probe.grad_norms()
    assert {"stage", "stage[0]/unit", "stage[0]/unit[1]/conv1", "stage[0]/conv2"} <= set(acts)
    assert {"stage", "stage[0]/unit[0]/conv1", "stage[0]/unit[1]/conv1", "fc"} <= set(norms)
    assert "stage[0]/unit[1]/relu1" in acts and "stage[0]/unit[1]/relu1" not in norms
    # the instance's gradient norm covers every inner layer's
    inner_sq = sum(norms[k] ** 2 for k in norms if k.startswith("stage[0]/") and k.count("/") == 2)
    assert inner_sq + norms["stage[0]/conv2"] ** 2 == pytest.approx(norms["stage"] ** 2, rel=1e-4)
    assert set(LayerProbe(dict(net.layers.items())).layers) == {"stage", "relu2", "flat", "fc"}


def test_the_docs_show_the_loader_s_cycle_message():
    from pathlib import Path

    text = Path("docs/blocks.md").read_text(encoding="utf-8")
    shown = next(line for line in text.splitlines() if line.startswith("loop.json: "))
    one = make_block(conv_chain(depth=1), ["conv1", "relu1"], "a").design
    doc = json.loads(dumps(one))
    doc["blocks"]["b"] = json.loads(json.dumps(doc["blocks"]["a"]))
    for name, other in (("a", "b"), ("b", "a")):
        for n in doc["blocks"][name]["nodes"]:
            if n["id"] == "conv1":
                n["type"], n["params"] = "Block", {"block": other}
    with pytest.raises(DesignFormatError) as info:
        loads(json.dumps(doc), "loop.json")
    assert str(info.value) == shown


def test_cost_figures_per_instance_and_per_definition():
    from engine.blocks import BlockCost, block_costs

    d = conv_chain(depth=2)
    inner = set_repeat(make_block(d, ["conv1", "relu1"], "unit").design, "unit", 2).design
    outer = make_block(inner, ["unit", "conv2"], "stage").design
    a = analyze(outer)
    conv = analyze(d).info["conv1"]
    assert a.info["stage"].params == 3 * conv.params and a.info["stage"].macs == 3 * conv.macs
    assert block_costs(a) == {
        "stage": BlockCost(1, 3 * conv.params, 3 * conv.macs),
        "unit": BlockCost(2, 2 * conv.params, 2 * conv.macs),
    }


def test_wires_into_a_block_instance_follow_its_ports():
    from engine.editing.connections import can_connect

    d = residual_cnn()
    new = make_block(d, RESIDUAL, "basic").design
    new.remove_edge(Edge("conv0", "basic", 0))
    a = analyze(new)
    assert can_connect(new, a, "conv0", "basic", 0) == (True, "")
    ok, why = can_connect(new, a, "conv0", "basic", 1)
    assert not ok and why == "block 'basic' has 1 input port(s); port 1 is none"
    ok, why = can_connect(new, a, "fc", "basic", 0)
    assert not ok and "would make a cycle" in why


def test_a_full_pass_re_reads_definitions_edited_in_place():
    one = make_block(conv_chain(depth=1), ["conv1", "relu1"], "unit").design
    a = analyze(one)
    one.blocks["unit"].body.set_param("conv1", "out_channels", 3)
    a.run()
    assert a.info["unit"].output_shape == (3, 6, 6)
