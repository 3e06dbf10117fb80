"""Checkpoints written without stalling training: off the training thread, throttled, complete at
the end, best.pt the best epoch's weights, a killed run's last.pt loadable; torch threads."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

import engine.training.checkpoint as checkpoint_module
import engine.training.run_files as run_files
from engine.training import Callback, History, Trainer, load_checkpoint
from engine.training.devices import SMALL_STEP_MACS, busy_cores_now, pick_threads
from engine.training.run_files import read_metrics
from resources import template_path
from tests.engine.test_training import moons_mlp

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py


@pytest.fixture
def saves(monkeypatch) -> list[tuple[str, int, str]]:
    """Every checkpoint written: (file name, epoch, writing thread's name)."""
    written: list[tuple[str, int, str]] = []
    real = run_files.save_checkpoints

    def record(paths, ckpt):
        for path in paths:
            written.append((Path(path).name, ckpt.epoch, threading.current_thread().name))
        real(paths, ckpt)

    monkeypatch.setattr(run_files, "save_checkpoints", record)
    return written


def test_checkpoints_are_written_off_the_training_thread_after_the_first_epoch_and_at_the_end(
    tmp_path, saves
):
    design = moons_mlp({"epochs": 6, "lr": 0.05})
    summary = Trainer(design, out_dir=tmp_path, save_every_s=3600).fit()
    lasts = [epoch for name, epoch, _ in saves if name == "last.pt"]
    assert lasts == [1, 6]  # not once per epoch
    assert all(thread != threading.current_thread().name for _, _, thread in saves)
    last, best = load_checkpoint(tmp_path / "last.pt"), load_checkpoint(tmp_path / "best.pt")
    assert last.epoch == 6 and best.epoch == summary.best_epoch
    assert [r["epoch"] for r in read_metrics(tmp_path / "metrics.jsonl")] == list(range(1, 7))
    assert not [t for t in threading.enumerate() if t.name == "deepwire-checkpoints"]


def test_with_no_wait_between_saves_every_epoch_goes_to_the_writer(tmp_path, saves, monkeypatch):
    handed: list[int] = []
    submit_all = run_files.CheckpointWriter.submit_all

    def spy(self, items):
        handed.extend(ckpt.epoch for path, ckpt in items if path.name == "last.pt")
        submit_all(self, items)

    monkeypatch.setattr(run_files.CheckpointWriter, "submit_all", spy)
    Trainer(moons_mlp({"epochs": 3}), out_dir=tmp_path, save_every_s=0).fit()
    assert handed == [1, 2, 3]
    # a newer epoch replaces one still waiting for the writer: written in order, ending last
    written = [epoch for name, epoch, _ in saves if name == "last.pt"]
    assert written == sorted(set(written)) and written[-1] == 3


def test_best_and_last_of_the_same_epoch_are_serialized_once(tmp_path, saves, monkeypatch):
    serialized: list[int] = []
    real = checkpoint_module.checkpoint_bytes

    def spy(ckpt):
        serialized.append(ckpt.epoch)
        return real(ckpt)

    monkeypatch.setattr(checkpoint_module, "checkpoint_bytes", spy)
    summary = Trainer(moons_mlp({"epochs": 1}), out_dir=tmp_path, save_every_s=3600).fit()
    assert summary.best_epoch == 1
    assert sorted(name for name, _, _ in saves) == ["best.pt", "last.pt"]
    assert serialized == [1]  # one serialization, two files
    last, best = load_checkpoint(tmp_path / "last.pt"), load_checkpoint(tmp_path / "best.pt")
    assert last.epoch == best.epoch == 1 and last.trainer_state["step"] > 0
    assert (tmp_path / "last.pt").read_bytes() == (tmp_path / "best.pt").read_bytes()
    # written to disk once: the two names are one file (hard links)
    assert os.path.samefile(tmp_path / "last.pt", tmp_path / "best.pt")


class Weights(Callback):
    """A copy of the network's weights at the end of every epoch."""

    def __init__(self) -> None:
        self.trainer: Trainer | None = None
        self.by_epoch: dict[int, dict[str, torch.Tensor]] = {}

    def on_epoch_end(self, event) -> None:
        net = self.trainer.networks["main"]
        self.by_epoch[event.epoch] = {k: v.clone() for k, v in net.state_dict().items()}


def test_best_pt_holds_the_best_epochs_weights_though_it_is_written_later(tmp_path, saves):
    # a large learning rate: the validation loss goes up and down, so the best epoch is not
    # the last and not the first, and best.pt is written only at the end
    design = moons_mlp({"epochs": 12, "lr": 0.3, "optimizer": "adam"})
    weights = Weights()
    weights.trainer = trainer = Trainer(
        design, callbacks=[weights], out_dir=tmp_path, save_every_s=3600
    )
    summary = trainer.fit()
    best = load_checkpoint(tmp_path / "best.pt")
    assert 1 < summary.best_epoch < 12, "the run should have a best epoch in the middle"
    assert best.epoch == summary.best_epoch
    for name, tensor in weights.by_epoch[summary.best_epoch].items():
        assert torch.equal(best.state_dicts["main"][name], tensor), name
    assert not torch.equal(
        best.state_dicts["main"]["layers.h.weight"], weights.by_epoch[12]["layers.h.weight"]
    )
    last = load_checkpoint(tmp_path / "last.pt")
    for name, tensor in weights.by_epoch[12].items():
        assert torch.equal(last.state_dicts["main"][name], tensor), name


class StopAt(Callback):
    def __init__(self, epoch: int) -> None:
        self.epoch = epoch
        self.trainer: Trainer | None = None

    def on_epoch_end(self, event) -> None:
        if event.epoch == self.epoch:
            self.trainer.request_stop()


def test_a_stopped_run_saves_its_last_full_epoch_and_resumes_from_it(tmp_path, saves):
    design = moons_mlp({"epochs": 6})
    stop = StopAt(3)
    stop.trainer = Trainer(design, callbacks=[stop], out_dir=tmp_path, save_every_s=3600)
    assert stop.trainer.fit().stopped
    assert load_checkpoint(tmp_path / "last.pt").epoch == 3  # not only epoch 1
    history = History()
    Trainer(design, callbacks=[history], out_dir=tmp_path, resume=tmp_path / "last.pt").fit()
    assert [e.epoch for e in history.epochs] == [4, 5, 6]


def test_a_write_failure_stops_the_run_with_one_line(tmp_path, monkeypatch):
    def full(files):
        raise OSError(28, "No space left on device", str(next(iter(files))))

    monkeypatch.setattr("engine.training.checkpoint.atomic_write_files", full)
    history = History()
    with pytest.raises(Exception) as err:
        Trainer(moons_mlp({"epochs": 3}), callbacks=[history], out_dir=tmp_path).fit()
    assert "No space left on device" in str(err.value) and "\n" not in str(err.value)
    assert history.error is not None
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert "No space left on device" in summary["error"]


def test_a_cut_off_last_metrics_line_is_skipped(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"epoch": 1, "train_loss": 0.5}\n{"epoch": 2, "train_lo')
    assert read_metrics(path) == [{"epoch": 1, "train_loss": 0.5}]


def test_a_killed_run_leaves_a_loadable_last_checkpoint(tmp_path):
    """SIGKILL a real ``main.py train`` while it trains and writes checkpoints: the last.pt it
    leaves loads with the safe loader and holds finite weights of a finished epoch."""
    if not hasattr(signal, "SIGKILL"):
        pytest.skip("no SIGKILL on this platform")
    proc = subprocess.Popen(
        [sys.executable, "main.py", "train", str(template_path("mlp"))]
        + ["--epochs", "100000", "--out", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    try:
        deadline = time.monotonic() + 120
        last = tmp_path / "last.pt"
        while time.monotonic() < deadline and not last.exists() and proc.poll() is None:
            time.sleep(0.05)
        assert last.exists(), "the run wrote no last.pt"
        time.sleep(0.5)  # a few more epochs
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    ckpt = load_checkpoint(last)
    assert ckpt.epoch >= 1 and ckpt.trainer_state["history"][-1]["epoch"] == ckpt.epoch
    assert all(torch.isfinite(t).all() for t in ckpt.state_dicts["main"].values())
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert [r["epoch"] for r in records] == list(range(1, len(records) + 1))
    assert len(records) >= ckpt.epoch


def test_small_networks_train_on_one_thread_and_large_ones_on_the_free_cores():
    assert pick_threads(SMALL_STEP_MACS - 1, limit=8, cores=8, load=0.0) == 1
    assert pick_threads(SMALL_STEP_MACS, limit=8, cores=8, load=1.0) == 8
    assert pick_threads(SMALL_STEP_MACS, limit=8, cores=8, load=4.0) == 5
    assert pick_threads(SMALL_STEP_MACS, limit=4, cores=8, load=1.0) == 4
    assert pick_threads(SMALL_STEP_MACS, limit=8, cores=2, load=6.0) == 1


def test_a_machine_that_just_went_quiet_counts_as_free():
    # the 1-minute load average still counts the run that just ended; the cores are idle now
    assert pick_threads(SMALL_STEP_MACS, limit=2, cores=2, load=2.0, busy=0.0) == 2
    assert pick_threads(SMALL_STEP_MACS, limit=2, cores=2, load=2.0) == 1
    # busy now and over the last minute: one thread
    assert pick_threads(SMALL_STEP_MACS, limit=2, cores=2, load=3.0, busy=1.5) == 1


def test_the_machine_is_sampled_only_when_there_is_a_choice(monkeypatch):
    import engine.training.devices as devices

    def sampled(*_args):
        raise AssertionError("sampled the machine (0.1 s before the first batch) for nothing")

    monkeypatch.setattr(devices, "busy_cores_now", sampled)
    monkeypatch.setattr(devices.os, "getloadavg", lambda: (0.5, 0.5, 0.5))
    assert pick_threads(SMALL_STEP_MACS, limit=1, cores=2) == 1  # the window's training process
    assert pick_threads(SMALL_STEP_MACS, limit=2, cores=2) == 2  # a quiet machine by its load


def test_busy_cores_now_reads_the_machine_or_says_it_cannot():
    busy = busy_cores_now(0.02)
    assert busy is None or 0.0 <= busy <= (os.cpu_count() or 1) + 0.5


class Threads(Callback):
    def on_train_start(self, event) -> None:
        self.during = torch.get_num_threads()


def test_the_command_line_trainer_picks_its_threads_and_puts_them_back(tmp_path, monkeypatch):
    torch.set_num_threads(2)
    threads = Threads()
    Trainer(moons_mlp({"epochs": 1}), callbacks=[threads], threads="auto").fit()
    assert threads.during == 1 and torch.get_num_threads() == 2
    Trainer(moons_mlp({"epochs": 1}), callbacks=[threads]).fit()
    assert threads.during == 2  # the default leaves the caller's setting alone
    given = {}

    class Spy(Trainer):
        def __init__(self, *args, **kwargs):
            given.update(kwargs)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr("engine.training.cli.Trainer", Spy)
    import main

    out = str(tmp_path / "run")
    assert main.main(["train", str(template_path("mlp")), "--epochs", "1", "--out", out]) == 0
    assert given["threads"] == "auto"
