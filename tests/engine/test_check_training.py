"""``check`` validates the data and training sections like ``train`` and estimates the memory
training needs, without loading data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine.memory
from engine.io import save_design
from resources import template_path
from tests.helpers import huge_mlp

ROOT = Path(__file__).resolve().parents[2]


def _design(tmp_path: Path, data: dict | None = None, training: dict | None = None) -> Path:
    raw = json.loads(template_path("mlp").read_text())
    if data is not None:
        raw["data"] = data
    if training is not None:
        raw["training"] = {**raw.get("training", {}), **training}
    path = tmp_path / "design.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize(
    ("data", "training", "expect"),
    [
        ({"source": "http", "path": "x"}, None, "data spec: 'source' is 'http'"),
        ({"source": "builtin", "name": "digitz"}, None, "'name' is 'digitz'"),
        (None, {"epochs": "ten"}, "training: epochs is 'ten'"),
        (None, {"lr": -1}, "training: lr is -1"),
    ],
)
def test_sections_train_refuses_are_problems_in_check(tmp_path, run_main, data, training, expect):
    path = _design(tmp_path, data, training)
    code, out, err = run_main(["check", str(path), "--json"])
    assert code == 1
    report = json.loads(out)
    assert report["valid"] is False
    assert [e["node"] for e in report["errors"]] == [None]
    assert expect in report["errors"][0]["message"]
    assert report["memory"] is None or isinstance(report["memory"], dict)
    code, out, err = run_main(["check", str(path)])
    assert code == 1 and expect in err and "invalid — 1 problem" in err
    # train refuses the same design with the same message
    code, _, err = run_main(["train", str(path), "--out", str(tmp_path / "run")])
    assert code in (1, 2) and expect in err


def test_check_reports_the_memory_estimate(tmp_path, run_main, monkeypatch):
    monkeypatch.setattr(engine.memory, "system_available_memory", lambda: 4 * 2**30)
    path = _design(
        tmp_path, training={"device": "cpu", "batch_size": 32, "optimizer": "sgd", "momentum": 0.9}
    )
    code, out, _ = run_main(["check", str(path), "--json"])
    assert code == 0
    report = json.loads(out)
    mem = report["memory"]
    params = report["total_params"] * 4
    assert (mem["parameters"], mem["gradients"], mem["optimizer_state"]) == (params, params, params)
    assert mem["batch_size"] == 32 and mem["available"] == 4 * 2**30 and mem["fits"] is True
    assert mem["total"] == 3 * params + mem["activations"] and mem["max_batch"] > 32
    assert mem["device"] == "cpu" and mem["optimizer"] == "sgd"
    code, out, _ = run_main(["check", str(path)])
    assert code == 0 and "memory to train: fits:" in out and "4.00 GiB free RAM" in out


def test_check_refuses_a_design_that_cannot_fit(tmp_path, run_main, monkeypatch):
    monkeypatch.setattr(engine.memory, "system_available_memory", lambda: 8 * 2**30)
    path = tmp_path / "huge.json"
    design = huge_mlp(1_000_000)
    design.training = {"device": "cpu"}
    save_design(design, path)
    code, out, _ = run_main(["check", str(path), "--json"])
    assert code == 1
    report = json.loads(out)
    assert report["memory"]["fits"] is False and report["memory"]["max_batch"] == 0
    (error,) = report["errors"]
    assert error["node"] == "fc2" and "bytes" in error["message"]


def test_check_stays_quick_to_start():
    """``check`` imports no data loader, no scikit-learn and no training loop (only the validators)."""
    code = (
        "import sys, main; main.main(['check', sys.argv[1]]); "
        "print(sorted(m for m in sys.modules if m.startswith(('sklearn', "
        "'engine.training.loops', 'engine.data.prepare'))))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(template_path("mlp"))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"
