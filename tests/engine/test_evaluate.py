"""evaluate / predict / train --init-from: metrics equal to scikit-learn's on the same predictions,
the checkpoint's own preprocessing and split, one-line refusals with the contract's exit codes."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
)

from engine.compile import compile_design
from engine.data import Preprocessor, prepare_data
from engine.errors import DataError, TrainingError
from engine.evaluate import evaluate_checkpoint, predict_file
from engine.io import save_design
from engine.training import Trainer, load_checkpoint
from engine.training.init_from import InitFromTrainer
from tests.engine.builders import chain

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py

SPLIT = {"val": 0.2, "test": 0.25, "stratify": True}
IRIS = {"source": "builtin", "name": "iris", "split": SPLIT, "preprocess": {"scale": "standard"}}
DIABETES = {
    "source": "builtin",
    "name": "diabetes",
    "split": {"val": 0.2, "test": 0.2},
    "preprocess": {"scale": "standard"},
}
IRIS_X = {**IRIS, "task": "unsupervised", "split": {"val": 0.2, "test": 0.2}}
DIGITS = {"source": "builtin", "name": "digits", "form": "flat", "split": SPLIT}


def _design(name, layers, data, training):
    design = chain(*layers)
    design.name = name
    design.data = data
    design.training = {"epochs": 1, "batch_size": 16, "lr": 0.01, **training}
    return design


def designs():
    return {
        "iris": _design(
            "iris",
            [
                ("x", "Input", {"shape": [4]}),
                ("h", "Linear", {"out_features": 8}),
                ("act", "ReLU"),
                ("out", "Linear", {"out_features": 3}),
            ],
            IRIS,
            {"task": "classification", "epochs": 3},
        ),
        "diabetes": _design(
            "diabetes",
            [("x", "Input", {"shape": [10]}), ("out", "Linear", {"out_features": 1})],
            DIABETES,
            {"task": "regression", "loss": "mse"},
        ),
        "ae": _design(
            "ae",
            [
                ("x", "Input", {"shape": [4]}),
                ("code", "Linear", {"out_features": 2}),
                ("out", "Linear", {"out_features": 4}),
            ],
            IRIS_X,
            {"task": "reconstruction", "loss": "mse"},
        ),
        "som": _design(
            "som",
            [("x", "Input", {"shape": [4]}), ("som", "SOM", {"rows": 3, "cols": 3})],
            IRIS_X,
            {"task": "som"},
        ),
        "digits": _design(
            "digits",
            [("x", "Input", {"shape": [64]}), ("out", "Linear", {"out_features": 10})],
            DIGITS,
            {"task": "classification", "batch_size": 64},
        ),
    }


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """name → (design file, best.pt) of one short training run of each design."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("evaluate")
    out = {}
    for name, design in designs().items():
        path = root / f"{name}.json"
        save_design(design, path)
        Trainer(design, out_dir=root / name).fit()
        out[name] = (path, root / name / "best.pt")
    return out


def _outputs(design, ckpt_path, x):
    """The trained network's outputs for already-preprocessed ``x`` (computed independently)."""
    net = compile_design(design)
    net.load_state_dict(next(iter(load_checkpoint(ckpt_path).state_dicts.values())))
    net.eval()
    with torch.no_grad():
        return net(torch.from_numpy(x).float())


def test_classifier_metrics_equal_sklearn_on_the_test_split(runs):
    path, ckpt = runs["iris"]
    design = designs()["iris"]
    result = evaluate_checkpoint(design, ckpt, "test")
    data = prepare_data(IRIS, seed=0)  # the run's seed: same split, same fitted scaling
    out = _outputs(design, ckpt, data.x_test)
    pred = out.argmax(1).numpy()
    assert result.n_samples == len(data.x_test) == 38
    assert result.accuracy == pytest.approx(accuracy_score(data.y_test, pred))
    precision, recall, f1, support = precision_recall_fscore_support(
        data.y_test, pred, labels=[0, 1, 2], zero_division=0
    )
    assert [c.name for c in result.classes] == data.class_names
    assert [c.precision for c in result.classes] == pytest.approx(precision.tolist())
    assert [c.recall for c in result.classes] == pytest.approx(recall.tolist())
    assert [c.f1 for c in result.classes] == pytest.approx(f1.tolist())
    assert [c.support for c in result.classes] == support.tolist()
    assert result.confusion == confusion_matrix(data.y_test, pred, labels=[0, 1, 2]).tolist()
    loss = torch.nn.functional.cross_entropy(out, torch.from_numpy(data.y_test))
    assert result.loss == pytest.approx(float(loss), rel=1e-5)
    # the validation split is another set of samples
    val = evaluate_checkpoint(design, ckpt, "val")
    assert val.n_samples == len(data.x_val) == 30
    assert val.loss == pytest.approx(
        float(
            torch.nn.functional.cross_entropy(
                _outputs(design, ckpt, data.x_val), torch.from_numpy(data.y_val)
            )
        ),
        rel=1e-5,
    )
    table = result.table()
    assert "confusion matrix" in table and "setosa" in table and "accuracy" in table


