"""Element types travel with shapes: an int64 Input feeds only integer layers (Embedding) or
pass-through ones (Flatten, Reshape, merges, Output); a float layer fed integers, or an Embedding
fed floats, is a problem on that node. What validates trains and exports; what does not is
refused by check, train and export with the same message."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.compile import compile_design
from engine.errors import DesignError
from engine.export import prepare_export
from engine.io import load_design, save_design
from engine.shapes import analyze
from resources import template_path
from tests.engine.builders import add, chain
from tests.helpers import export_argv

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py

INT_TO_LINEAR = "Linear expects float input, but 'tokens' gives int64"


def problems(design) -> dict[str | None, list[str]]:
    out: dict[str | None, list[str]] = {}
    for p in analyze(design).problems:
        assert p.message and p.fix, p
        out.setdefault(p.node, []).append(f"{p.message} — {p.fix}")
    return out


def int_linear():
    return chain(
        ("tokens", "Input", {"shape": [6], "dtype": "int64"}),
        ("fc1", "Linear", {"out_features": 3}),
        ("out", "Output"),
    )


def token_classifier(vocab: int = 20):
    return chain(
        ("tokens", "Input", {"shape": [6], "dtype": "int64"}),
        ("embed", "Embedding", {"num_embeddings": vocab, "embedding_dim": 4}),
        ("flat", "Flatten"),
        ("fc", "Linear", {"out_features": 3}),
        ("out", "Output"),
    )


def test_int64_input_into_linear_is_a_problem_on_the_linear_with_a_fix():
    found = problems(int_linear())
    assert list(found) == ["fc1"]
    (text,) = found["fc1"]
    assert text == (
        f"{INT_TO_LINEAR} — set the dtype of 'tokens' to float32, or add an "
        "Embedding between 'tokens' and 'fc1'"
    )


def test_integers_passed_through_flatten_are_traced_back_to_their_input():
    design = chain(
        ("tokens", "Input", {"shape": [2, 3], "dtype": "int64"}),
        ("flat", "Flatten"),
        ("relu", "ReLU"),
        ("fc", "Linear", {"out_features": 2}),
    )
    analysis = analyze(design)
    assert analysis.info["flat"].output_dtype == "int64"
    assert analysis.info["flat"].problems == []
    (problem,) = analysis.problems
    assert problem.node == "relu"
    assert problem.message == "ReLU expects float input, but 'flat' gives int64"
    assert (
        problem.fix == "set the dtype of Input 'tokens' to float32, or add an Embedding "
        "before 'relu'"
    )


def test_float_into_embedding_is_refused():
    design = chain(
        ("x", "Input", {"shape": [6]}),
        ("embed", "Embedding", {"num_embeddings": 10}),
        ("flat", "Flatten"),
        ("fc", "Linear", {"out_features": 2}),
    )
    found = problems(design)
    assert list(found) == ["embed"]
    assert found["embed"] == [
        "Embedding expects integer token ids, but 'x' gives float32 — set the dtype of 'x' to int64"
    ]
    design = chain(
        ("x", "Input", {"shape": [6]}),
        ("fc", "Linear", {"out_features": 6}),
        ("embed", "Embedding", {"num_embeddings": 10}),
    )
    (text,) = problems(design)["embed"]
    assert "but 'fc' gives float32" in text and "an Input with dtype int64" in text


def test_merging_integers_with_floats_is_refused():
    design = chain(("tokens", "Input", {"shape": [4], "dtype": "int64"}))
    add(design, "x", "Input", {"shape": [4]})
    add(design, "cat", "Concatenate", inputs=("tokens", "x"))
    (text,) = problems(design)["cat"]
    assert "Concatenate needs inputs of one dtype" in text
    assert "'tokens' gives int64" in text and "'x' gives float32" in text


def test_token_pipeline_is_valid_and_dtypes_are_reported():
    design = token_classifier()
    add(design, "ids", "Input", {"shape": [6], "dtype": "int64"})
    design.remove_edge(design.in_edges("embed")[0])
    add(design, "cat", "Concatenate", inputs=("tokens", "ids"))
    design.add_edge(type(design.edges[0])("cat", "embed", 0))
    analysis = analyze(design)
    assert analysis.valid, analysis.problems
    dtypes = {k: v.output_dtype for k, v in analysis.info.items()}
    assert dtypes == {
        "tokens": "int64",
        "ids": "int64",
        "cat": "int64",
        "embed": "float32",
        "flat": "float32",
        "fc": "float32",
        "out": "float32",
    }
    assert analysis.info["fc"].input_dtypes == ("float32",)


def test_changing_the_input_dtype_updates_downstream_incrementally():
    design = token_classifier()
    analysis = analyze(design)
    design.set_param("tokens", "dtype", "float32")
    analysis.update({"tokens"})
    assert [p.node for p in analysis.problems] == ["embed"]
    design.set_param("embed", "num_embeddings", 30)  # unrelated edit keeps the problem
    analysis.update({"embed"})
    assert [p.node for p in analysis.problems] == ["embed"]
    design.set_param("tokens", "dtype", "int64")
    analysis.update({"tokens"})
    assert analysis.valid and analysis.info["out"].output_dtype == "float32"


def test_a_gan_reads_float_samples_only():
    design = _load(template_path("gan"))
    noise = next(n.id for n in design.nodes_in_network("generator") if n.type == "Input")
    design.set_param(noise, "dtype", "int64")
    analysis = analyze(design)
    assert not analysis.valid
    assert any(
        p.node == noise and "int64" in p.message and "float32" in p.fix for p in analysis.problems
    )


# -- check / train / export agree ------------------------------------------------------------


def _write(design, folder: Path, data: dict, name: str = "design") -> Path:
    design.data = data
    design.training = {"task": "classification"}
    path = folder / f"{name}.json"
    save_design(design, path)
    return path


def _token_data(folder: Path, *, vocab: int = 20, floats: bool = False) -> dict:
    rng = np.random.default_rng(0)
    x = rng.integers(0, vocab, size=(60, 6))
    y = (x[:, 0] % 3).astype(np.int64)
    np.savez(folder / "tokens.npz", x=x + (0.5 if floats else 0), y=y)
    return {"source": "npz", "path": "tokens.npz", "task": "classification"}


def test_check_train_and_export_refuse_int_into_linear_with_one_message(run_main, tmp_path):
    path = _write(int_linear(), tmp_path, _token_data(tmp_path))
    code, out, err = run_main(["check", str(path)])
    assert code == 1 and INT_TO_LINEAR in err and "add an Embedding" in err
    code, out, err = run_main(["check", str(path), "--json"])
    report = json.loads(out)
    assert code == 1 and report["errors"][0]["node"] == "fc1"
    assert INT_TO_LINEAR in report["errors"][0]["message"]
    code, out, err = run_main(["train", str(path), "--epochs", "1", "--out", str(tmp_path / "r")])
    assert code == 1 and INT_TO_LINEAR in err and len(err.strip().splitlines()) == 1
    with pytest.raises(DesignError, match=INT_TO_LINEAR):
        compile_design(int_linear())
    # a checkpoint of the valid twin, exported against the int design: refused the same way
    good = _write(token_classifier(), tmp_path, _token_data(tmp_path), "good")
    code, _, err = run_main(["train", str(good), "--epochs", "1", "--out", str(tmp_path / "ok")])
    assert code == 0, err
    code, _, err = run_main(
        export_argv(path, tmp_path / "ok" / "last.pt", "onnx", tmp_path / "m.onnx")
    )
    assert code == 1 and INT_TO_LINEAR in err and not (tmp_path / "m.onnx").exists()


def test_token_design_trains_and_its_onnx_runs_in_onnxruntime(run_main, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    path = _write(token_classifier(), tmp_path, _token_data(tmp_path))
    code, _, err = run_main(["check", str(path)])
    assert code == 0, err
    code, _, err = run_main(
        ["train", str(path), "--epochs", "1", "--batch-size", "16", "--out", str(tmp_path / "run")]
    )
    assert code == 0, err
    ckpt = tmp_path / "run" / "last.pt"
    onnx_path = tmp_path / "tokens.onnx"
    code, _, err = run_main(export_argv(path, ckpt, "onnx", onnx_path))
    assert code == 0, err
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.type == "tensor(int64)"
    ids = np.array([[1, 2, 3, 4, 5, 19], [0, 0, 7, 7, 9, 9], [3, 1, 4, 1, 5, 9]], dtype=np.int64)
    (logits,) = session.run(None, {inp.name: ids})
    assert logits.shape == (3, 3) and np.isfinite(logits).all()
    plan = prepare_export(_load(path), ckpt)
    with torch.no_grad():
        want = plan.module(torch.from_numpy(ids)).numpy()
    assert np.abs(logits - want).max() <= 1e-4


def _load(path: Path):
    return load_design(path)


@pytest.mark.parametrize(
    ("floats", "vocab", "needle"),
    [
        (True, 20, "not whole numbers"),
        (False, 10, "token ids up to 19, but Embedding 'embed' has num_embeddings 10"),
    ],
)
def test_training_an_int_input_checks_the_data_fits(run_main, tmp_path, floats, vocab, needle):
    path = _write(token_classifier(vocab), tmp_path, _token_data(tmp_path, floats=floats))
    code, _, err = run_main(["train", str(path), "--epochs", "1", "--out", str(tmp_path / "r")])
    assert code == 1 and needle in err and "Traceback" not in err, err


def test_an_autoencoder_of_token_ids_is_refused_before_training(run_main, tmp_path):
    design = chain(
        ("tokens", "Input", {"shape": [6], "dtype": "int64"}),
        ("embed", "Embedding", {"num_embeddings": 20, "embedding_dim": 2}),
        ("flat", "Flatten"),
        ("fc", "Linear", {"out_features": 6}),
        ("out", "Output"),
    )
    path = _write(design, tmp_path, _token_data(tmp_path))
    design.training = {"task": "reconstruction", "loss": "mse"}
    save_design(design, path)
    code, _, err = run_main(["train", str(path), "--epochs", "1", "--out", str(tmp_path / "r")])
    assert code == 1 and "autoencoder reconstructs its input as floats" in err, err
    assert "set its dtype to float32" in err
