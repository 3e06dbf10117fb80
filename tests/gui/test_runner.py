"""The training runner on its own: a worker thread trains a snapshot, the GUI thread receives the
events in batches, stop / pause / resume take effect within a batch, failures arrive as one line,
and shutdown leaves no thread behind."""

from __future__ import annotations

import threading
import time

import pytest

from engine.errors import TrainingError
from engine.io import load_design
from engine.training.events import BatchEvent, EpochEvent, TrainStartEvent
from gui.runner import TrainingRunner
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def training_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


@pytest.fixture
def runner(qtbot):
    """A runner with a recorder of every drain; stopped and joined after the test."""
    made = TrainingRunner()
    made.drains = []
    made.eventsReady.connect(made.drains.append)
    yield made
    assert made.shutdown(10.0)
    assert not training_threads()
    made.deleteLater()


def mlp(epochs: int, **training) -> object:
    design = load_design(template_path("mlp"))
    design.training.update(epochs=epochs, device="cpu", **training)
    return design


def events_of(runner, kind) -> list:
    return [e for drain in runner.drains for e in drain if isinstance(e, kind)]


def wait_for_steps(qtbot, runner, steps: int = 1) -> None:
    qtbot.waitUntil(
        lambda: any(e.step >= steps for e in events_of(runner, BatchEvent)), timeout=60_000
    )


def test_trains_a_snapshot_and_delivers_batched_events(qtbot, runner):
    design = mlp(2, log_every=1)  # a BatchEvent after every step
    with qtbot.waitSignal(runner.finished, timeout=60_000) as finished:
        runner.start(design)
        design.training["epochs"] = 50  # an edit after Train changes the next run only
    result = finished.args[0]
    assert result.ok and not result.stopped
    assert result.summary.epochs_completed == 2
    assert runner.state == "idle" and not runner.is_active
    batches = events_of(runner, BatchEvent)
    assert isinstance(runner.drains[0][0], TrainStartEvent)
    assert [e.epoch for e in events_of(runner, EpochEvent)] == [1, 2]
    # one signal per drain, never one per training batch
    assert len(batches) == batches[-1].step >= 40
    assert len(runner.drains) < len(batches) / 2
    assert [e.step for e in batches] == sorted(e.step for e in batches)


def test_invalid_settings_are_refused_before_anything_starts(runner):
    design = mlp(2)
    design.training["optimizer"] = "adamx"
    with pytest.raises(TrainingError, match="optimizer"):
        runner.start(design)
    assert runner.state == "idle" and not training_threads()


def test_stop_takes_effect_within_a_batch(qtbot, runner):
    runner.start(mlp(10_000, log_every=1))
    wait_for_steps(qtbot, runner, 3)
    t0 = time.perf_counter()
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        runner.stop()
        # read right after asking (read before, the training thread ran a few more batches in
        # between on a fast machine): the batch running then may finish, no other starts
        step_at_stop = runner._run.trainer.step
        assert runner.state == "stopping"
    assert time.perf_counter() - t0 < 5.0
    result = finished.args[0]
    assert result.ok and result.stopped
    assert result.summary.stopped
    # the batch running when stop was asked may finish; no further batch starts
    last = max(e.step for e in events_of(runner, BatchEvent))
    assert last <= step_at_stop + 1


def test_pause_holds_the_run_and_resume_continues_it(qtbot, runner):
    runner.start(mlp(10_000, log_every=1))
    wait_for_steps(qtbot, runner, 2)
    runner.pause()
    assert runner.state == "paused"
    qtbot.wait(200)  # the batch in flight ends
    held = runner._run.trainer.step
    qtbot.wait(400)
    assert runner._run.trainer.step == held
    paused_clock = runner.active_seconds()
    qtbot.wait(200)
    assert runner.active_seconds() == pytest.approx(paused_clock)  # pauses do not count
    runner.resume()
    assert runner.state == "running"
    qtbot.waitUntil(lambda: runner._run.trainer.step > held + 2, timeout=20_000)
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        runner.stop()
    assert finished.args[0].stopped


