"""A run's folder: one namer for ``main.py train`` and the editor (unique names), its files."""

from __future__ import annotations

import json
import time

import torch

from engine.graph import Design
from engine.training.checkpoint import checkpoint_from_modules, load_checkpoint
from engine.training.cli import default_out_dir
from engine.training.run_files import RunFiles, new_run_folder
from engine.training.summary import RunSummary

WHEN = time.mktime((2026, 3, 4, 5, 6, 7, 0, 0, -1))  # local time 2026-03-04 05:06:07


def test_a_run_folder_is_named_after_the_design_and_the_start_time(tmp_path):
    assert new_run_folder(tmp_path, "mlp", WHEN) == tmp_path / "mlp-20260304-050607"
    assert not (tmp_path / "mlp-20260304-050607").exists()  # named, not created


def test_runs_started_within_one_second_get_their_own_folders(tmp_path):
    names = []
    for _ in range(3):
        folder = new_run_folder(tmp_path, "mlp", WHEN)
        folder.mkdir()
        names.append(folder.name)
    assert names == ["mlp-20260304-050607", "mlp-20260304-050607-2", "mlp-20260304-050607-3"]


def test_the_command_line_names_its_folders_like_the_editor(tmp_path, monkeypatch):
    """``main.py train`` without --out: the same namer, so it de-duplicates too."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("engine.training.run_files._now", lambda: WHEN)
    (tmp_path / "runs" / "net-20260304-050607").mkdir(parents=True)  # a run of this second
    assert default_out_dir("designs/net.json") == tmp_path.joinpath(
        "runs", "net-20260304-050607-2"
    ).relative_to(tmp_path)


def test_run_files_write_metrics_checkpoints_and_the_summary(tmp_path):
    files = RunFiles(tmp_path / "run")
    assert files.checkpoint("best") == tmp_path / "run" / "best.pt" and not files.started
    earlier = {"epoch": 1, "train_loss": 1.0}
    files.start([earlier])  # a resumed run's earlier epoch
    assert files.started
    ckpt = checkpoint_from_modules(Design(), {"main": torch.nn.Linear(1, 1)}, epoch=2)
    files.write_epoch({"epoch": 2, "train_loss": 0.5}, ckpt, None)
    files.finish()  # checkpoints are written in the background
    assert not files.checkpoint("best").exists() and load_checkpoint(files.checkpoint("last"))
    lines = files.metrics_file.read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    files.write_summary(RunSummary(epochs_completed=2))
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs_completed"] == 2


def test_a_run_without_a_folder_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = RunFiles(None)
    files.start([])
    files.write_summary(RunSummary())
    assert files.metrics_file is None and files.checkpoint("last") is None
    assert list(tmp_path.iterdir()) == []
