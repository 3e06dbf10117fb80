"""A run that ``train`` refuses before it starts leaves every file of an earlier run as it was,
and a design too big for the free memory is refused before anything is allocated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import engine.memory
from engine.io import save_design
from resources import template_path
from tests.helpers import huge_mlp

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_refused_resume_keeps_the_finished_runs_files(tmp_path, run_main):
    design = str(template_path("mlp"))
    code, _, err = run_main(["train", design, "--epochs", "1", "--out", str(tmp_path)])
    assert code == 0, err
    before = _snapshot(tmp_path)
    assert json.loads(before["summary.json"])["epochs_completed"] == 1
    code, out, err = run_main(
        [
            "train",
            design,
            "--epochs",
            "1",
            "--resume",
            str(tmp_path / "last.pt"),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert "already trained 1 of 1" in err and len(err.strip().splitlines()) == 1
    assert _snapshot(tmp_path) == before  # summary, metrics and checkpoints untouched


def test_a_run_failing_before_its_first_epoch_writes_nothing(tmp_path, run_main):
    design = template_path("mlp").read_text()
    bad = tmp_path / "bad.json"
    data = json.loads(design)
    data["data"] = {"source": "csv", "path": "missing.csv", "target": "y"}
    bad.write_text(json.dumps(data))
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "summary.json").write_text('{"earlier": "run"}\n')
    code, _, err = run_main(["train", str(bad), "--epochs", "1", "--out", str(out_dir)])
    assert code in (1, 2) and "missing.csv" in err, err
    assert _snapshot(out_dir) == {"summary.json": b'{"earlier": "run"}\n'}


def test_a_design_too_big_for_memory_is_refused_naming_the_node(tmp_path, run_main, monkeypatch):
    path = tmp_path / "huge.json"
    design = huge_mlp()
    design.data = {"source": "builtin", "name": "digits"}
    save_design(design, path)
    monkeypatch.setattr(engine.memory, "system_available_memory", lambda: 8 * 2**30)
    out_dir = tmp_path / "run"
    code, out, err = run_main(["train", str(path), "--device", "cpu", "--out", str(out_dir)])
    assert code == 1 and out == ""
    (line,) = err.strip().splitlines()
    assert "node 'fc2'" in line and "TiB" in line and "8.00 GiB free RAM" in line, line
    assert not out_dir.exists()


def test_a_batch_too_big_for_memory_names_the_batch_that_fits(tmp_path, run_main, monkeypatch):
    monkeypatch.setattr(engine.memory, "system_available_memory", lambda: 2 * 2**20)
    code, _, err = run_main(
        [
            "train",
            str(template_path("mlp")),
            "--device",
            "cpu",
            "--batch-size",
            "4096",
            "--out",
            str(tmp_path / "run"),
        ]
    )
    assert code == 1
    (line,) = err.strip().splitlines()
    assert "does not fit at batch 4096" in line and "set training.batch_size to" in line, line
    assert not (tmp_path / "run").exists()