def test_regression_metrics_equal_sklearn(runs):
    _, ckpt = runs["diabetes"]
    design = designs()["diabetes"]
    result = evaluate_checkpoint(design, ckpt, "test")
    data = prepare_data(DIABETES, seed=0)
    pred = _outputs(design, ckpt, data.x_test).double().numpy()
    truth = data.y_test.astype(np.float64)
    assert result.mae == pytest.approx(mean_absolute_error(truth, pred), rel=1e-5)
    assert result.rmse == pytest.approx(mean_squared_error(truth, pred) ** 0.5, rel=1e-5)
    assert result.r2 == pytest.approx(r2_score(truth, pred), rel=1e-4)
    assert result.accuracy is None and result.confusion is None


def test_autoencoder_reconstruction_error(runs):
    _, ckpt = runs["ae"]
    design = designs()["ae"]
    result = evaluate_checkpoint(design, ckpt, "test")
    data = prepare_data(IRIS_X, seed=0)
    out = _outputs(design, ckpt, data.x_test)
    expected = float(((out - torch.from_numpy(data.x_test)) ** 2).mean())
    assert result.reconstruction_error == pytest.approx(expected, rel=1e-5)
    assert result.task == "reconstruction" and result.n_samples == len(data.x_test)


def test_som_quantization_and_topographic_error(runs):
    _, ckpt = runs["som"]
    result = evaluate_checkpoint(designs()["som"], ckpt, "test")
    x = torch.from_numpy(prepare_data(IRIS_X, seed=0).x_test).double()
    weight = load_checkpoint(ckpt).state_dicts["main"]["layers.som.weight"].double()
    dist = torch.cdist(x, weight)
    two = dist.topk(2, dim=1, largest=False)
    assert result.quantization_error == pytest.approx(float(two.values[:, 0].mean()), rel=1e-4)
    first, second = two.indices[:, 0], two.indices[:, 1]
    apart = torch.maximum((first // 3 - second // 3).abs(), (first % 3 - second % 3).abs()) > 1
    assert result.topographic_error == pytest.approx(float(apart.double().mean()))


def test_the_checkpoints_saved_preprocessing_is_used_and_a_changed_data_section_noted(runs):
    _, ckpt = runs["iris"]
    design = designs()["iris"]
    design.data = {**IRIS, "preprocess": {"scale": "minmax"}}  # edited after training
    result = evaluate_checkpoint(design, ckpt, "test")
    saved = Preprocessor.from_state(load_checkpoint(ckpt).preprocessor)
    data = prepare_data(IRIS, seed=0, fitted=saved)
    pred = _outputs(design, ckpt, data.x_test).argmax(1).numpy()
    assert result.accuracy == pytest.approx(accuracy_score(data.y_test, pred))
    assert any("data section differs" in n for n in result.notes)


def test_augmentation_added_after_training_is_not_a_changed_data_section(runs):
    _, ckpt = runs["iris"]
    design = designs()["iris"]
    design.data = {**IRIS, "augment": {"steps": [{"op": "noise", "std": 0.1}]}}
    result = evaluate_checkpoint(design, ckpt, "test")
    assert not any("data section differs" in n for n in result.notes)


def test_no_test_split_says_how_to_set_one(runs, run_main):
    path, ckpt = runs["iris"]
    design = json.loads(path.read_text())
    design["data"]["split"]["test"] = 0.0
    no_test = path.with_name("iris-no-test.json")
    no_test.write_text(json.dumps(design))
    code, out, err = run_main(["evaluate", str(no_test), "--checkpoint", str(ckpt)])
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "split.test" in err and "--split val" in err


def test_checkpoint_of_another_design_is_one_line(runs, run_main):
    with pytest.raises(DataError, match="different design"):
        evaluate_checkpoint(designs()["iris"], runs["diabetes"][1])
    code, out, err = run_main(
        ["evaluate", str(runs["iris"][0]), "--checkpoint", str(runs["ae"][1])]
    )
    assert code == 1 and err.count("\n") == 1 and "different design" in err
    assert "'layers.h.weight'" in err  # the first parameter that differs


def test_cli_evaluate_json_and_unreadable_files(runs, run_main, tmp_path):
    path, ckpt = runs["iris"]
    code, out, err = run_main(["evaluate", str(path), "--checkpoint", str(ckpt), "--json"])
    assert code == 0, err
    report = json.loads(out)
    assert report["split"] == "test" and report["n_samples"] == 38
    assert len(report["confusion"]) == 3 and report["classes"][0]["name"] == "setosa"
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    for argv in (
        ["evaluate", str(path), "--checkpoint", str(junk)],
        ["evaluate", str(path), "--checkpoint", str(tmp_path / "missing.pt")],
        ["evaluate", str(tmp_path / "missing.json"), "--checkpoint", str(ckpt)],
        ["evaluate", str(path), "--checkpoint", str(ckpt), "--split", "train"],
    ):
        code, _, err = run_main(argv)
        assert code == 2 and err.count("\n") == 1, (argv, err)


def test_evaluate_never_unpickles_a_hostile_checkpoint(runs, run_main, tmp_path):
    from tests.engine.hostile import evil_torch_save

    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(evil_torch_save(marker))
    path = runs["iris"][0]
    for command in ("evaluate", "predict"):
        argv = [command, str(path), "--checkpoint", str(evil)]
        if command == "predict":
            argv += ["--input", str(evil)]
        code, _, err = run_main(argv)
        assert code == 2 and err.count("\n") == 1
    assert not marker.exists()


def test_predict_csv_npy_and_wrong_shape(runs, run_main, tmp_path):
    path, ckpt = runs["iris"]
    design = designs()["iris"]
    raw = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]])
    saved = Preprocessor.from_state(load_checkpoint(ckpt).preprocessor)
    probs = torch.softmax(_outputs(design, ckpt, saved.transform(raw)), 1).numpy()
    names = load_checkpoint(ckpt).data_info["class_names"]
    npy = tmp_path / "rows.npy"
    np.save(npy, raw)
    preds = predict_file(design, ckpt, npy)
    assert np.allclose(preds.probabilities, probs, atol=1e-6)
    assert preds.labels == [names[i] for i in probs.argmax(1)]
    np.save(tmp_path / "one.npy", raw[1])  # one sample without the batch axis
    assert predict_file(design, ckpt, tmp_path / "one.npy").labels == preds.labels[1:]
    # a CSV with the training columns (in another order, with the target) reads by name
    columns = saved.columns
    csv_file = tmp_path / "rows.csv"
    order = [columns[2], "target", columns[0], columns[3], columns[1]]
    lines = [",".join(order)]
    for row in raw:
        values = dict(zip(columns, row, strict=True))
        lines.append(",".join(str(values.get(c, "x")) for c in order))
    csv_file.write_text("\n".join(lines) + "\n")
    out_csv = tmp_path / "pred.csv"
    code, out, err = run_main(
        ["predict", str(path), "--checkpoint", str(ckpt), "--input", str(csv_file),
         "--output", str(out_csv)]
    )  # fmt: skip
    assert code == 0, err
    written = out_csv.read_text().splitlines()
    assert written[0].split(",")[:2] == ["sample", "prediction"]
    assert [r.split(",")[1] for r in written[1:]] == preds.labels
    assert np.allclose(
        [[float(v) for v in r.split(",")[2:]] for r in written[1:]], probs, atol=1e-5
    )
    # wrong shape: one line naming the expected shape, exit 1
    np.save(tmp_path / "bad.npy", np.zeros((2, 5)))
    code, out, err = run_main(
        ["predict", str(path), "--checkpoint", str(ckpt), "--input", str(tmp_path / "bad.npy")]
    )
    assert code == 1 and out == "" and err.count("\n") == 1 and "(4,)" in err
    # a pickled .npy is refused without loading it
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    code, _, err = run_main(
        ["predict", str(path), "--checkpoint", str(ckpt), "--input", str(tmp_path / "obj.npy")]
    )
    assert code == 2 and "Python objects" in err


