"""Blocks in the exports: readable Python (one class per definition), ONNX, pt2, safetensors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.compile import compile_design
from engine.editing.blocks import edit_definition, make_block, set_block_value, set_repeat
from engine.export import export_formats, prepare_export
from engine.graph import Edge, Node
from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint
from tests.engine.test_blocks import residual_cnn
from tests.helpers import run_generated_models


def block_design():
    """A residual block used twice (×2 repeat), and a nested block holding it, with an
    exposed parameter set on one instance."""
    d = residual_cnn()
    d = make_block(d, ["conv1", "bn1", "relu1", "conv2", "sum"], "basic").design
    d = set_repeat(d, "basic", 2).design
    d = make_block(d, ["basic", "relu"], "stage").design
    d = edit_definition(d, "stage", params={}).design
    # a second, differently sized use of "basic" after the stage: a one-off instance
    d.add_node(Node("widen", "Conv2d", {"out_channels": 5, "kernel_size": 1, "padding": 0}), 3)
    d.add_node(Node("basic2", "Block", {"block": "basic"}), 4)
    d.remove_edge(Edge("stage", "flat", 0))
    d.add_edge(Edge("stage", "widen", 0))
    d.add_edge(Edge("widen", "basic2", 0))
    d.add_edge(Edge("basic2", "flat", 0))
    d = edit_definition(
        d, "basic", params={"channels": ["conv1.out_channels", "conv2.out_channels"]}
    ).design
    d = set_block_value(d, "basic2", "channels", 5).design
    return d


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    folder = tmp_path_factory.mktemp("blocks_export")
    design = block_design()
    torch.manual_seed(1)
    net = compile_design(design)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    ckpt = folder / "c.pt"
    save_checkpoint(ckpt, checkpoint_from_modules(design, {"main": net}))
    targets = {f: folder / f"m.{s}" for f, s in (("python", "py"), ("pt2", "pt2"))}
    targets |= {"onnx": folder / "m.onnx", "safetensors": folder / "w.safetensors"}
    results = {r.format: r for r in export_formats(design, ckpt, targets)}
    plan = prepare_export(design, ckpt)
    x = torch.randn(4, *plan.input_shapes[0], generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ref = plan.module(x)
    return {"results": results, "x": x, "ref": ref, "plan": plan, "folder": folder}


def test_the_python_export_has_one_class_per_definition_and_matches(exported, tmp_path):
    result = exported["results"]["python"]
    code = result.paths[0].read_text()
    # "basic" is used at two sizes (4 and 5 channels): one class per variant
    assert code.count("class Basic(nn.Module):") == 1
    assert code.count("class Basic2(nn.Module):") == 1
    assert code.count("class Stage(nn.Module):") == 1
    assert "nn.Sequential(Basic(), Basic())" in code
    np.savez(tmp_path / "in.npz", exported["x"].numpy())
    job = {
        "py": str(result.paths[0]),
        "cls": result.sidecar["python_class"],
        "weights": str(result.paths[1]),
        "inputs": str(tmp_path / "in.npz"),
        "out": str(tmp_path / "out.npz"),
    }
    proc = run_generated_models([job], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = np.load(tmp_path / "out.npz")["arr_0"]
    np.testing.assert_allclose(got, exported["ref"].numpy(), atol=1e-5, rtol=0)


def test_generated_block_code_passes_ruff(exported, assert_ruff_clean):
    assert_ruff_clean([exported["results"]["python"].paths[0]])


def test_onnx_pt2_and_safetensors_work_on_a_design_with_blocks(exported):
    import onnxruntime as ort
    from safetensors.torch import load_file

    x, ref = exported["x"], exported["ref"]
    session = ort.InferenceSession(
        str(exported["results"]["onnx"].paths[0]), providers=["CPUExecutionProvider"]
    )
    (got,) = session.run(None, {session.get_inputs()[0].name: x.numpy()})
    np.testing.assert_allclose(got, ref.numpy(), atol=1e-4, rtol=0)
    program = torch.export.load(str(exported["results"]["pt2"].paths[0]))
    with torch.no_grad():
        assert torch.equal(program.module()(x), ref)
    weights = load_file(str(exported["results"]["safetensors"].paths[0]))
    assert "stage.basic.1.conv2.weight" in weights
    assert "basic2.conv1.weight" in weights
