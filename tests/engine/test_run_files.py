"""A run's folder: one namer for ``main.py train`` and the editor, unique names."""

from __future__ import annotations

import time

from engine.training.cli import default_out_dir
from engine.training.run_files import new_run_folder

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
    assert default_out_dir("designs/net.json") == \
        tmp_path.joinpath("runs", "net-20260304-050607-2").relative_to(tmp_path)
