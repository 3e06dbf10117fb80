"""Trainer: settings validation, each family learning on tiny data, events, checkpoints, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from engine.data import Preprocessor, prepare_data
from engine.data.prepare import split_indices
from engine.errors import DataError, DesignError, TrainingError
from engine.graph import Design, Edge, Node
from engine.io import load_design
from engine.training import History, TrainConfig, Trainer, load_checkpoint
from resources import template_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py


def chain(
    layers: list[tuple[str, str, dict]],
    data: dict,
    training: dict,
    networks: dict[str, str] | None = None,
) -> Design:
    """A design whose nodes (id, type, params[, network]) are wired one after the other."""
    design = Design("test")
    design.networks = {
        name: {"role": role} for name, role in (networks or {"main": "model"}).items()
    }
    prev: dict[str, str] = {}
    for entry in layers:
        node_id, type_id, params = entry[:3]
        net = entry[3] if len(entry) > 3 else next(iter(design.networks))
        design.add_node(Node(node_id, type_id, params, network=net))
        if net in prev:
            design.add_edge(Edge(prev[net], node_id))
        prev[net] = node_id
    design.data = data
    design.training = training
    return design


MOONS = {
    "source": "builtin",
    "name": "moons",
    "options": {"n_samples": 240, "noise": 0.1},
    "preprocess": {"scale": "standard"},
}


def moons_mlp(training: dict | None = None, dropout: float = 0.0) -> Design:
    layers = [
        ("x", "Input", {"shape": [2]}),
        ("h", "Linear", {"out_features": 16}),
        ("act", "ReLU", {}),
    ]
    if dropout:
        layers.append(("drop", "Dropout", {"p": dropout}))
    layers += [("logits", "Linear", {"out_features": 2}), ("out", "Output", {})]
    return chain(layers, MOONS, {"epochs": 6, "batch_size": 32, "lr": 0.02, **(training or {})})


def fit(design: Design, **kwargs) -> tuple[dict, History]:
    history = History()
    summary = Trainer(design, callbacks=[history], **kwargs).fit()
    return summary, history


# -- settings ------------------------------------------------------------------------------------


def test_config_reads_template_and_applies_overrides():
    design = load_design(template_path("gan"))
    cfg = TrainConfig.from_design(design, {"epochs": 3, "lr": None})
    assert (cfg.task, cfg.loss, cfg.epochs, cfg.lr, cfg.betas) == (
        "gan",
        "bce_with_logits",
        3,
        0.0002,
        (0.5, 0.999),
    )
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize(
    "section, words",
    [
        ({"optimizer": "adamx"}, ["optimizer", "'adamx'", "sgd | adam | adamw | rmsprop"]),
        ({"task": "cluster"}, ["task", "classification | regression"]),
        (
            {"loss": "mse", "task": "classification"},
            ["loss 'mse'", "cross_entropy | bce_with_logits"],
        ),
        ({"lr": 0}, ["lr", "a number above 0"]),
        ({"epochs": 2.5}, ["epochs", "an integer"]),
        ({"batch_size": True}, ["batch_size", "an integer"]),
        ({"scheduler": "linear"}, ["scheduler.type", "none | step | cosine | plateau"]),
        ({"scheduler": {"type": "step", "gama": 0.5}}, ["scheduler.gama", "step_size, gamma"]),
        ({"early_stopping": {"patience": 0}}, ["early_stopping.patience", "from 1"]),
        ({"device": "tpu"}, ["device", "auto | cpu | cuda | mps"]),
        ({"nesterov": True, "optimizer": "adam"}, ["nesterov", "sgd"]),
        ({"betas": [0.9]}, ["betas", "two numbers"]),
        ({"learning_rate": 0.1}, ["'learning_rate'", "not a known key", "lr"]),
    ],
)
def test_bad_settings_name_the_key_and_the_allowed_values(section, words):
    with pytest.raises(TrainingError) as err:
        TrainConfig.from_dict(section)
    text = str(err.value)
    assert "\n" not in text
    for word in words:
        assert word in text


def test_task_follows_the_data_when_not_given():
    design = chain(
        [("x", "Input", {"shape": [10]}), ("y", "Linear", {"out_features": 1})],
        {"source": "builtin", "name": "diabetes", "preprocess": {"scale": "standard"}},
        {"epochs": 2, "lr": 0.05},
    )
    summary, history = fit(design)
    assert summary.task == "regression" and summary.config["loss"] == "mse"
    assert "val_r2" in history.epochs[-1].metrics and "val_mae" in history.epochs[-1].metrics


# -- every family learns -------------------------------------------------------------------------


def test_classifier_learns_moons_and_reports_accuracy_and_confusion():
    summary, history = fit(moons_mlp())
    losses = history.metric("val_loss")
    assert losses[-1] < 0.8 * losses[0]
    assert history.metric("val_accuracy")[-1] >= 0.85
    confusion = history.epochs[-1].samples.matrix
    assert confusion.shape == (2, 2) and confusion.sum() == summary.n_val == 48
    assert history.start.class_names == ["0", "1"]


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_every_optimizer_lowers_the_loss(optimizer):
    lr = {"sgd": 0.1, "adam": 0.02, "adamw": 0.02, "rmsprop": 0.01}[optimizer]
    _, history = fit(
        moons_mlp({"optimizer": optimizer, "lr": lr, "epochs": 4, "weight_decay": 1e-4})
    )
    losses = history.metric("train_loss")
    assert losses[-1] < 0.8 * losses[0]


def test_binary_cross_entropy_with_one_logit():
    design = moons_mlp({"loss": "bce_with_logits"})
    design.set_param("logits", "out_features", 1)
    _, history = fit(design)
    assert history.metric("val_accuracy")[-1] >= 0.85


@pytest.mark.parametrize("loss", ["l1", "huber"])
def test_forecasting_a_sine_with_other_losses(loss):
    data = {
        "source": "builtin",
        "name": "sine",
        "options": {"n_steps": 600, "window": 12, "noise": 0.05},
    }
    design = chain(
        [
            ("x", "Input", {"shape": [12, 1]}),
            ("f", "Flatten", {}),
            ("h", "Linear", {"out_features": 16}),
            ("a", "Tanh", {}),
            ("y", "Linear", {"out_features": 1}),
        ],
        data,
        {"epochs": 5, "lr": 0.01, "loss": loss, "batch_size": 32},
    )
    summary, history = fit(design)
    assert summary.task == "forecast"
    losses = history.metric("val_loss")
    assert losses[-1] < 0.7 * losses[0]
    assert history.metric("val_r2")[-1] > 0.5
    preds = history.epochs[-1].samples
    assert preds.target.shape == preds.prediction.shape


def test_small_cnn_learns_digit_images():
    data = {"source": "builtin", "name": "digits", "form": "image"}
    design = chain(
        [
            ("img", "Input", {"shape": [1, 8, 8]}),
            ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
            ("bn", "BatchNorm2d", {}),
            ("relu", "ReLU", {}),
            ("pool", "MaxPool2d", {"kernel_size": 2}),
            ("flat", "Flatten", {}),
            ("logits", "Linear", {"out_features": 10}),
        ],
        data,
        {"epochs": 2, "lr": 0.01},
    )
    _, history = fit(design)
    assert history.metric("val_accuracy")[-1] > 0.8


def test_lstm_learns_digit_rows():
    data = {"source": "builtin", "name": "digits", "form": "sequence"}
    design = chain(
        [
            ("rows", "Input", {"shape": [8, 8]}),
            ("lstm", "LSTM", {"hidden_size": 16}),
            ("logits", "Linear", {"out_features": 10}),
        ],
        data,
        {"epochs": 3, "lr": 0.01},
    )
    _, history = fit(design)
    assert history.metric("val_loss")[-1] < 0.7 * history.metric("val_loss")[0]


def autoencoder(training: dict | None = None) -> Design:
    data = {"source": "builtin", "name": "digits", "split": {"val": 0.2, "stratify": False}}
    return chain(
        [
            ("px", "Input", {"shape": [64]}),
            ("enc", "Linear", {"out_features": 16}),
            ("r", "ReLU", {}),
            ("dec", "Linear", {"out_features": 64}),
            ("s", "Sigmoid", {}),
            ("out", "Output", {}),
        ],
        data,
        {"task": "reconstruction", "loss": "mse", "lr": 0.01, "epochs": 4, **(training or {})},
    )


@pytest.mark.parametrize("noise", [0.0, 0.2])
def test_autoencoder_reconstructs_clean_input(noise):
    _, history = fit(autoencoder({"denoise_std": noise}))
    mse = history.metric("val_mse")
    assert mse[-1] < 0.7 * mse[0]
    rec = history.epochs[-1].samples
    assert rec.inputs.shape == rec.outputs.shape == (8, 64)
    assert 0.0 <= rec.outputs.min() and rec.outputs.max() <= 1.0


def gan_design(epochs: int = 6) -> Design:
    data = {"source": "builtin", "name": "digits", "split": {"val": 0.0, "stratify": False}}
    layers = [
        ("z", "Input", {"shape": [8]}, "gen"),
        ("g1", "Linear", {"out_features": 32}, "gen"),
        ("ga", "LeakyReLU", {}, "gen"),
        ("g2", "Linear", {"out_features": 64}, "gen"),
        ("gs", "Sigmoid", {}, "gen"),
        ("fake", "Output", {}, "gen"),
        ("x", "Input", {"shape": [64]}, "disc"),
        ("d1", "Linear", {"out_features": 32}, "disc"),
        ("da", "LeakyReLU", {}, "disc"),
        ("d2", "Linear", {"out_features": 1}, "disc"),
        ("logit", "Output", {}, "disc"),
    ]
    return chain(
        layers,
        data,
        {"task": "gan", "lr": 0.002, "betas": [0.5, 0.999], "epochs": epochs},
        networks={"gen": "generator", "disc": "discriminator"},
    )


def test_gan_generator_moves_toward_the_data():
    design = gan_design()
    summary, history = fit(design)
    real_mean = prepare_data(design.data).x_train.mean(0)
    first = np.abs(history.epochs[0].samples.samples.mean(0) - real_mean).mean()
    last = np.abs(history.epochs[-1].samples.samples.mean(0) - real_mean).mean()
    assert last < 0.75 * first
    assert set(history.start.loss_names) == {"d_loss", "g_loss"}
    assert all(math.isfinite(v) for v in history.metric("d_loss") + history.metric("g_loss"))
    grid = history.epochs[-1].samples.grid
    assert grid.shape == (8 * 9 + 1, 8 * 9 + 1) and 0 <= grid.min() and grid.max() <= 1
    assert summary.final["val_loss"] is None and summary.monitor is None


def som_design(epochs: int = 5) -> Design:
    data = {"source": "builtin", "name": "iris", "preprocess": {"scale": "standard"}}
    return chain(
        [
            ("x", "Input", {"shape": [4]}),
            ("som", "SOM", {"rows": 5, "cols": 6, "sigma": 2.0, "learning_rate": 0.5}),
            ("out", "Output", {}),
        ],
        data,
        {"epochs": epochs, "batch_size": 16},
    )


def test_som_quantization_error_falls_and_maps_are_reported():
    summary, history = fit(som_design())
    assert summary.task == "som"
    qe = history.metric("val_quantization_error")
    assert qe[-1] < qe[0]
    te = history.metric("val_topographic_error")
    assert all(0.0 <= t <= 1.0 for t in te)
    samples = history.epochs[-1].samples
    assert samples.u_matrix.shape == samples.hit_map.shape == (5, 6)
    assert samples.hit_map.sum() == summary.n_val == 30
    lrs = [e.lr for e in history.epochs]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 0.5


def test_som_refuses_other_trainable_layers():
    design = som_design()
    design.add_node(Node("proj", "Linear", {"out_features": 4}))
    design.remove_edge(Edge("x", "som"))
    design.add_edge(Edge("x", "proj"))
    design.add_edge(Edge("proj", "som"))
    with pytest.raises(DesignError, match="'proj' has weights"):
        fit(design)


# -- events --------------------------------------------------------------------------------------


def test_batch_events_are_batched_and_sample_layer_statistics():
    design = moons_mlp({"epochs": 2, "log_every": 2, "sample_every": 3})
    _, history = fit(design)
    per_epoch = history.start.batches_per_epoch
    assert per_epoch == 6  # 192 samples / 32
    steps = [s for e in history.batches for s in e.steps]
    assert steps == list(range(1, 2 * per_epoch + 1))
    assert all(len(e.steps) <= 2 for e in history.batches)
    sampled = [e for e in history.batches if e.activation_stats]
    assert len(sampled) == 4  # steps 0, 3, 6, 9
    stats = sampled[0].activation_stats
    assert set(stats) >= {"h", "act", "logits"}
    assert 0.2 < stats["act"].zero_fraction < 0.8 and stats["h"].zero_fraction == 0.0
    assert set(sampled[0].grad_norms) == {"h", "logits"}
    assert all(v > 0 for v in sampled[0].grad_norms.values())


def test_schedulers_change_the_learning_rate():
    _, history = fit(
        moons_mlp(
            {"epochs": 4, "lr": 0.04, "scheduler": {"type": "step", "step_size": 2, "gamma": 0.5}}
        )
    )
    assert [round(e.lr, 6) for e in history.epochs] == [0.04, 0.02, 0.02, 0.01]
    _, history = fit(moons_mlp({"epochs": 4, "lr": 0.04, "scheduler": "cosine"}))
    lrs = [e.lr for e in history.epochs]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] < 1e-9


# -- checkpoints and early stopping ----------------------------------------------------------------


def test_checkpoints_carry_design_weights_preprocessing_and_data_info(tmp_path):
    design = moons_mlp({"epochs": 2})
    fit(design, out_dir=tmp_path)
    ckpt = load_checkpoint(tmp_path / "last.pt")
    assert ckpt.matches(design) and ckpt.epoch == 2
    assert ckpt.data_info == {
        "task": "classification",
        "input_shape": [2],
        "target_shape": [],
        "num_classes": 2,
        "class_names": ["0", "1"],
        "feature_names": ["x1", "x2"],
    }
    assert set(ckpt.state_dicts["main"]) == {
        "layers.h.weight",
        "layers.h.bias",
        "layers.logits.weight",
        "layers.logits.bias",
    }
    # the saved scaler was fitted on the training split only
    from sklearn.datasets import make_moons

    x, y = make_moons(240, noise=0.1, random_state=0)
    train, _, _ = split_indices(240, y, 0.2, 0.0, True, seed=0)
    pre = Preprocessor.from_state(ckpt.preprocessor)
    np.testing.assert_allclose(pre.shift, x[train].mean(0), rtol=1e-6)
    assert not np.allclose(pre.shift, x.mean(0), rtol=1e-6)


def test_early_stopping_restores_the_best_weights(tmp_path):
    design = moons_mlp(
        {
            "epochs": 40,
            "lr": 0.5,
            "optimizer": "sgd",
            "early_stopping": {"patience": 2, "restore_best": True},
        }
    )
    trainer = Trainer(design, out_dir=tmp_path)
    summary = trainer.fit()
    assert summary.early_stopped and summary.epochs_completed < 40
    assert summary.epochs_completed == summary.best_epoch + 2
    best = load_checkpoint(tmp_path / "best.pt")
    assert best.epoch == summary.best_epoch
    for name, tensor in trainer.networks["main"].state_dict().items():
        assert torch.equal(tensor, best.state_dicts["main"][name])


# -- user mistakes ---------------------------------------------------------------------------------


def test_data_that_does_not_fit_the_input_is_a_clear_error():
    design = moons_mlp()
    design.set_param("x", "shape", [3])
    with pytest.raises(DataError, match=r"shape \(2,\) but the design's Input 'x' expects"):
        fit(design)


def test_wrong_number_of_outputs_names_the_layer():
    design = moons_mlp()
    design.set_param("logits", "out_features", 3)
    with pytest.raises(DesignError, match="node 'logits' outputs \\(N, 3\\).*2 classes"):
        fit(design)


def test_missing_data_and_mismatched_task_are_explained():
    design = moons_mlp()
    design.data = {}
    with pytest.raises(DataError, match="no data section"):
        fit(design)
    design = moons_mlp({"task": "regression", "loss": "mse"})
    with pytest.raises(
        TrainingError, match="needs numeric targets.*set training.task to classification"
    ):
        fit(design)


def test_unavailable_device_is_refused():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(TrainingError, match="device 'cuda' is not available"):
        fit(moons_mlp({"device": "cuda"}))


def test_every_failure_reaches_on_exception():
    design = moons_mlp()
    design.set_param("logits", "out_features", 5)
    history = History()
    with pytest.raises(DesignError) as err:
        Trainer(design, callbacks=[history]).fit()
    assert history.error is err.value


def test_prepared_data_can_be_handed_in_directly():
    design = moons_mlp({"epochs": 2})
    data = prepare_data({**MOONS, "options": {"n_samples": 100, "noise": 0.1}}, seed=0)
    design.data = {}
    summary, history = fit(design, data=data)
    assert summary.n_train == 80 and summary.n_val == 20
    assert history.epochs[-1].samples.matrix.sum() == 20


def test_every_training_key_is_documented():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text()
    for key in TrainConfig.KEYS:
        assert f"`{key}`" in text, key


class _LossesOnly(History):
    wants_layer_stats = False


def test_layer_statistics_are_sampled_only_when_a_callback_reads_them():
    design = moons_mlp({"epochs": 2, "sample_every": 5})
    reader, losses_only = History(), _LossesOnly()
    Trainer(design, callbacks=[reader]).fit()
    Trainer(design, callbacks=[losses_only]).fit()
    assert any(b.activation_stats for b in reader.batches)
    assert not any(b.activation_stats or b.grad_norms for b in losses_only.batches)
    # the training is the same either way
    assert [e.metrics for e in losses_only.epochs] == [e.metrics for e in reader.epochs]
    both = History()
    Trainer(design, callbacks=[losses_only.__class__(), both]).fit()
    assert any(b.activation_stats for b in both.batches)


class _ValuesOnly(History):
    wants_epoch_samples = False


def test_epoch_pictures_are_computed_only_when_a_callback_reads_them():
    """``main.py train`` (its progress bar), TensorBoard and search trials read no confusion
    matrix or decision boundary: the trainer computes the epoch's values only."""
    design = moons_mlp({"epochs": 2})
    reader, values_only = History(), _ValuesOnly()
    Trainer(design, callbacks=[reader]).fit()
    Trainer(design, callbacks=[values_only]).fit()
    assert all(e.samples is not None and e.samples.boundary is not None for e in reader.epochs)
    assert all(e.samples is None for e in values_only.epochs)
    assert [e.metrics for e in values_only.epochs] == [e.metrics for e in reader.epochs]
    both = History()
    Trainer(design, callbacks=[_ValuesOnly(), both]).fit()
    assert all(e.samples is not None for e in both.epochs)
