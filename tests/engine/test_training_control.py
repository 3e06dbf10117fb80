"""Trainer control and faults: determinism, exact resume, stop/pause from another thread, NaN, OOM."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch

from engine.errors import TrainingError
from engine.training import Callback, History, TrainConfig, Trainer, load_checkpoint
from tests.engine.test_training import autoencoder, fit, gan_design, moons_mlp, som_design

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py


def curve(history: History) -> list[dict]:
    """Every epoch's numbers except wall-clock time."""
    return [{k: v for k, v in e.metrics.items()} | {"lr": e.lr} for e in history.epochs]


def test_same_seed_gives_identical_metrics_and_another_seed_does_not():
    design = moons_mlp({"epochs": 3}, dropout=0.3)
    a, b = fit(design)[1], fit(design)[1]
    assert curve(a) == curve(b)
    design.training["seed"] = 7
    assert curve(fit(design)[1]) != curve(a)


class StopAfter(Callback):
    """Asks the trainer to stop once ``epochs`` epochs are done (an interrupted run)."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.trainer: Trainer | None = None

    def on_epoch_end(self, event) -> None:
        if event.epoch == self.epochs:
            self.trainer.request_stop()


RESUMABLE = {
    "mlp": lambda: moons_mlp(
        {
            "epochs": 5,
            "optimizer": "sgd",
            "nesterov": True,
            "lr": 0.05,
            "scheduler": "cosine",
            "grad_clip": 1.0,
            "early_stopping": {"patience": 50},
        },
        dropout=0.3,
    ),
    "autoencoder": lambda: autoencoder(
        {"epochs": 4, "denoise_std": 0.1, "scheduler": {"type": "plateau", "patience": 0}}
    ),
    "gan": lambda: gan_design(epochs=4),
    "som": lambda: som_design(epochs=4),
}


@pytest.mark.parametrize("family", list(RESUMABLE))
def test_resume_continues_exactly_like_an_uninterrupted_run(family, tmp_path):
    design = RESUMABLE[family]()
    full = History()
    whole = Trainer(design, callbacks=[full])
    whole.fit()

    stopper, first = StopAfter(2), History()
    interrupted = Trainer(design, callbacks=[first, stopper], out_dir=tmp_path)
    stopper.trainer = interrupted
    summary = interrupted.fit()
    assert summary.stopped and summary.epochs_completed == 2

    rest = History()
    resumed = Trainer(design, callbacks=[rest], out_dir=tmp_path, resume=tmp_path / "last.pt")
    resumed.fit()
    assert rest.start.start_epoch == 2 and len(rest.start.history) == 2
    assert curve(first) + curve(rest) == curve(full)
    for name, net in whole.networks.items():
        for key, value in net.state_dict().items():
            assert torch.equal(value, resumed.networks[name].state_dict()[key]), key
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == list(range(1, len(full.epochs) + 1))


def test_resume_refuses_another_design_and_a_finished_run(tmp_path):
    design = moons_mlp({"epochs": 2})
    fit(design, out_dir=tmp_path)
    with pytest.raises(TrainingError, match="already trained 2 of 2 epochs.*--epochs 12"):
        fit(design, resume=tmp_path / "last.pt")
    other = moons_mlp({"epochs": 4})
    other.set_param("h", "out_features", 8)
    with pytest.raises(TrainingError, match="saved for a different design"):
        fit(other, resume=tmp_path / "last.pt")


class Steps(Callback):
    """Signals once the run has done a few steps."""

    def __init__(self, after: int) -> None:
        self.after = after
        self.going = threading.Event()

    def on_batch_end(self, event) -> None:
        if event.step >= self.after:
            self.going.set()


@contextmanager
def endless_run(after: int) -> Iterator[tuple[Trainer, threading.Thread, list]]:
    """A moons MLP set to train 10,000 epochs, running in a thread and past ``after`` batches;
    yields (trainer, thread, [fit's summary once it returns]); stopped and joined on exit."""
    steps = Steps(after=after)
    trainer = Trainer(moons_mlp({"epochs": 10_000, "log_every": 1}), callbacks=[steps])
    out: list = []
    thread = threading.Thread(target=lambda: out.append(trainer.fit()), daemon=True)
    thread.start()
    try:
        assert steps.going.wait(60), "training did not start"
        yield trainer, thread, out
    finally:
        trainer.request_stop()
        thread.join(60)


def test_stop_from_another_thread_takes_effect_within_one_batch():
    with endless_run(after=5) as (trainer, thread, out):
        trainer.request_stop()
        at = trainer.step
    assert not thread.is_alive()
    assert trainer.step <= at + 1  # only the batch already running may finish
    assert out[0].stopped and out[0].epochs_completed < 10_000


def test_pause_holds_training_until_resume():
    with endless_run(after=3) as (trainer, thread, out):
        trainer.pause()
        at = trainer.step
        time.sleep(0.3)
        held = trainer.step
        assert held <= at + 1 and trainer.paused
        time.sleep(0.3)
        assert trainer.step == held
        trainer.resume()
        deadline = time.monotonic() + 60
        while trainer.step < held + 10 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert trainer.step >= held + 10
        trainer.pause()
        trainer.request_stop()  # stopping a paused run ends it
        thread.join(60)
        assert not thread.is_alive() and out[0].stopped


class Poison(Callback):
    """Writes NaN into the first layer's weights after epoch 1 (a blown-up run)."""

    def __init__(self) -> None:
        self.trainer: Trainer | None = None

    def on_epoch_end(self, event) -> None:
        if event.epoch == 1:
            with torch.no_grad():
                self.trainer.networks["main"].layers["h"].weight.fill_(float("nan"))


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path):
    poison, history = Poison(), History()
    trainer = Trainer(moons_mlp({"epochs": 5}), callbacks=[poison, history], out_dir=tmp_path)
    poison.trainer = trainer
    with pytest.raises(TrainingError) as err:
        trainer.fit()
    message = str(err.value)
    assert "NaN or infinite in epoch 2" in message and "lower the learning rate" in message
    assert str(tmp_path / "last.pt") in message
    assert history.error is err.value
    last = load_checkpoint(tmp_path / "last.pt")
    assert last.epoch == 1
    assert all(torch.isfinite(t).all() for t in last.state_dicts["main"].values())
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["error"] == message and summary["epochs_completed"] == 1


class Raise(Callback):
    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def on_batch_end(self, event) -> None:
        raise self.exc


def test_out_of_memory_suggests_a_smaller_batch():
    history = History()
    oom = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    with pytest.raises(
        TrainingError,
        match=r"out of cpu memory in epoch 1 at batch size 32: "
        r"lower batch_size \(try 16\)",
    ):
        Trainer(moons_mlp(), callbacks=[Raise(oom), history]).fit()
    assert "batch_size" in str(history.error)


def test_unexpected_exceptions_become_one_readable_line():
    history = History()
    with pytest.raises(TrainingError) as err:
        Trainer(moons_mlp(), callbacks=[Raise(ValueError("boom\nsecond line")), history]).fit()
    assert str(err.value) == "training failed in epoch 1: ValueError: boom"
    assert history.error is err.value


def test_a_trainer_runs_once():
    trainer = Trainer(moons_mlp({"epochs": 1}))
    trainer.fit()
    with pytest.raises(TrainingError, match="create a new one"):
        trainer.fit()


def test_config_object_overrides_the_design_section():
    design = moons_mlp({"epochs": 5})
    cfg = TrainConfig.from_design(design, {"epochs": 1, "batch_size": 64})
    summary = Trainer(design, cfg).fit()
    assert summary.epochs_completed == 1 and summary.config["batch_size"] == 64