def test_stop_while_paused_ends_the_run(qtbot, runner):
    runner.start(mlp(10_000))
    wait_for_steps(qtbot, runner)
    runner.pause()
    with qtbot.waitSignal(runner.finished, timeout=10_000) as finished:
        runner.stop()
    assert finished.args[0].stopped and runner.state == "idle"


def test_a_failure_arrives_as_one_line_and_the_runner_stays_usable(qtbot, runner):
    design = mlp(2)
    design.node("pixels").params["shape"] = [32]  # the data has 64 features
    with qtbot.waitSignal(runner.finished, timeout=60_000) as finished:
        runner.start(design)
    result = finished.args[0]
    assert not result.ok
    assert "\n" not in result.error and "pixels" in result.error and "64" in result.error
    assert runner.state == "idle"
    with qtbot.waitSignal(runner.finished, timeout=60_000) as finished:
        runner.start(mlp(1))
    assert finished.args[0].ok


def test_only_one_run_at_a_time(qtbot, runner):
    runner.start(mlp(10_000))
    with pytest.raises(TrainingError, match="already"):
        runner.start(mlp(1))
    assert len(training_threads()) == 1


def test_shutdown_stops_and_joins_the_worker(qtbot, runner):
    runner.start(mlp(10_000))
    wait_for_steps(qtbot, runner)
    runner.pause()  # even a paused run ends
    t0 = time.perf_counter()
    assert runner.shutdown(10.0)
    assert time.perf_counter() - t0 < 5.0
    assert not training_threads() and runner.state == "idle"


def test_a_flood_of_events_is_drained_in_bounded_slices(runner):
    events = [
        BatchEvent(
            epoch=0,
            step=i + 1,
            batch=i + 1,
            batches_per_epoch=100_000,
            steps=[i + 1],
            losses={"loss": [1.0]},
            lr=1e-3,
            samples_per_s=1.0,
        )
        for i in range(100_000)
    ]
    runner.buffer.extend(events)
    slices = 0
    while runner.buffer:
        runner.drain()
        slices += 1
    assert slices == 100_000 // runner.max_events_per_drain
    assert [len(d) for d in runner.drains] == [runner.max_events_per_drain] * slices
    assert runner.drains[-1][-1].step == 100_000


def warm_up_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepwire-warm-up" and t.is_alive()]


def test_warm_up_runs_in_the_background_and_never_holds_a_shutdown(runner):
    runner.warm_up()
    runner.warm_up()  # once per runner
    warming = warm_up_threads()
    assert len(warming) <= 1 and all(t.daemon for t in warming)  # it cannot hold the process
    assert runner.shutdown(60.0)  # no run: nothing to wait for, not even the warm-up
    assert runner.wait_warm_up(120.0)
    assert not warm_up_threads()


def test_the_tensorboard_setting_writes_event_files_from_the_window(qtbot, runner, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    design = mlp(1, tensorboard=True, histogram_every=1)
    with qtbot.waitSignal(runner.finished, timeout=60_000) as finished:
        runner.start(design, out_dir=tmp_path / "run")
    assert finished.args[0].ok
    acc = EventAccumulator(str(tmp_path / "run"))
    acc.Reload()
    assert len(acc.Scalars("val_accuracy")) == 1 and acc.Tags()["histograms"]


def test_the_window_picks_torch_threads_as_the_command_line_does(qtbot, runner, monkeypatch):
    """``main.py train`` trains a small network on one torch thread (Trainer threads="auto");
    a run from the window follows the same rule, so the two are alike (and the GUI keeps a
    core)."""
    import torch

    from engine.training import Callback
    from engine.training import trainer as trainer_module

    seen: dict = {}

    class Threads(Callback):
        def on_train_start(self, event) -> None:
            seen["during"] = torch.get_num_threads()

    class Spy(trainer_module.Trainer):
        def __init__(self, *args, **kwargs):
            seen["threads"] = kwargs.get("threads")
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), Threads()]
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "Trainer", Spy)
    with qtbot.waitSignal(runner.finished, timeout=60_000) as finished:
        runner.start(mlp(1))
    assert finished.args[0].ok
    assert seen == {"threads": "auto", "during": 1}  # the MLP template is a small network
