"""``main.py train``: every template trains, files in --out, flags, resume, errors, torchrun DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import main
from engine.training import load_checkpoint
from resources import TEMPLATES, template_path

ROOT = Path(__file__).resolve().parents[2]


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py


def train(capsys, *argv: str) -> tuple[int, str, str]:
    code = main.main(["train", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def read_metrics(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("stem", sorted(TEMPLATES))
def test_every_template_trains_one_epoch(stem, tmp_path, capsys):
    code, out, err = train(
        capsys, str(template_path(stem)), "--epochs", "1", "--out", str(tmp_path)
    )
    assert code == 0, err
    assert out.startswith("done: 1/1 epochs")
    (record,) = read_metrics(tmp_path)
    assert record["epoch"] == 1 and "train_loss" in record and "val_loss" in record
    family_metric = {
        "mlp": "val_accuracy",
        "cnn": "val_accuracy",
        "rnn": "val_accuracy",
        "lstm": "val_accuracy",
        "transformer": "val_accuracy",
        "autoencoder": "val_mse",
        "gan": "d_loss",
        "som": "val_quantization_error",
    }[stem]
    assert family_metric in record
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["epochs_completed"] == 1 and summary["error"] is None
    for kind in ("best", "last"):
        assert Path(summary["checkpoints"][kind]).is_file()
    assert "epoch 1/1" in err


def test_files_flags_and_progress(tmp_path, capsys):
    code, out, err = train(
        capsys,
        str(template_path("mlp")),
        "--epochs",
        "2",
        "--batch-size",
        "128",
        "--lr",
        "0.005",
        "--seed",
        "3",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    records = read_metrics(tmp_path)
    assert [r["epoch"] for r in records] == [1, 2]
    assert records[1]["val_accuracy"] > 0.5 and records[0]["lr"] == 0.005
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["config"]["batch_size"] == 128 and summary["config"]["seed"] == 3
    assert summary["final"] == records[-1] and summary["device"] == "cpu"
    best = load_checkpoint(tmp_path / "best.pt")
    assert best.data_info["class_names"] == [str(i) for i in range(10)]
    assert ("batch/s" in err or "s/batch" in err) and "<00:" in err  # tqdm rate and ETA
    assert "epoch 2/2  train_loss" in err
    assert "best epoch" in out and str(tmp_path) in out


def test_resume_from_the_command_line_appends_to_the_curve(tmp_path, capsys):
    design = str(template_path("mlp"))
    assert train(capsys, design, "--epochs", "1", "--out", str(tmp_path))[0] == 0
    first = read_metrics(tmp_path)
    code, out, err = train(
        capsys,
        design,
        "--epochs",
        "2",
        "--resume",
        str(tmp_path / "last.pt"),
        "--out",
        str(tmp_path),
    )
    assert code == 0, err
    records = read_metrics(tmp_path)
    assert records[0] == first[0] and [r["epoch"] for r in records] == [1, 2]


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def broken_designs(tmp_path: Path) -> list[tuple[list[str], int, str]]:
    mlp = json.loads(template_path("mlp").read_text())
    bad_shape = json.loads(json.dumps(mlp))
    bad_shape["nodes"][0]["params"]["shape"] = [65]
    bad_opt = json.loads(json.dumps(mlp))
    bad_opt["training"]["optimizer"] = "adamm"
    bad_data = json.loads(json.dumps(mlp))
    bad_data["data"] = {"source": "csv", "path": "missing.csv", "target": "y"}
    return [
        ([str(tmp_path / "nope.json")], 2, "no such file"),
        ([write(tmp_path / "junk.json", "{not json")], 2, "junk.json"),
        ([str(template_path("mlp")), "--epochs", "0"], 2, "--epochs is 0"),
        ([str(template_path("mlp")), "--lr", "-1"], 2, "--lr is -1.0"),
        (
            [write(tmp_path / "shape.json", json.dumps(bad_shape))],
            1,
            "samples of shape (64,) but the design's Input 'pixels' expects (65,)",
        ),
        ([write(tmp_path / "opt.json", json.dumps(bad_opt))], 1, "optimizer is 'adamm'"),
        ([write(tmp_path / "data.json", json.dumps(bad_data))], 1, "missing.csv"),
        (
            [str(template_path("mlp")), "--resume", write(tmp_path / "fake.pt", "nope")],
            2,
            "not a readable Deepwire checkpoint",
        ),
    ]


def test_bad_input_is_one_line_with_the_right_exit_code(tmp_path, capsys):
    for argv, want_code, words in broken_designs(tmp_path):
        code, out, err = train(capsys, *argv, "--out", str(tmp_path / "out"))
        assert code == want_code, (argv, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert words in lines[0], (words, lines[0])


def test_subprocess_exit_codes(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "main.py", "train", str(tmp_path / "none.json")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().count("\n") == 0


def test_torchrun_two_processes_match_single_process_quality(tmp_path, capsys):
    design = str(template_path("mlp"))
    assert train(capsys, design, "--epochs", "2", "--out", str(tmp_path / "single"))[0] == 0
    single = read_metrics(tmp_path / "single")[-1]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "main.py",
            "train",
            design,
            "--epochs",
            "2",
            "--out",
            str(tmp_path / "ddp"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.count("done: 2/2 epochs") == 1  # only rank 0 reports
    assert "cpu × 2" in proc.stderr
    ddp = read_metrics(tmp_path / "ddp")
    assert [r["epoch"] for r in ddp] == [1, 2]
    assert abs(ddp[-1]["val_accuracy"] - single["val_accuracy"]) < 0.05
    assert abs(ddp[-1]["val_loss"] - single["val_loss"]) < 0.1 * single["val_loss"]
    summary = json.loads((tmp_path / "ddp" / "summary.json").read_text())
    assert summary["world_size"] == 2
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "best.pt",
        "design.json",
        "last.pt",
        "metrics.jsonl",
        "run-start.json",
        "summary.json",
    ]


def test_ctrl_c_stops_cleanly_after_the_running_batch(tmp_path):
    import signal
    import time

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "main.py",
            "train",
            str(template_path("mlp")),
            "--epochs",
            "100000",
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 120
        metrics = tmp_path / "metrics.jsonl"
        while time.monotonic() < deadline and not (metrics.exists() and metrics.read_text()):
            time.sleep(0.1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-1000:]
    assert "stopping after this batch" in err and "Traceback" not in err
    assert out.startswith("stopped: ")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stopped"] and summary["epochs_completed"] >= 1
    assert load_checkpoint(tmp_path / "last.pt").epoch == summary["epochs_completed"]


def test_a_cli_run_is_listed_in_the_designs_run_store(tmp_path, capsys, monkeypatch):
    """A run trained from the command line shows in the window's Runs panel (its run store),
    wherever --out put it; a store that cannot be written costs one note, never the run."""
    from engine.runs import store_for

    monkeypatch.setenv("DEEPWIRE_DATA_DIR", str(tmp_path / "data"))
    design = tmp_path / "mlp.json"
    design.write_bytes(template_path("mlp").read_bytes())
    out = tmp_path / "elsewhere" / "my-run"
    code, _out, err = train(capsys, str(design), "--epochs", "1", "--out", str(out))
    assert code == 0, err
    (run,) = store_for(design).list_runs()
    assert run.path == out.resolve() and run.status == "finished"

    (tmp_path / "blocked").write_text("a file where the data folder should be")
    monkeypatch.setenv("DEEPWIRE_DATA_DIR", str(tmp_path / "blocked"))
    code, _out, err = train(capsys, str(design), "--epochs", "1", "--out", str(tmp_path / "r2"))
    assert code == 0 and (tmp_path / "r2" / "summary.json").is_file()
    (note,) = [line for line in err.splitlines() if line.startswith("note:")]
    assert "Runs panel" in note and "--add" in note
