"""The seven family templates: valid, compile, run, round-trip byte for byte, export."""

from __future__ import annotations

import pytest
import torch

from engine.compile import compile_design, dynamic_batch_shapes, export_program
from engine.io import dumps, load_design
from engine.shapes import analyze
from resources import TEMPLATES, template_path

FAMILIES = ("mlp", "cnn", "rnn", "lstm", "transformer", "autoencoder", "gan", "som")


def test_every_family_has_a_template():
    assert tuple(TEMPLATES) == FAMILIES
    for stem in FAMILIES:
        assert template_path(stem).is_file(), stem


@pytest.fixture(params=FAMILIES)
def template(request):
    return request.param, load_design(template_path(request.param))


def test_template_is_valid_and_sized_for_its_data(template):
    stem, design = template
    analysis = analyze(design)
    assert analysis.valid, [str(p) for p in analysis.problems]
    assert design.data.get("source") == "builtin", "templates train on embedded data"
    assert design.training.get("task"), "templates say how they train"


def test_template_round_trips_byte_for_byte(template):
    stem, design = template
    text = template_path(stem).read_text(encoding="utf-8")
    assert dumps(design) == text


def test_template_compiles_runs_and_counts_match(template):
    stem, design = template
    analysis = analyze(design)
    for network in design.networks:
        module = compile_design(design, network)
        counted = sum(p.numel() for p in module.parameters())
        assert counted == analysis.totals(network).params, (stem, network)
        assert counted > 0
        module.eval()
        with torch.no_grad():
            out = module(*module.example_inputs(5))
        outs = out if isinstance(out, tuple) else (out,)
        for out_id, tensor in zip(module.output_ids, outs):
            assert tuple(tensor.shape) == (5, *analysis.info[out_id].output_shape)
            assert torch.isfinite(tensor).all()


def test_template_exports_with_dynamic_batch(template):
    stem, design = template
    for network in design.networks:
        module = compile_design(design, network)
        program = export_program(module)
        for batch in (1, 7):
            inputs = module.example_inputs(batch)
            with torch.no_grad():
                want = module(*inputs)
            got = program.module()(*inputs)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        assert dynamic_batch_shapes(module)


@pytest.mark.parametrize("stem", ["mlp", "lstm"])
def test_template_exports_to_onnx_with_dynamic_batch(stem, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    module = compile_design(load_design(template_path(stem)))
    module.eval()
    path = tmp_path / f"{stem}.onnx"
    torch.onnx.export(
        module,
        module.example_inputs(2),
        str(path),
        dynamo=True,
        dynamic_shapes=dynamic_batch_shapes(module),
        verbose=False,
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for batch in (1, 7):
        x = module.example_inputs(batch)[0]
        with torch.no_grad():
            want = module(x).numpy()
        got = session.run(None, {name: x.numpy()})[0]
        assert got.shape == want.shape
        assert abs(got - want).max() <= 1e-4
