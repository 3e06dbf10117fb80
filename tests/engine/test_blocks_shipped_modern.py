"""The shipped blocks that use the modern layers (MobileNetV2 inverted residual, depthwise-
separable convolution, squeeze-and-excitation, Transformer encoder): each loads from the library,
checks its shapes in a tiny design, compiles and runs, and exports to Python code that gives the
same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.compile import compile_design
from engine.export import export_formats, prepare_export
from engine.shapes import analyze
from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint
from tests.engine.test_blocks_library import _with_block
from tests.helpers import run_generated_models

STEM = [("stem", "Conv2d", {"out_channels": 8, "kernel_size": 3})]
POOL = [("seq", "Linear", {"out_features": 12})]  # (T, F) → (T, 12) tokens

#: name → (front layers, exposed values, sample shape, repeat, instance output shape,
#: parameters of the instance as torch counts them)
CASES = {
    "mobilenet_inverted_residual": (
        STEM,
        {"hidden": 48, "channels": 8},
        [3, 8, 8],
        2,
        (8, 8, 8),
        # per repeat: expand 8→48 1×1, BN, depthwise 3×3 on 48, BN, project 48→8, BN
        2 * (8 * 48 + 2 * 48 + 48 * 9 + 2 * 48 + 48 * 8 + 2 * 8),
    ),
    "mobilenet_inverted_residual_stride": (
        STEM,
        {"hidden": 48, "channels": 16, "stride": 2},
        [3, 8, 8],
        1,
        (16, 4, 4),
        8 * 48 + 2 * 48 + 48 * 9 + 2 * 48 + 48 * 16 + 2 * 16,
    ),
    "depthwise_separable_conv": (
        STEM,
        {"in_channels": 8, "channels": 16, "stride": 2},
        [3, 8, 8],
        1,
        (16, 4, 4),
        8 * 9 + 2 * 8 + 8 * 16 + 2 * 16,
    ),
    "squeeze_excitation": (
        STEM,
        {"squeeze": 2, "channels": 8},
        [3, 8, 8],
        1,
        (8, 8, 8),
        (8 * 2 + 2) + (2 * 8 + 8),
    ),
    "transformer_encoder": (
        POOL,
        {"d_model": 12, "heads": 3, "mlp_dim": 24},
        [5, 7],
        2,
        (5, 12),
        # per repeat: 2 LayerNorms, attention (in/out projections), MLP 12→24→12
        2 * (2 * 2 * 12 + (3 * 12 * 12 + 3 * 12) + (12 * 12 + 12) + (12 * 24 + 24) + 24 * 12 + 12),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_shipped_block_checks_its_shapes_and_runs(name):
    front, values, shape, repeat, out_shape, params = CASES[name]
    design, inst = _with_block(front, name, values, shape, repeat)
    a = analyze(design)
    assert a.valid, a.problems
    assert a.info[inst].output_shape == out_shape
    assert a.info[inst].params == params
    net = compile_design(design)
    inner = getattr(net.layers, inst)
    assert sum(p.numel() for p in inner.parameters()) == params
    with torch.no_grad():
        assert net(*net.example_inputs(2)).shape == (2, 3)


def test_wrong_exposed_values_are_refused_by_the_inner_rules():
    # the identity shortcut needs channels = the input's 8
    design, _ = _with_block(STEM, "mobilenet_inverted_residual", {"channels": 16}, [3, 8, 8])
    (problem,) = analyze(design).problems
    assert "mobilenet_inverted_residual[0]/sum" in problem.message
    # heads must divide the model width
    design, _ = _with_block(POOL, "transformer_encoder", {"d_model": 12, "heads": 5}, [5, 7])
    problems = analyze(design).problems
    assert problems and "transformer_encoder[0]/attn" in problems[0].message


def test_the_python_export_of_each_shipped_block_matches(tmp_path):
    jobs, refs = [], []
    for i, name in enumerate(sorted(CASES)):
        front, values, shape, repeat, _out, _params = CASES[name]
        design, _ = _with_block(front, name, values, shape, repeat)
        torch.manual_seed(i)
        net = compile_design(design)
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
        ckpt = tmp_path / f"{name}.pt"
        save_checkpoint(ckpt, checkpoint_from_modules(design, {"main": net}))
        targets = {"python": tmp_path / f"{name}.py", "safetensors": tmp_path / f"{name}.st"}
        results = {r.format: r for r in export_formats(design, ckpt, targets)}
        plan = prepare_export(design, ckpt)
        x = torch.randn(4, *plan.input_shapes[0], generator=torch.Generator().manual_seed(i))
        with torch.no_grad():
            refs.append(plan.module(x).numpy())
        np.savez(tmp_path / f"{name}_in.npz", x.numpy())
        py = results["python"]
        jobs.append(
            {
                "py": str(py.paths[0]),
                "cls": py.sidecar["python_class"],
                "weights": str(results["safetensors"].paths[0]),
                "inputs": str(tmp_path / f"{name}_in.npz"),
                "out": str(tmp_path / f"{name}_out.npz"),
            }
        )
    proc = run_generated_models(jobs, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for job, ref in zip(jobs, refs):
        got = np.load(job["out"])["arr_0"]
        np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)