def test_predict_an_image_like_the_same_pixels_as_an_array(runs, tmp_path, run_main):
    from PIL import Image

    path, ckpt = runs["digits"]
    design = designs()["digits"]
    pixels = np.random.default_rng(0).integers(0, 256, (8, 8)).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "digit.png")
    np.save(tmp_path / "digit.npy", pixels.reshape(64) / 255.0)
    from_image = predict_file(design, ckpt, tmp_path / "digit.png")
    from_array = predict_file(design, ckpt, tmp_path / "digit.npy")
    assert np.allclose(from_image.probabilities, from_array.probabilities, atol=1e-6)
    code, out, err = run_main(
        ["predict", str(path), "--checkpoint", str(ckpt), "--input", str(tmp_path / "digit.png")]
    )
    assert code == 0, err
    assert out.splitlines()[1].split(",")[1] == from_image.labels[0]


def test_init_from_starts_with_the_checkpoints_weights_and_a_fresh_optimizer(runs, tmp_path):
    _, ckpt = runs["iris"]
    design = designs()["iris"]
    design.training = {**design.training, "optimizer": "adam"}
    trainer = InitFromTrainer(design, init_from=ckpt, out_dir=tmp_path / "ft")
    trainer._setup()
    saved = load_checkpoint(ckpt).state_dicts["main"]
    for key, value in trainer.loop.networks["main"].state_dict().items():
        assert torch.equal(value, saved[key]), key
    opt = next(iter(trainer.loop.optimizers.values()))
    assert opt.state_dict()["state"] == {}  # no Adam moments carried over
    assert trainer.start_epoch == 0 and trainer.history == []


