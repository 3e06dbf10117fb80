"""``export --output`` never replaces what the export reads, nor a file of another kind.

Every refusal happens before the design or checkpoint is read, so these tests use stand-in files:
the point is that their bytes are untouched and nothing new appears.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from engine.errors import ExportError
from engine.export.formats import export_model, export_paths, output_conflict
from resources import template_path
from tests.helpers import export_argv

CHECKPOINT_BYTES = b"stand-in checkpoint"


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A folder with ``design.json`` (the MLP template) and ``run1/best.pt``."""
    shutil.copy(template_path("mlp"), tmp_path / "design.json")
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "best.pt").write_bytes(CHECKPOINT_BYTES)
    return tmp_path


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.mark.parametrize(
    ("fmt", "output", "expect"),
    [
        ("onnx", "run1/best.pt", "would replace the checkpoint"),
        ("pt2", "run1/../run1/best.pt", "would replace the checkpoint"),
        ("python", "design.json", "would replace the design"),
        ("safetensors", "design", "the sidecar"),  # design + ".json" is the design
        ("python", "run1/best", "the weights"),  # its weights would be run1/best.safetensors
        ("onnx", "link.onnx", "would replace the checkpoint"),  # a hard link to best.pt
        ("onnx", "notes.json", "exists and is"),
        ("onnx", "model.pt2", "not an ONNX file"),
        ("safetensors", "weights.pt", "names a checkpoint"),
    ],
)
def test_cli_refuses_an_output_that_would_destroy_a_file(
    run_folder, run_main, monkeypatch, fmt, output, expect
):
    monkeypatch.chdir(run_folder)
    if output == "link.onnx":
        os.link("run1/best.pt", "link.onnx")
    if output == "notes.json":
        Path("notes.json").write_text('{"mine": true}\n')
    if output == "run1/best":  # the Python code's weights would land on a hard link to best.pt
        os.link("run1/best.pt", "run1/best.safetensors")
    before = _snapshot(run_folder)
    code, out, err = run_main(export_argv("design.json", "run1/best.pt", fmt, output))
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1 and expect in err, err
    assert "choose another file name" in err
    assert out == ""
    assert _snapshot(run_folder) == before  # nothing written, nothing replaced


def test_the_python_api_refuses_too_and_writes_nothing(run_folder):
    before = _snapshot(run_folder)
    with pytest.raises(ExportError, match="would replace the checkpoint"):
        export_model(
            run_folder / "design.json",
            run_folder / "run1" / "best.pt",
            "onnx",
            run_folder / "run1" / "best.pt",
        )
    with pytest.raises(ExportError, match="sidecar"):
        export_model(
            str(run_folder / "design.json"),
            run_folder / "run1" / "best.pt",
            "safetensors",
            run_folder / "design",
        )
    assert _snapshot(run_folder) == before


def test_ordinary_outputs_are_accepted(run_folder):
    inputs = {"design": run_folder / "design.json", "checkpoint": run_folder / "run1/best.pt"}
    for fmt, name in (
        ("onnx", "model.onnx"),
        ("pt2", "model.pt2"),
        ("python", "model.py"),
        ("safetensors", "model.safetensors"),
        ("onnx", "model"),
    ):
        assert output_conflict(fmt, run_folder / name, inputs) is None, (fmt, name)
    (run_folder / "model.onnx").write_bytes(b"an earlier export")  # same kind: replaced
    assert output_conflict("onnx", run_folder / "model.onnx", inputs) is None


def test_export_paths_list_every_file_written():
    assert [p.name for p in export_paths("python", "m.py")] == [
        "m.py",
        "m.safetensors",
        "m.py.json",
    ]
    assert [p.name for p in export_paths("onnx", "m.onnx")] == ["m.onnx", "m.onnx.json"]
