"""``bench/gpu_check.py``: without CUDA it skips cleanly; its steps, run here on the CPU with tiny
settings, train, time, check placement, run torchrun and export as they would on a GPU, and a
failing step is one line and ``gpu_ok=false`` (never a traceback)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bench import gpu_check
from bench.gpu_check import CheckFailed, StepResult

ROOT = Path(__file__).resolve().parents[2]
CPU = torch.device("cpu")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def cpu_runs(tmp_path_factory):
    """The train step on the CPU for the MLP and the GAN (1 epoch): its verdict and runs."""
    folder = tmp_path_factory.mktemp("gpu-check-train")
    return gpu_check.train_templates(CPU, folder, epochs=1, templates=("mlp", "gan"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the check would run")
def test_without_cuda_the_script_skips_cleanly_in_one_line():
    proc = subprocess.run(
        [sys.executable, "bench/gpu_check.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    lines = proc.stdout.strip().splitlines()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    assert lines[0].startswith("no CUDA device here")
    assert lines[-1] == "gpu_ok=skipped ratio_vs_tight_cuda=nan"
    assert len(lines) == 2


def test_main_skips_when_cuda_is_missing_even_on_a_gpu_machine(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert gpu_check.main([]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "gpu_ok=skipped ratio_vs_tight_cuda=nan"


def test_train_step_trains_through_the_cli_and_checks_the_run_folder(cpu_runs):
    result, runs = cpu_runs
    assert result.ok, result.message
    assert set(runs) == {"mlp", "gan"}
    for design, out in runs.values():
        assert json.loads(design.read_text())["training"]["amp"] is True
        assert (out / "last.pt").is_file() and (out / "best.pt").is_file()
        summary = json.loads((out / "summary.json").read_text())
        assert summary["device"] == "cpu" and summary["epochs_completed"] == 1
    assert len(result.details) == 2
    assert all("no AMP (cpu)" in line for line in result.details)


def test_a_run_on_the_wrong_device_or_cut_short_is_refused(cpu_runs):
    _design, out = cpu_runs[1]["mlp"]
    with pytest.raises(CheckFailed, match="trained on cpu, not cuda"):
        gpu_check.check_run_folder(out, torch.device("cuda"), 1, "classification")
    with pytest.raises(CheckFailed, match="1 of 3 epochs completed"):
        gpu_check.check_run_folder(out, CPU, 3, "classification")


def test_a_template_that_cannot_train_fails_the_step_with_its_error_line(tmp_path, monkeypatch):
    design = json.loads(gpu_check.template_path("mlp").read_text())
    del design["data"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(design))
    monkeypatch.setattr(gpu_check, "template_path", lambda stem: broken)
    result, runs = gpu_check.train_templates(CPU, tmp_path, epochs=1, templates=("mlp",))
    assert not result.ok and runs == {}
    assert result.message.startswith("mlp: main.py train exited 1: ")
    assert "no data section" in result.message
    assert "\n" not in result.message


def test_throughput_step_gives_a_positive_ratio(tmp_path):
    result = gpu_check.throughput(CPU, tmp_path, epochs=1, rounds=1, models=("mlp",))
    assert result.ok, result.message
    assert math.isfinite(result.value) and result.value > 0
    assert result.details[0].startswith("mlp: trainer ")
    assert "without files" in result.details[0]
    assert (tmp_path / "bench-mlp" / "last.pt").is_file()  # the trainer wrote its files


def test_placement_step_finds_the_data_and_every_batch_on_the_device(tmp_path):
    result = gpu_check.placement(CPU, tmp_path, templates=("mlp",))
    assert result.ok, result.message
    assert result.details[0].startswith("mlp: 6 data tensors and every batch on cpu")


@pytest.mark.filterwarnings("ignore:CUDA is not available")
def test_the_profiled_epoch_is_traced_and_a_trace_without_gpu_work_proves_nothing(tmp_path):
    line = gpu_check.placement_of("mlp", CPU, tmp_path, profile=True)
    trace = json.loads((tmp_path / "trace-mlp.json").read_text())
    ops = {e["name"] for e in trace["traceEvents"] if e.get("cat") == "cpu_op"}
    assert "aten::index_select" in ops  # the batches of the profiled epoch
    assert line.endswith("(host→device copies not counted: the trace has no GPU activity)")


def _trace(*copies: tuple[str, int | None]) -> dict:
    events = [{"name": "aten::index_select", "cat": "cpu_op", "args": {}}]
    for name, size in copies:
        args = {} if size is None else {"bytes": size}
        events.append({"name": name, "cat": "gpu_memcpy", "args": args})
    events.append({"name": "cudaMemcpyAsync", "cat": "cuda_runtime", "args": {}})
    return {"traceEvents": events}


def test_host_to_device_copies_are_counted_from_the_profiler_trace():
    trace = _trace(
        ("Memcpy HtoD (Pageable -> Device)", 1000),
        ("Memcpy DtoH (Device -> Pageable)", 5000),
        ("Memcpy HtoD (Pinned -> Device)", 24),
    )
    assert gpu_check.htod_copies(trace) == (2, 1024)
    assert gpu_check.htod_copies(_trace(("Memcpy HtoD (Pageable -> Device)", None))) == (1, None)
    assert gpu_check.gpu_activity(trace)
    assert not gpu_check.gpu_activity(_trace())  # CPU ops only: zero copies would prove nothing


def test_copying_the_dataset_every_epoch_is_caught():
    assert gpu_check.judge_htod(1, 11_000, dataset_bytes=400_000, batches=23) is None
    problem = gpu_check.judge_htod(24, 400_000, dataset_bytes=400_000, batches=23)
    assert "1.00× the 400,000-byte dataset" in problem
    assert gpu_check.judge_htod(2, None, dataset_bytes=400_000, batches=23) is None
    assert "23 batches" in gpu_check.judge_htod(23, None, dataset_bytes=400_000, batches=23)


def test_torchrun_step_trains_in_one_process(tmp_path):
    result = gpu_check.torchrun(CPU, tmp_path)
    assert result.ok, result.message
    assert (tmp_path / "run-torchrun" / "last.pt").is_file()


def test_export_step_writes_every_format_and_runs_it_on_the_cpu(cpu_runs, tmp_path):
    runs = {"mlp": cpu_runs[1]["mlp"]}
    result = gpu_check.export_runs(runs, tmp_path)
    assert result.ok, result.message
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.endswith(".json")) == [
        "mlp-weights.safetensors",
        "mlp.onnx",
        "mlp.pt2",
        "mlp_model.py",
        "mlp_model.safetensors",
    ]
    assert not gpu_check.export_runs({}, tmp_path).ok


def test_outputs_that_differ_from_the_checkpoint_fail_the_export_check():
    want = [np.zeros((3, 10), dtype=np.float32)]
    gpu_check.same_outputs([want[0] + 1e-6], want, 1e-5, "ONNX")
    with pytest.raises(CheckFailed, match="ONNX output 0 differs .* by 0.01"):
        gpu_check.same_outputs([want[0] + 0.01], want, 1e-4, "ONNX")
    with pytest.raises(CheckFailed, match="shape"):
        gpu_check.same_outputs([np.zeros((3, 9))], want, 1e-4, "ONNX")


def test_a_failing_step_is_one_line_and_makes_gpu_ok_false(monkeypatch, capsys, tmp_path):
    def broken() -> StepResult:
        raise RuntimeError("CUDA error: an illegal memory access\nsecond line")

    result = gpu_check.run_step(broken, "torchrun")
    out = capsys.readouterr().out.splitlines()
    assert not result.ok
    assert len(out) == 1 and out[0].startswith(
        "FAIL torchrun: RuntimeError: CUDA error: an illegal memory access ["
    )
    ok = StepResult("throughput", True, "fine", value=0.981)
    assert gpu_check.final_line([ok]) == "gpu_ok=true ratio_vs_tight_cuda=0.981"
    assert gpu_check.final_line([ok, result]) == "gpu_ok=false ratio_vs_tight_cuda=0.981"

    def failing_checks(device, settings, folder):
        raise OSError("No space left on device")

    monkeypatch.setattr(gpu_check, "run_checks", failing_checks)
    assert gpu_check.main(["--device", "cpu", "--quick"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-2] == "FAIL setup: OSError: No space left on device"
    assert out[-1] == "gpu_ok=false ratio_vs_tight_cuda=nan"