def test_train_init_from_cli_and_mismatch(runs, run_main, tmp_path):
    path, ckpt = runs["iris"]
    code, out, err = run_main(
        ["train", str(path), "--init-from", str(ckpt), "--epochs", "1", "--out",
         str(tmp_path / "ft")]
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith("done: 1/1 epochs")
    # a design with a wider hidden layer: the first differing parameter is named
    design = json.loads(path.read_text())
    for node in design["nodes"]:
        if node["id"] == "h":
            node["params"]["out_features"] = 12
    wider = tmp_path / "wider.json"
    wider.write_text(json.dumps(design))
    code, out, err = run_main(["train", str(wider), "--init-from", str(ckpt), "--out",
                               str(tmp_path / "no")])  # fmt: skip
    assert code == 1 and err.count("\n") == 1
    assert "'layers.h.weight'" in err and "(8, 4)" in err and "(12, 4)" in err
    assert not (tmp_path / "no").exists()  # refused before any run folder was written
    code, _, err = run_main(["train", str(path), "--init-from", str(ckpt), "--resume", str(ckpt)])
    assert code == 2 and "only one" in err
    with pytest.raises(TrainingError, match="only one"):
        InitFromTrainer(designs()["iris"], init_from=ckpt, resume=ckpt)


MODEL_PY = """
import torch.nn as nn

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))

    def forward(self, x):
        return self.body(x)
"""


def test_an_imported_model_trains_further(tmp_path, run_main):
    from engine.importer import import_model
    from engine.io import load_design

    (tmp_path / "model.py").write_text(MODEL_PY)
    result = import_model(f"{tmp_path / 'model.py'}:Net", tmp_path / "net.json", (4,))
    design = load_design(result.design_path)
    design.data = IRIS
    design.training = {"task": "classification", "epochs": 1, "batch_size": 16}
    save_design(design, tmp_path / "net.json")
    trainer = InitFromTrainer(design, init_from=result.checkpoint_path)
    trainer._setup()
    saved = next(iter(load_checkpoint(result.checkpoint_path).state_dicts.values()))
    state = next(iter(trainer.loop.networks.values())).state_dict()
    assert state.keys() == saved.keys()
    assert all(torch.equal(state[k], saved[k]) for k in saved)
    code, out, err = run_main(
        ["train", str(tmp_path / "net.json"), "--init-from", str(result.checkpoint_path),
         "--out", str(tmp_path / "run")]
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "run" / "best.pt").is_file()


def test_damaged_preprocessing_or_settings_in_a_checkpoint_are_one_line(runs, run_main, tmp_path):
    from engine.training.checkpoint import save_checkpoint

    path, ckpt = runs["iris"]
    np.save(tmp_path / "row.npy", np.array([5.1, 3.5, 1.4, 0.2]))
    for field, value in (
        ("preprocessor", {"version": 1, "layout": "table"}),
        ("trainer_state", {"config": {"epochs": "many"}}),
    ):
        damaged = load_checkpoint(ckpt)
        setattr(damaged, field, value)
        bad = tmp_path / f"{field}.pt"
        save_checkpoint(bad, damaged)
        for argv in (
            ["evaluate", str(path), "--checkpoint", str(bad)],
            ["predict", str(path), "--checkpoint", str(bad), "--input", str(tmp_path / "row.npy")],
        ):
            code, out, err = run_main(argv)
            assert code == 2 and out == "" and err.count("\n") == 1, (field, argv, err)
            assert str(bad) in err


def test_images_are_read_as_the_models_channels_and_size(tmp_path):
    from PIL import Image

    from engine.evaluate import read_samples

    rgb = np.random.default_rng(1).integers(0, 256, (4, 4, 3)).astype(np.uint8)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    x = read_samples(tmp_path / "rgb.png", (3, 4, 4))
    assert x.shape == (1, 3, 4, 4)
    assert np.allclose(x[0], np.moveaxis(rgb, -1, 0) / 255.0)
    gray = read_samples(tmp_path / "rgb.png", (1, 2, 2))  # converted and resized
    assert gray.shape == (1, 1, 2, 2) and 0.0 <= gray.min() and gray.max() <= 1.0
    with pytest.raises(DataError, match=r"\(5, 3\)"):
        read_samples(tmp_path / "rgb.png", (5, 3))  # not an image input: names the shape
