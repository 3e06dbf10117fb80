"""engine/run_compare.py: what the Runs panel's comparison shows (no Qt, no torch): the rows of
the side-by-side table with their differences, the metric drawn beside the loss, each curve."""

from __future__ import annotations

from pathlib import Path

from engine.io import design_to_dict
from engine.run_compare import compare_rows, curve, flat_settings, loss_key, main_metric
from engine.runs import RunRecord
from engine.training.config import TrainConfig
from tests.engine.builders import chain


def design(lr: float):
    d = chain(
        ("x", "Input", {"shape": [4]}), ("fc", "Linear", {"out_features": 3}), ("o", "Output")
    )
    d.data = {"source": "builtin", "name": "iris", "split": {"val": 0.2}}
    d.training = {"epochs": 2, "lr": lr}
    return d


def run(name: str, lr: float, history: list[dict], *, snapshot: bool = True) -> RunRecord:
    d = design(lr)
    rec = RunRecord(Path("/nowhere") / name, status="finished", monitor="val_loss")
    rec.config = TrainConfig.from_design(d).to_dict() if snapshot else None
    rec.snapshot = design_to_dict(d) if snapshot else None
    rec.history = history
    rec.final = history[-1] if history else None
    rec.best = min(history, key=lambda h: h.get("val_loss", 0.0)) if history else None
    rec.epochs_completed = len(history)
    return rec


A = [{"epoch": 1, "val_loss": 1.0, "val_accuracy": 0.5, "lr": 0.1, "elapsed_s": 1.0}]
B = [
    {"epoch": 1, "val_loss": 0.9, "val_accuracy": 0.6},
    {"epoch": 2, "val_loss": float("nan"), "val_accuracy": 0.7},
    {"epoch": 3, "val_loss": 0.5, "val_accuracy": 0.8},
]


def test_rows_mark_exactly_the_values_that_differ():
    rows = {r.key: r for r in compare_rows([run("a", 0.1, A), run("b", 0.01, B)])}
    assert rows["lr"].values == (0.1, 0.01) and rows["lr"].differs
    assert rows["optimizer"].values == ("adam", "adam") and not rows["optimizer"].differs
    assert rows["data.split.val"].values == (0.2, 0.2) and not rows["data.split.val"].differs
    assert rows["epochs done"].values == (1, 3) and rows["epochs done"].group == "metric"
    assert rows["epochs"].values == (2, 2) and rows["epochs"].group == "setting"
    assert rows["best"].values == (1.0, 0.5) and rows["best"].differs
    assert rows["final val_accuracy"].values == (0.5, 0.8)
    assert "final lr" not in rows and "final elapsed_s" not in rows  # not metrics
    assert "log_every" not in rows and "sample_every" not in rows  # how a run is watched


def test_a_run_without_settings_shows_none_beside_the_others():
    rows = {r.key: r for r in compare_rows([run("a", 0.1, A), run("old", 0.1, A, snapshot=False)])}
    assert rows["lr"].values == (0.1, None) and rows["lr"].differs
    assert flat_settings(run("old", 0.1, A, snapshot=False)) == {}


def test_curves_skip_missing_and_non_finite_values_and_the_metric_is_chosen():
    runs = [run("a", 0.1, A), run("b", 0.01, B)]
    assert loss_key(runs) == "val_loss" and main_metric(runs) == "val_accuracy"
    assert curve(runs[1], "val_loss") == ([1.0, 3.0], [0.9, 0.5])
    assert curve(runs[1], "val_accuracy") == ([1.0, 2.0, 3.0], [0.6, 0.7, 0.8])
    only_loss = [run("c", 0.1, [{"epoch": 1, "train_loss": 2.0}])]
    assert loss_key(only_loss) == "train_loss" and main_metric(only_loss) is None
