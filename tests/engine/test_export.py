"""Export every template after a short training run, and check each file with its real consumer.

* ONNX: onnxruntime gives the torch outputs (≤ 1e-4) at batch sizes 1 and 7;
* ``.pt2``: ``torch.export.load`` gives the same outputs;
* Python: the generated file, run in a fresh interpreter with the exported safetensors, gives
  the same outputs; it passes ``ruff check``; its ``__main__`` block runs a prediction.

Checkpoints follow the trainer's contract (state dicts keyed by network name) and are built here
with a few optimizer steps, so these tests do not depend on the trainer. Exports are made once
per session and shared.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.compile import compile_design
from engine.data import Preprocessor, prepare_data
from engine.errors import DesignError, ExportError
from engine.export import export_formats, export_model, prepare_export
from engine.io import load_design, save_design
from engine.training.checkpoint import checkpoint_from_modules, load_checkpoint, save_checkpoint
from resources import TEMPLATES, template_path
from tests.helpers import data_info, export_argv, run_generated_models

ROOT = Path(__file__).resolve().parents[2]
FORMAT_SUFFIX = {"onnx": ".onnx", "pt2": ".pt2", "safetensors": ".safetensors", "python": ".py"}
# (template, part) pairs: every template, plus the GAN's discriminator and the encoder alone.
# Two more checkpoints carry preprocessing beyond the templates' own: median imputation of NaN,
# z-score clipping and min-max scaling on a table ("mlp-impute"), per-channel standard scaling
# of images ("cnn-scaled").
CASES = [(stem, None) for stem in TEMPLATES] + [
    ("gan", "discriminator"),
    ("autoencoder", "encoder"),
    ("mlp-impute", None),
    ("cnn-scaled", None),
]


def _case_id(case: tuple[str, str | None]) -> str:
    return case[0] + (f"-{case[1]}" if case[1] else "")


def short_training(stem: str, steps: int = 8):
    """(design, checkpoint) after a few Adam steps on the template's own data (none for SOM)."""
    torch.manual_seed(0)
    design = load_design(template_path(stem))
    data = prepare_data(design.data, seed=0)
    task = design.training["task"]
    x = torch.from_numpy(data.x_train[:256])
    if task == "gan":
        gen, disc = compile_design(design, "generator"), compile_design(design, "discriminator")
        opt_g = torch.optim.Adam(gen.parameters(), 1e-3)
        opt_d = torch.optim.Adam(disc.parameters(), 1e-3)
        bce = torch.nn.BCEWithLogitsLoss()
        for i in range(steps):
            noise, real = torch.randn(32, 32), x[i * 32 : (i + 1) * 32]
            loss_d = bce(disc(real), torch.ones(32, 1)) + bce(
                disc(gen(noise).detach()), torch.zeros(32, 1)
            )
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            loss_g = bce(disc(gen(noise)), torch.ones(32, 1))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
        modules = {"generator": gen, "discriminator": disc}
    else:
        net = compile_design(design)
        if task != "som":
            opt = torch.optim.Adam(net.parameters(), 1e-3)
            for i in range(steps):
                xb = x[i * 32 : (i + 1) * 32]
                out = net(xb)
                if task == "reconstruction":
                    loss = torch.nn.functional.mse_loss(out, xb)
                else:
                    yb = torch.from_numpy(data.y_train[i * 32 : (i + 1) * 32])
                    loss = torch.nn.functional.cross_entropy(out, yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
        modules = {"main": net}
    info = data_info(task, data)
    ckpt = checkpoint_from_modules(
        design, modules, preprocessor=data.preprocessor.state_dict(), data_info=info, epoch=1
    )
    return design, ckpt, raw_samples(data, 7)


def raw_samples(data, n: int) -> np.ndarray:
    """``n`` validation samples as the user loaded them (the fitted scaling undone)."""
    x = (data.x_val if len(data.x_val) else data.x_train)[:n]
    affine = data.preprocessor.affine_params()
    shape = [1] * x.ndim
    shape[affine.feature_axis if affine.feature_axis < 0 else affine.feature_axis + 1] = -1
    return (x * affine.scale.reshape(shape) + affine.shift.reshape(shape)).astype(np.float32)


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> dict[str, tuple[Path, Path, np.ndarray]]:
    """template stem -> (design path, checkpoint path, 7 raw samples) after a short training."""
    folder = tmp_path_factory.mktemp("trained")
    out = {}
    for stem in TEMPLATES:
        design, ckpt, raw = short_training(stem)
        design_path, ckpt_path = folder / f"{stem}.json", folder / f"{stem}.pt"
        save_design(design, design_path)
        save_checkpoint(ckpt_path, ckpt)
        out[stem] = (design_path, ckpt_path, raw)
    rng = np.random.default_rng(0)
    table = rng.normal(3.0, 2.0, (200, 64))
    table[rng.random(table.shape) < 0.1] = np.nan
    images = rng.normal(5.0, 3.0, (57, 1, 8, 8))
    extra = {
        "mlp-impute": (
            Preprocessor(
                {"scale": "minmax", "impute": "median", "outliers": "zscore"},
                "table",
                [f"c{i}" for i in range(64)],
            ).fit(table),
            table,
        ),
        "cnn-scaled": (Preprocessor({"scale": "standard"}, "image").fit(images), images),
    }
    for key, (pre, samples) in extra.items():
        stem = key.split("-")[0]
        ckpt = load_checkpoint(out[stem][1])
        ckpt.preprocessor = pre.state_dict()
        save_checkpoint(folder / f"{key}.pt", ckpt)
        out[key] = (out[stem][0], folder / f"{key}.pt", samples[-7:].astype(np.float32))
    return out


@pytest.fixture(scope="session")
def exports(trained, tmp_path_factory) -> dict[tuple[str, str | None], dict]:
    """Every case exported in every format, with reference inputs and torch outputs."""
    folder = tmp_path_factory.mktemp("exports")
    results = {}
    for case in CASES:
        key, part = case
        design_path, ckpt_path, raw = trained[key]
        plan = prepare_export(design_path, ckpt_path, part)
        targets = {
            fmt: folder / f"{_case_id(case)}{suffix}" for fmt, suffix in FORMAT_SUFFIX.items()
        }
        written = export_formats(design_path, ckpt_path, targets, network=part)
        paths = {r.format: r for r in written}
        for fmt, target in targets.items():
            assert paths[fmt].paths[0] == target and target.is_file()
        if plan.part == "generator":
            inputs = {batch: (torch.randn(batch, 32),) for batch in (1, 7)}
        else:
            inputs = {batch: (torch.from_numpy(raw[:batch]),) for batch in (1, 7)}
        with torch.no_grad():
            reference = {batch: _as_tuple(plan.module(*x)) for batch, x in inputs.items()}
        results[case] = {"plan": plan, "results": paths, "inputs": inputs, "reference": reference}
    return results


def _as_tuple(out) -> tuple[torch.Tensor, ...]:
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_onnxruntime_matches_torch_at_batch_1_and_7(exports, case):
    import onnxruntime as ort

    entry = exports[case]
    result = entry["results"]["onnx"]
    session = ort.InferenceSession(str(result.paths[0]), providers=["CPUExecutionProvider"])
    names = [i.name for i in session.get_inputs()]
    assert names == entry["plan"].input_names
    assert session.get_inputs()[0].shape[0] == "batch"
    for batch in (1, 7):
        feeds = {n: x.numpy() for n, x in zip(names, entry["inputs"][batch])}
        outs = session.run(None, feeds)
        for got, want in zip(outs, entry["reference"][batch]):
            assert got.shape == tuple(want.shape)
            np.testing.assert_allclose(got, want.numpy(), atol=1e-4, rtol=0)


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_pt2_loads_and_gives_the_same_outputs(exports, case):
    entry = exports[case]
    program = torch.export.load(str(entry["results"]["pt2"].paths[0]))
    for batch in (1, 7):
        with torch.no_grad():
            got = _as_tuple(program.module()(*entry["inputs"][batch]))
        for g, want in zip(got, entry["reference"][batch], strict=True):
            # bit-identical, except where the exported attention takes another kernel path than
            # eager torch (the transformer template): there within 1e-6
            torch.testing.assert_close(g, want, rtol=0.0, atol=1e-6)


def test_generated_python_in_a_fresh_interpreter_gives_the_same_outputs(exports, tmp_path):
    """One subprocess loads every generated file with its safetensors weights and runs it."""
    jobs = []
    for case, entry in exports.items():
        result = entry["results"]["python"]
        side = result.sidecar
        inputs = tmp_path / f"{_case_id(case)}_in.npz"
        np.savez(inputs, *[x.numpy() for x in entry["inputs"][7]])
        jobs.append(
            {
                "py": str(result.paths[0]),
                "cls": side["python_class"],
                "weights": str(result.paths[0].with_name(side["weights"])),
                "inputs": str(inputs),
                "out": str(tmp_path / f"{_case_id(case)}_out.npz"),
            }
        )
    proc = run_generated_models(jobs, cwd=tmp_path, env={**os.environ, "PYTHONPATH": ""})
    assert proc.returncode == 0, proc.stderr[-2000:]
    for case, entry in exports.items():
        got = np.load(tmp_path / f"{_case_id(case)}_out.npz")
        want = entry["reference"][7]
        assert len(got.files) == len(want)
        for i, w in enumerate(want):
            np.testing.assert_allclose(
                got[f"arr_{i}"], w.numpy(), atol=1e-5, rtol=0, err_msg=_case_id(case)
            )


def test_generated_python_passes_ruff(exports, assert_ruff_clean):
    assert_ruff_clean([e["results"]["python"].paths[0] for e in exports.values()])


def test_generated_main_block_predicts_with_class_labels(exports, tmp_path):
    entry = exports[("mlp", None)]
    py = entry["results"]["python"].paths[0]
    raw = entry["inputs"][7][0].numpy()
    np.save(tmp_path / "x.npy", raw)
    proc = subprocess.run(
        [
            sys.executable,
            str(py),
            "--input",
            str(tmp_path / "x.npy"),
            "--output",
            str(tmp_path / "y.npz"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    want = entry["reference"][7][0]
    labels = entry["plan"].info["class_names"]
    lines = proc.stdout.strip().splitlines()
    assert lines == [f"sample {i}: {labels[k]}" for i, k in enumerate(want.argmax(1).tolist())]
    np.testing.assert_allclose(np.load(tmp_path / "y.npz")["digit"], want.numpy(), atol=1e-5)


def test_safetensors_names_match_the_generated_modules(exports):
    from safetensors.torch import load_file

    entry = exports[("lstm", None)]
    weights = load_file(str(entry["results"]["safetensors"].paths[0]))
    assert "lstm.weight_ih_l0" in weights and "logits.weight" in weights
    code = entry["results"]["python"].paths[0].read_text()
    assert "self.lstm = nn.LSTM(" in code and "self.logits = nn.Linear(128, 10)" in code
    assert set(weights) == set(
        load_file(str(entry["results"]["python"].paths[0].with_suffix(".safetensors")))
    )


def test_preprocessing_is_folded_so_the_model_takes_raw_features(exports, trained):
    entry = exports[("mlp", None)]
    plan = entry["plan"]
    side = entry["results"]["onnx"].sidecar
    assert side["preprocessing"]["folded"] and side["preprocessing"]["steps"] == [
        "standard scaling"
    ]
    assert side["inputs"][0]["columns"][:2] == ["pixel_0_0", "pixel_0_1"]
    assert side["class_labels"] == [str(d) for d in range(10)]
    ckpt = load_checkpoint(trained["mlp"][1])
    pre = Preprocessor.from_state(ckpt.preprocessor)
    raw = entry["inputs"][7][0]
    with torch.no_grad():
        want = plan.module.net(torch.from_numpy(pre.transform(raw.numpy())))
    np.testing.assert_allclose(entry["reference"][7][0].numpy(), want.numpy(), atol=1e-5)


@pytest.mark.parametrize("key", ["mlp-impute", "cnn-scaled"])
def test_imputation_clipping_and_image_scaling_fold_into_the_model(exports, trained, key):
    """The exported model on raw samples (with NaN) equals the network on the Preprocessor's
    output; the format tests above check every file against the same reference."""
    entry = exports[(key, None)]
    raw = trained[key][2]
    assert np.isnan(raw).any() == (key == "mlp-impute")
    pre = Preprocessor.from_state(load_checkpoint(trained[key][1]).preprocessor)
    with torch.no_grad():
        want = entry["plan"].module.net(torch.from_numpy(pre.transform(raw)))
    np.testing.assert_allclose(entry["reference"][7][0].numpy(), want.numpy(), atol=1e-5)
    steps = entry["results"]["onnx"].sidecar["preprocessing"]["steps"]
    assert steps == (
        ["median imputation of missing values", "zscore outlier clipping", "minmax scaling"]
        if key == "mlp-impute"
        else ["standard scaling"]
    )
    code = entry["results"]["python"].paths[0].read_text()
    assert ("torch.isnan" in code) == (key == "mlp-impute")


def test_gan_exports_the_generator_by_default_and_the_discriminator_on_request(exports):
    gen = exports[("gan", None)]
    disc = exports[("gan", "discriminator")]
    assert gen["plan"].part == "generator" and gen["plan"].input_names == ["noise"]
    assert tuple(gen["reference"][7][0].shape) == (7, 64)
    assert disc["plan"].input_names == ["sample"] and tuple(disc["reference"][7][0].shape) == (7, 1)
    assert gen["results"]["onnx"].sidecar["part"] == "generator"


def test_sequence_length_is_dynamic_where_the_design_allows(tmp_path):
    """A per-step Linear reads any length in ONNX and .pt2; the LSTM template keeps its 8."""
    import onnxruntime as ort

    from engine.graph import Design, Edge, Node

    design = Design("per step")
    for node in (
        Node("seq", "Input", {"shape": [5, 4]}),
        Node("fc", "Linear", {"out_features": 3}),
        Node("out", "Output"),
    ):
        design.add_node(node)
    design.add_edge(Edge("seq", "fc"))
    design.add_edge(Edge("fc", "out"))
    torch.manual_seed(0)
    net = compile_design(design).eval()
    save_checkpoint(tmp_path / "c.pt", checkpoint_from_modules(design, {"main": net}))
    onnx_result, pt2_result = export_formats(
        design, tmp_path / "c.pt", {"onnx": tmp_path / "s.onnx", "pt2": tmp_path / "s.pt2"}
    )
    assert onnx_result.sidecar["inputs"][0]["shape"] == ["batch", "steps", 4]
    assert onnx_result.sidecar["outputs"][0]["shape"] == ["batch", "steps", 3]
    session = ort.InferenceSession(str(onnx_result.paths[0]), providers=["CPUExecutionProvider"])
    program = torch.export.load(str(pt2_result.paths[0])).module()
    for steps in (2, 9):
        x = torch.rand(3, steps, 4)
        with torch.no_grad():
            want = net(x)
            torch.testing.assert_close(program(x), want)
        got = session.run(None, {"seq": x.numpy()})[0]
        np.testing.assert_allclose(got, want.numpy(), atol=1e-5)


def test_recurrent_templates_keep_a_fixed_length(exports):
    side = exports[("lstm", None)]["results"]["onnx"].sidecar
    assert side["dynamic_axes"] == {"batch": True, "steps": False}
    assert side["inputs"][0]["shape"] == ["batch", 8, 8]


def test_export_parts_lists_what_a_dialog_offers(trained):
    from engine.export import export_parts

    def parts(stem):
        return [p for p, _ in export_parts(load_design(trained[stem][0]))]

    assert parts("mlp") == [None]
    assert parts("autoencoder") == [None, "encoder"]
    assert parts("gan") == [None, "discriminator"]


def test_checkpoints_of_wrapped_modules_export(trained, tmp_path):
    """A DistributedDataParallel ``module.`` prefix on every key is dropped."""
    ckpt = load_checkpoint(trained["mlp"][1])
    ckpt.state_dicts = {"main": {f"module.{k}": v for k, v in ckpt.state_dicts["main"].items()}}
    save_checkpoint(tmp_path / "ddp.pt", ckpt)
    plan = prepare_export(trained["mlp"][0], tmp_path / "ddp.pt")
    reference = prepare_export(trained["mlp"][0], trained["mlp"][1])
    x = torch.from_numpy(trained["mlp"][2])
    with torch.no_grad():
        assert torch.equal(plan.module(x), reference.module(x))


def test_som_exports_best_matching_unit_and_distances(exports):
    entry = exports[("som", None)]
    bmu, distances = entry["reference"][7]
    assert bmu.dtype == torch.int64 and tuple(distances.shape) == (7, 100)
    assert torch.equal(bmu, distances.argmin(1))
    side = entry["results"]["onnx"].sidecar
    assert [o["name"] for o in side["outputs"]] == ["bmu", "distances"]
    assert side["som_grid"]["rows"] == 10 and side["som_grid"]["cols"] == 10


def test_encoder_ends_at_the_bottleneck_or_a_named_layer(exports, trained):
    entry = exports[("autoencoder", "encoder")]
    plan = entry["plan"]
    assert [n.id for n in plan.design] == ["pixels", "enc1", "enc_relu", "code"]
    assert tuple(entry["reference"][7][0].shape) == (7, 16)
    named = prepare_export(trained["autoencoder"][0], trained["autoencoder"][1], "encoder:enc_relu")
    assert named.output_names == ["enc_relu"]
    assert [n.id for n in named.design] == ["pixels", "enc1", "enc_relu"]
    with torch.no_grad():
        x = plan.example_inputs(3)
        hidden = named.module(*x)
        assert tuple(hidden.shape) == (3, 128) and bool((hidden >= 0).all())
        code = plan.module(*x)
        assert tuple(code.shape) == (3, 16) and bool((code < 0).any())  # linear bottleneck
    with pytest.raises(ExportError, match="no layer called 'nope'"):
        prepare_export(trained["autoencoder"][0], trained["autoencoder"][1], "encoder:nope")
    with pytest.raises(ExportError, match="encoder:NODE"):
        prepare_export(trained["mlp"][0], trained["mlp"][1], "encoder")


# ------------------------------------------------------------------------------------------
# bad requests: one clear line, nothing written


def test_cli_export_writes_the_file_and_sidecar(trained, tmp_path, run_main):
    design, ckpt, _ = trained["mlp"]
    out = tmp_path / "model.safetensors"
    code, stdout, err = run_main(export_argv(design, ckpt, "safetensors", out))
    assert code == 0, err
    assert out.is_file() and (tmp_path / "model.safetensors.json").is_file()
    assert stdout.startswith(f"wrote {out}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "model.safetensors",
        "model.safetensors.json",
    ]


@pytest.mark.parametrize(
    "problem", ["format", "mismatch", "invalid", "no-folder", "parent-file", "part", "onnx-missing"]
)
def test_bad_requests_fail_with_one_line_and_leave_no_file(
    problem, trained, tmp_path, run_main, monkeypatch
):
    design, ckpt, _ = trained["mlp"]
    out = tmp_path / "model.onnx"
    out.write_text("previous export")
    fmt, extra = "onnx", []
    expect = ""
    if problem == "format":
        fmt, expect = "tflite", "invalid choice"
    elif problem == "mismatch":
        ckpt, expect = trained["cnn"][1], "trained on a different design"
    elif problem == "invalid":
        broken = load_design(design)
        broken.remove_edge(broken.in_edges("hidden2")[0])
        design = tmp_path / "broken.json"
        save_design(broken, design)
        expect = "cannot export"
    elif problem == "no-folder":
        out, expect = tmp_path / "missing" / "model.onnx", "does not exist"
    elif problem == "parent-file":
        out, expect = tmp_path / "model.onnx" / "inner.onnx", "is a file"
    elif problem == "part":
        extra, expect = ["--network", "decoder"], "no network or part 'decoder'"
    else:
        import engine.export.formats as formats

        monkeypatch.setattr(
            formats, "_find_spec", lambda name: None if name == "onnxscript" else object()
        )
        expect = "needs the onnxscript package, which Deepwire depends on: pip install onnxscript"
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, stdout, err = run_main(export_argv(design, ckpt, fmt, out) + extra)
    assert code in (1, 2)
    assert expect in err
    assert len(err.strip().splitlines()) == 1, err
    assert (tmp_path / "model.onnx").read_text() == "previous export"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_python_api_rejects_unknown_format_and_invalid_design(trained, tmp_path):
    design, ckpt, _ = trained["mlp"]
    with pytest.raises(ExportError, match="unknown export format 'tflite'.*onnx"):
        export_model(design, ckpt, "tflite", tmp_path / "m.tflite")
    broken = load_design(design)
    broken.set_param("hidden1", "out_features", 0)
    with pytest.raises(DesignError, match="hidden1"):
        export_model(broken, ckpt, "pt2", tmp_path / "m.pt2")
    assert list(tmp_path.iterdir()) == []
