"""`python main.py check`: exit codes, the --json object, one-line errors, no tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.io import save_design
from resources import template_path
from tests.engine.builders import chain

ROOT = Path(__file__).resolve().parents[2]


def run_check(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "main.py", "check", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_valid_template_exits_0_with_json_report():
    result = run_check(str(template_path("cnn")), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["valid"] is True and report["errors"] == []
    nodes = {n["id"]: n for n in report["nodes"]}
    assert nodes["image"]["output_shape"] == [1, 8, 8]
    assert set(nodes["conv1"]) >= {"id", "type", "output_shape", "params", "macs"}
    assert report["total_params"] == sum(n["params"] for n in report["nodes"]) > 0
    assert report["total_macs"] == sum(n["macs"] for n in report["nodes"]) > 0


def test_plain_output_is_a_readable_summary():
    result = run_check(str(template_path("mlp")))
    assert result.returncode == 0
    assert "valid" in result.stdout.lower() and "param" in result.stdout.lower()


def test_invalid_design_exits_1_and_names_the_node(tmp_path):
    path = tmp_path / "bad.json"
    save_design(
        chain(
            ("img", "Input", {"shape": [1, 8, 8]}),
            ("conv3", "Conv2d", {"out_channels": 16, "stride": 2}),
            ("fc", "Linear", {"out_features": 10}),
        ),
        path,
    )
    result = run_check(str(path), "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["valid"] is False
    assert report["errors"][0]["node"] == "fc"
    assert "insert Flatten" in report["errors"][0]["message"]
    plain = run_check(str(path))
    assert plain.returncode == 1 and "fc" in plain.stdout + plain.stderr


@pytest.mark.parametrize(
    ("content", "expect"),
    [
        (None, "no such file"),
        ("{ not json", "not valid JSON"),
        ("[]", "JSON object"),
        (
            '{"format": "deepwire.design", "version": 1, "nodes": [{"id": "a", "type": "Warp"}]}',
            None,
        ),  # unknown type: loads, then invalid (exit 1)
        (
            '{"format": "deepwire.design", "version": 1, "nodes": [{"id": "a", "type": "Input",'
            ' "params": {"shape": "big"}}]}',
            None,
        ),
    ],
)
def test_bad_files_give_one_line_and_no_traceback(tmp_path, content, expect):
    path = tmp_path / "in.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    result = run_check(str(path))
    assert "Traceback" not in result.stderr
    if expect is None:
        assert result.returncode == 1
        assert "a:" in result.stderr or "'a'" in result.stderr
    else:
        assert result.returncode == 2
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and expect in lines[0] and str(path) in lines[0]


def test_bad_usage_exits_2():
    result = run_check()
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
