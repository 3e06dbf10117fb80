"""Instant start: ``main.py --help`` and ``main.py check`` never import torch (it is seconds of
start-up and shape checking does not need it). Each command runs in a fresh process through
``main.main``, which then reports which heavy modules it loaded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from resources import TEMPLATES, template_path

ROOT = Path(__file__).resolve().parents[2]

# Runs main.main(argv) as `python main.py ...` would, then prints (last line of stdout) whether
# torch got imported on the way.
_PROBE = """
import json, sys
import main
try:
    code = main.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def run_probe(*argv: str) -> tuple[dict, str]:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr
    return json.loads(lines[-1]), result.stdout


@pytest.mark.parametrize(
    "argv", [["--help"], ["check", "--help"], ["train", "--help"]], ids=["gui", "check", "train"]
)
def test_help_does_not_import_torch(argv):
    report, out = run_probe(*argv)
    assert report == {"code": 0, "torch": False}
    assert "usage:" in out


@pytest.mark.parametrize("family", TEMPLATES)
def test_check_does_not_import_torch(family):
    report, out = run_probe("check", str(template_path(family)))
    assert report == {"code": 0, "torch": False}
    assert "valid" in out


def test_check_json_with_memory_estimate_does_not_import_torch():
    report, out = run_probe("check", str(template_path("cnn")), "--json")
    assert report == {"code": 0, "torch": False}
    checked = json.loads(out[: out.rindex("\n{")])
    assert checked["valid"] and checked["memory"] is not None


def test_check_of_an_invalid_design_does_not_import_torch(tmp_path):
    design = json.loads(template_path("mlp").read_text())
    design["nodes"][1]["params"]["out_features"] = 0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(design))
    report, _ = run_probe("check", str(path))
    assert report == {"code": 1, "torch": False}


def test_reserved_ids_cover_every_module_dict_attribute():
    """The list written out for torch-free checking still names every attribute a compiled
    ``nn.ModuleDict`` has in the installed torch (a node id equal to one would shadow it). Read
    in a fresh interpreter: other tests in this worker may have patched torch's classes."""
    from engine.graph import NODE_ID_RE
    from engine.reserved import RESERVED_IDS

    code = "from torch import nn; print('\\n'.join(dir(nn.ModuleDict())))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    ).stdout
    attributes = {name for name in out.split() if NODE_ID_RE.match(name)}
    assert "forward" in attributes and "training" in attributes
    assert attributes <= RESERVED_IDS, sorted(attributes - RESERVED_IDS)
