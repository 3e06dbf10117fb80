"""RunSummary: the one summary object, its summary.json format, and the round trip."""

from __future__ import annotations

import json

import pytest

from engine.errors import TrainingError
from engine.training.summary import RunSummary

#: The keys of summary.json, in the file's order (docs/training.md and scripts rely on them).
FILE_KEYS = [
    "design",
    "task",
    "device",
    "world_size",
    "epochs",
    "epochs_completed",
    "stopped",
    "early_stopped",
    "error",
    "monitor",
    "best_epoch",
    "best",
    "final",
    "restored_best",
    "elapsed_s",
    "train_samples_per_s",
    "data",
    "n_train",
    "n_val",
    "checkpoints",
    "metrics_file",
    "config",
]


def a_summary() -> RunSummary:
    record = {
        "epoch": 2,
        "train_loss": 0.5,
        "val_loss": 0.6,
        "val_accuracy": 0.75,
        "lr": 0.01,
        "elapsed_s": 1.5,
    }
    return RunSummary(
        design="mlp",
        task="classification",
        device="cpu",
        epochs=3,
        epochs_completed=2,
        stopped=True,
        monitor="val_loss",
        best_epoch=2,
        best=record,
        final=record,
        elapsed_s=1.5,
        train_samples_per_s=1234.5,
        data="digits",
        n_train=80,
        n_val=20,
        best_checkpoint="runs/x/best.pt",
        last_checkpoint="runs/x/last.pt",
        metrics_file="runs/x/metrics.jsonl",
        config={"epochs": 3, "batch_size": 64},
    )


def test_the_file_keeps_its_keys_and_nests_the_checkpoints():
    obj = a_summary().to_json()
    assert list(obj) == FILE_KEYS
    assert obj["checkpoints"] == {"best": "runs/x/best.pt", "last": "runs/x/last.pt"}
    assert obj["stopped"] is True and obj["best"]["val_accuracy"] == 0.75


def test_write_then_read_gives_the_same_summary(tmp_path):
    summary = a_summary()
    path = summary.write(tmp_path / "run")
    assert path == tmp_path / "run" / "summary.json"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "design": "mlp"')
    assert RunSummary.from_json(json.loads(text)) == summary


def test_reading_ignores_unknown_keys_and_defaults_missing_ones():
    summary = RunSummary.from_json({"epochs_completed": 4, "from_a_later_version": 1})
    assert summary.epochs_completed == 4 and summary.best_checkpoint is None
    assert summary.state == "done"


def test_reading_something_else_than_an_object_is_one_line():
    with pytest.raises(TrainingError, match="summary.json must hold a JSON object, not list"):
        RunSummary.from_json([1, 2])


@pytest.mark.parametrize(
    ("changes", "state"),
    [
        ({}, "done"),
        ({"stopped": True}, "stopped"),
        ({"early_stopped": True}, "stopped early"),
        ({"error": "boom", "stopped": True}, "failed"),
    ],
)
def test_state_names_how_the_run_ended(changes, state):
    assert RunSummary(**changes).state == state
