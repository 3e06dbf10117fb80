"""The block library: shipped blocks (valid, compile, round-trip) and the user's block folder."""

from __future__ import annotations

import pytest
import torch

from engine.blocks_library import SHIPPED_DIR, list_blocks, load_entry, save_user_block
from engine.compile import compile_design
from engine.editing.blocks import BlockEditError, insert_block, set_block_value, set_repeat
from engine.graph import Edge
from engine.io import dumps, dumps_block, loads
from engine.shapes import analyze
from resources.make_blocks import shipped_blocks
from tests.engine.builders import chain

SHIPPED = {
    "resnet_basic",
    "resnet_basic_projection",
    "resnet_bottleneck",
    "resnet_bottleneck_projection",
    "lstm_stack",
    "mobilenet_inverted_residual",
    "mobilenet_inverted_residual_stride",
    "depthwise_separable_conv",
    "squeeze_excitation",
    "transformer_encoder",
}


def test_shipped_blocks_are_listed_and_their_files_are_canonical():
    entries = [e for e in list_blocks() if e.shipped]
    assert {e.name for e in entries} == SHIPPED
    assert all(e.description and not e.error for e in entries)
    for defn in shipped_blocks():  # the files are what resources/make_blocks.py writes
        text = (SHIPPED_DIR / f"{defn.name}.json").read_text(encoding="utf-8")
        assert dumps_block(defn) == text


def _entry(name):
    return next(e for e in list_blocks() if e.name == name and e.shipped)


def _with_block(front, name, values, shape, repeat=1):
    """Input → [front layers] → block instance → flatten → linear."""
    design = chain(("x", "Input", {"shape": shape}), *front)
    defn, used = load_entry(_entry(name))
    edit = insert_block(design, defn, used)
    design = edit.design
    last = design.nodes[-2].id
    design.add_edge(Edge(last, edit.instance, 0))
    for key, value in values.items():
        design = set_block_value(design, edit.instance, key, value).design
    if repeat > 1:
        design = set_repeat(design, edit.instance, repeat).design
    chain(("flat", "Flatten"), ("fc", "Linear", {"out_features": 3}), design=design)
    design.add_edge(Edge(edit.instance, "flat", 0))
    return design, edit.instance


def test_a_resnet_stage_from_shipped_blocks_compiles_with_torchvision_parameter_counts():
    stem = [("stem", "Conv2d", {"out_channels": 8, "kernel_size": 3})]
    down, inst = _with_block(
        stem, "resnet_basic_projection", {"channels": 16, "stride": 2}, [3, 8, 8]
    )
    a = analyze(down)
    assert a.valid, a.problems
    assert a.info[inst].output_shape == (16, 4, 4)
    # torchvision BasicBlock(8, 16, stride 2, downsample 1×1 conv + BN)
    assert a.info[inst].params == 8 * 16 * 9 + 16 * 16 * 9 + 8 * 16 + 3 * 2 * 16
    same, inst = _with_block(stem, "resnet_basic", {"channels": 8}, [3, 8, 8], repeat=2)
    net = compile_design(same)
    assert "layers.resnet_basic.1.conv2.weight" in net.state_dict()
    assert net(*net.example_inputs(2)).shape == (2, 3)
    bottleneck, inst = _with_block(
        stem, "resnet_bottleneck_projection", {"width": 4, "channels": 16}, [3, 8, 8]
    )
    assert analyze(bottleneck).valid
    wrong, inst = _with_block(stem, "resnet_basic", {"channels": 16}, [3, 8, 8])
    (problem,) = analyze(wrong).problems
    assert problem.message.startswith("resnet_basic[0]/sum: Add needs equal shapes")


def test_the_lstm_stack_runs_on_sequences():
    design, inst = _with_block([], "lstm_stack", {"hidden_size": 12}, [5, 7])
    a = analyze(design)
    assert a.valid and a.info[inst].output_shape == (5, 12)
    net = compile_design(design)
    with torch.no_grad():
        assert net(torch.randn(2, 5, 7)).shape == (2, 3)
    text = dumps(design)
    assert dumps(loads(text)) == text


def test_user_blocks_are_saved_to_the_data_folder_and_listed(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPWIRE_DATA_DIR", str(tmp_path))
    defn, used = load_entry(_entry("resnet_basic"))
    mine = defn.copy("my_block")
    path = save_user_block(mine, used)
    assert path == tmp_path / "blocks" / "my_block.json"
    (bad := tmp_path / "blocks" / "broken.json").write_text("{", encoding="utf-8")
    users = [e for e in list_blocks() if not e.shipped]
    assert [(e.name, bool(e.error)) for e in users] == [("broken", True), ("my_block", False)]
    assert "not valid JSON" in users[0].error and "\n" not in users[0].error
    loaded, _ = load_entry(users[1])
    assert dumps_block(loaded) == dumps_block(mine)
    assert bad.read_text() == "{"  # listing never changes a file


def test_inserting_a_block_refuses_a_different_definition_of_the_same_name():
    design, _ = _with_block([], "lstm_stack", {}, [5, 7])
    other, used = load_entry(_entry("resnet_basic"))
    again = insert_block(design, *load_entry(_entry("lstm_stack"))).design  # same: fine
    assert [n.params.get("block") for n in again].count("lstm_stack") == 2
    with pytest.raises(BlockEditError, match="different block called 'lstm_stack'"):
        insert_block(design, other.copy("lstm_stack"), used)
