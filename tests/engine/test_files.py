"""How Deepwire writes and reads its files (engine.files): atomic saves and exports that survive
a disk filling up part-way, the umask's permissions, stale temporaries, and reads that refuse
devices, pipes, huge files and hostile JSON values with one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import engine.io
from engine import files
from engine.errors import DesignFormatError, ExportError
from engine.export import export_model
from engine.graph import Design
from engine.io import load_design, loads, save_design
from resources import template_path
from tests.engine.builders import chain
from tests.faults import fill_disk_after, snapshot
from tests.helpers import data_info, export_argv


def _design(units: int = 8) -> Design:
    return chain(("x", "Input", {"shape": [4]}), ("fc", "Linear", {"out_features": units}))


def _nested(levels: int) -> list:
    value: list = []
    for _ in range(levels):
        value = [value]
    return value


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# ------------------------------------------------------------------------------- atomic writes
@pytest.mark.parametrize("nbytes", [0, 100])
def test_design_save_that_fills_the_disk_leaves_the_old_file_and_no_temporary(
    tmp_path, monkeypatch, nbytes
):
    path = tmp_path / "net.json"
    save_design(_design(8), path)
    before = snapshot(tmp_path)
    fill_disk_after(monkeypatch, tmp_path, nbytes)
    with pytest.raises(OSError) as info:
        save_design(_design(16), path)
    assert info.value.filename == str(path)  # names the user's file, not our temporary
    monkeypatch.undo()
    assert snapshot(tmp_path) == before
    assert load_design(path).node("fc").params["out_features"] == 8


@pytest.fixture(scope="module")
def mlp_checkpoint(tmp_path_factory):
    """(design path, checkpoint) of the MLP template, untrained: exports only need weights."""
    from engine.compile import compile_design
    from engine.data import prepare_data
    from engine.training.checkpoint import checkpoint_from_modules

    design = load_design(template_path("mlp"))
    data = prepare_data(design.data, seed=0)
    info = data_info(design.training["task"], data)
    ckpt = checkpoint_from_modules(
        design,
        {"main": compile_design(design)},
        preprocessor=data.preprocessor.state_dict(),
        data_info=info,
        epoch=1,
    )
    path = tmp_path_factory.mktemp("design") / "mlp.json"
    save_design(design, path)
    return path, ckpt


@pytest.mark.parametrize(
    "fmt, suffix", [("python", ".py"), ("safetensors", ".safetensors"), ("onnx", ".onnx")]
)
def test_export_that_fills_the_disk_leaves_the_previous_files_and_no_temporary(
    tmp_path, monkeypatch, mlp_checkpoint, fmt, suffix
):
    if fmt == "onnx":
        pytest.importorskip("onnxscript")
    design_path, ckpt = mlp_checkpoint
    out = tmp_path / f"model{suffix}"
    out.write_bytes(b"the previous export")
    sidecar_like = {p.name for p in tmp_path.iterdir()}
    before = snapshot(tmp_path)
    fill_disk_after(monkeypatch, tmp_path, 500)
    with pytest.raises(ExportError) as info:
        export_model(design_path, ckpt, fmt, out)
    monkeypatch.undo()
    assert "No space left on device" in str(info.value) and "\n" not in str(info.value)
    assert snapshot(tmp_path) == before
    assert {p.name for p in tmp_path.iterdir()} == sidecar_like


def test_exported_files_get_the_umasks_permissions_like_a_saved_design(tmp_path, mlp_checkpoint):
    design_path, ckpt = mlp_checkpoint
    result = export_model(design_path, ckpt, "safetensors", tmp_path / "model.safetensors")
    save_design(_design(), tmp_path / "saved.json")
    expected = 0o666 & ~files._UMASK
    for path in [*result.paths, tmp_path / "saved.json"]:
        assert path.stat().st_mode & 0o777 == expected, path


def test_saving_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "net.json"
    save_design(_design(), path)
    path.chmod(0o640)
    save_design(_design(16), path)
    assert path.stat().st_mode & 0o777 == 0o640


def test_the_same_bytes_for_two_files_are_written_once_and_a_later_save_keeps_them_apart(
    tmp_path, monkeypatch
):
    fsyncs: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
    data = b"weights" * 100
    files.atomic_write_files({tmp_path / "best.pt": data, tmp_path / "last.pt": data})
    assert len(fsyncs) == 1
    assert (tmp_path / "best.pt").read_bytes() == (tmp_path / "last.pt").read_bytes() == data
    files.atomic_write_bytes(tmp_path / "last.pt", b"newer")
    assert (tmp_path / "best.pt").read_bytes() == data  # replacing one name leaves the other
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


def test_without_hard_links_the_same_bytes_are_written_to_each_file(tmp_path, monkeypatch):
    def no_links(*_args):
        raise OSError("hard links not supported")

    monkeypatch.setattr(os, "link", no_links)
    data = b"weights" * 100
    files.atomic_write_files({tmp_path / "best.pt": data, tmp_path / "last.pt": data})
    assert (tmp_path / "best.pt").read_bytes() == (tmp_path / "last.pt").read_bytes() == data
    assert not os.path.samefile(tmp_path / "best.pt", tmp_path / "last.pt")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.pt", "last.pt"]


def test_stale_temporaries_of_our_naming_go_at_the_next_save_and_nothing_else(tmp_path):
    dead = _dead_pid()
    killed = tmp_path / f".net.json.deepwire-{dead}-k1ll3d_x.tmp"  # writer was kill -9ed
    old = tmp_path / f".model.py.deepwire-{os.getpid()}-0ld0ld00.tmp"  # pid reused since
    fresh = tmp_path / f".net.json.deepwire-{os.getpid()}-fr3sh000.tmp"  # a save in progress
    foreign = [
        tmp_path / ".net.json.tmp",
        tmp_path / "notes.tmp",
        tmp_path / f".net.json.other-{dead}-abc.tmp",
    ]
    for path in [killed, old, fresh, *foreign]:
        path.write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    for path in foreign:
        os.utime(path, (an_hour_ago, an_hour_ago))

    save_design(_design(), tmp_path / "net.json")

    assert not killed.exists() and not old.exists()
    assert fresh.exists() and all(p.exists() for p in foreign)


# ------------------------------------------------------------------------------- bounded reads
def test_check_refuses_a_fifo_and_a_device_before_reading(tmp_path, run_main):
    fifo = tmp_path / "design.json"
    os.mkfifo(fifo)  # opening it for reading would wait for a writer for ever
    for path in (fifo, Path("/dev/zero")):
        code, out, err = run_main(["check", str(path)])
        assert code == 2, err
        assert err.count("\n") == 1 and "not a regular file" in err and str(path) in err


def test_a_design_larger_than_the_limit_is_refused_before_reading(tmp_path, monkeypatch):
    path = tmp_path / "big.json"
    path.write_bytes(b" " * 5000)
    monkeypatch.setattr(engine.io, "MAX_DESIGN_BYTES", 4096)
    with pytest.raises(DesignFormatError, match=r"big\.json: 5,000 bytes is larger than"):
        load_design(path)


def test_a_design_saved_with_a_utf8_bom_opens(tmp_path, run_main):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + template_path("mlp").read_bytes())
    assert load_design(path).name == load_design(template_path("mlp")).name
    code, _, err = run_main(["check", str(path)])
    assert code == 0, err


def test_a_5000_digit_integer_is_one_design_error_naming_the_field(tmp_path, run_main):
    text = engine.io.dumps(_design()).replace('"out_features": 8', '"out_features": ' + "7" * 5000)
    path = tmp_path / "huge.json"
    path.write_text(text)
    code, _, err = run_main(["check", str(path)])
    assert code == 2
    assert err.count("\n") == 1 and '"out_features"' in err and "5000 digits" in err
    assert "set_int_max_str_digits" not in err and "Traceback" not in err


@pytest.mark.parametrize("levels", [65, 493, 988, 5000])
def test_deeply_nested_values_are_refused_at_load_naming_the_limit(levels):
    doc = {
        "format": "deepwire.design",
        "version": 1,
        "nodes": [{"id": "fc", "type": "Linear", "params": {"out_features": _nested(levels)}}],
    }
    text = (
        json.dumps(doc)
        if levels < 900
        # json.dumps itself recurses: by hand
        else (
            '{"format": "deepwire.design", "version": 1, "nodes": [{"id": "fc", "type": '
            '"Linear", "params": {"out_features": ' + "[" * levels + "]" * levels + "}}]}"
        )
    )
    with pytest.raises(DesignFormatError, match="64") as info:
        loads(text, "deep.json")
    assert str(info.value).startswith("deep.json") and "\n" not in str(info.value)


def test_nesting_up_to_the_limit_loads_and_saves(tmp_path):
    design = _design()
    deepest = _nested(engine.io.MAX_DEPTH - 2)  # params {…} + 63 lists = 64 levels
    design.node("fc").params["note"] = deepest
    save_design(design, tmp_path / "ok.json")
    assert load_design(tmp_path / "ok.json").node("fc").params["note"] == deepest
    design.node("fc").params["note"] = [deepest]
    with pytest.raises(DesignFormatError, match="more than 64 levels"):
        save_design(design, tmp_path / "ok.json")


def test_saving_a_too_deep_design_is_a_design_error_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "net.json"
    save_design(_design(), path)
    before = path.read_bytes()
    design = _design()
    design.node("fc").params["note"] = _nested(600)  # built in code: the editor cannot load it
    with pytest.raises(DesignFormatError, match="more than 64 levels"):
        save_design(design, path)
    assert path.read_bytes() == before
    assert snapshot(tmp_path) == {"net.json": before}


# ------------------------------------------------------------------------------- terminal output
ESC = "\x1b]0;owned\x07\x1b[2J"  # set the terminal's title, clear the screen


def test_printable_escapes_control_characters_and_keeps_text():
    from engine.errors import printable

    assert printable("Größe 中文 ok") == "Größe 中文 ok"
    assert printable(f"a{ESC}\nb\r\u202ec") == "a\\x1b]0;owned\\x07\\x1b[2J\\nb\\r\\u202ec"


def test_check_never_prints_control_characters_from_names(tmp_path, run_main):
    design = chain(("x", "Input", {"shape": [4]}), ("fc", f"Linear{ESC}\nFAKE OK", {}))
    design.name = f"net{ESC}\nline two"
    path = tmp_path / f"net{ESC}.json"
    save_design(design, path)
    code, out, err = run_main(["check", str(path)])
    assert code == 1
    assert "\x1b" not in out + err and "\x07" not in out + err and "\r" not in out + err
    assert "FAKE OK" in err and all(
        line.startswith(str(path).replace("\x1b", "\\x1b").replace("\x07", "\\x07"))
        for line in err.splitlines()
    )
    design = _design()
    design.name = f"ok{ESC}"
    save_design(design, path)
    code, out, err = run_main(["check", str(path)])
    assert code == 0 and "\x1b" not in out + err and "\\x1b" in out


def test_export_summary_escapes_the_design_name(tmp_path, run_main, mlp_checkpoint):
    from engine.training.checkpoint import save_checkpoint

    design_path, ckpt = mlp_checkpoint
    design = load_design(design_path)
    design.name = f"MLP{ESC}\nwrote /etc/passwd"
    named = tmp_path / "named.json"
    save_design(design, named)
    save_checkpoint(tmp_path / "model.pt", ckpt)
    code, out, err = run_main(
        export_argv(named, tmp_path / "model.pt", "safetensors", tmp_path / "m.safetensors")
    )
    assert code == 0, err
    assert "\x1b" not in out + err and out.count("\n") == 1 and "\\nwrote /etc/passwd" in out
