"""The window's runs in the warm training process: the same events and run files as the thread
path, stop that keeps a usable checkpoint, a killed child as one line, fallbacks to the thread
when the child cannot start or a run cannot be sent, and no child left after the window closes.

One warm worker (a spawned child that imported torch) serves the module: each spawn costs the
seconds of a second ``import torch``.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import threading

import pytest

from engine.data import PreparedData, prepare_data
from engine.errors import TrainingError
from engine.io import load_design
from engine.training.checkpoint import load_checkpoint
from engine.training.events import BatchEvent, EpochEvent, TrainStartEvent
from gui.runner import TrainingRunner
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

READY_S = 240.0  # a spawned child imports torch: minutes on a loaded 2-core machine


def training_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def mlp(epochs: int, **training):
    design = load_design(template_path("mlp"))
    design.training.update(epochs=epochs, device="cpu", **training)
    return design


@pytest.fixture(scope="module")
def warm(qapp):
    """A process-path runner whose child is ready; closed (child joined) after the module."""
    runner = TrainingRunner(where="process")
    runner.warm_up()
    assert runner.wait_worker(READY_S), "the training process did not start"
    yield runner
    assert runner.shutdown(30.0)
    assert runner.worker is None and not multiprocessing.active_children()
    runner.deleteLater()


@pytest.fixture
def runner(warm, qtbot):
    """The warm runner with a recorder of every drain and every notice for this test."""
    warm.drains, warm.notices = [], []
    warm.eventsReady.connect(warm.drains.append)
    warm.notice.connect(warm.notices.append)
    yield warm
    if warm.is_active:
        warm.stop()
        qtbot.waitUntil(lambda: not warm.is_active, timeout=60_000)
    warm.eventsReady.disconnect(warm.drains.append)
    warm.notice.disconnect(warm.notices.append)
    assert not training_threads()


def events_of(runner, kind) -> list:
    return [e for drain in runner.drains for e in drain if isinstance(e, kind)]


def test_a_run_trains_in_the_child_with_the_thread_paths_events_and_files(runner, qtbot, tmp_path):
    pid = runner.worker.pid
    out = tmp_path / "run"
    with qtbot.waitSignal(runner.finished, timeout=120_000) as finished:
        runner.start(mlp(2, log_every=1), out_dir=out)
        assert not training_threads()  # nothing trains in this process
    result = finished.args[0]
    assert result.ok and not result.stopped, result.error
    assert result.summary.epochs_completed == 2
    (start,) = events_of(runner, TrainStartEvent)
    assert start.epochs == 2 and start.n_train > 0
    assert [e.epoch for e in events_of(runner, EpochEvent)] == [1, 2]
    batches = events_of(runner, BatchEvent)
    assert [b.step for b in batches] == sorted(b.step for b in batches)
    assert batches[-1].step == 2 * start.batches_per_epoch
    for name in ("best.pt", "last.pt", "metrics.jsonl", "summary.json", "design.json"):
        assert (out / name).is_file(), name
    assert runner.state == "idle" and runner.worker.pid == pid  # the same warm child, ready again
    assert runner.worker.ready


def test_prepared_data_is_sent_once_and_reused(runner, qtbot, tmp_path):
    design = mlp(1)
    data = prepare_data(design.data, None, 0)
    for i in range(2):
        with qtbot.waitSignal(runner.finished, timeout=120_000) as finished:
            runner.start(design, data=data, out_dir=tmp_path / f"r{i}")
        assert finished.args[0].ok, finished.args[0].error
        token = runner._worker_data[0]
        assert runner._worker_data[1] is data
        assert finished.args[0].summary.n_train == len(data.x_train)
    assert token == "data-1"  # the second run sent only the token


def test_stop_ends_a_process_run_promptly_with_a_usable_last_checkpoint(runner, qtbot, tmp_path):
    out = tmp_path / "run"
    runner.start(mlp(500, log_every=1), out_dir=out)
    qtbot.waitUntil(
        lambda: any(e.epoch >= 1 for e in events_of(runner, EpochEvent)), timeout=120_000
    )
    runner.pause()
    assert runner.state == "paused"
    runner.resume()
    with qtbot.waitSignal(runner.finished, timeout=30_000) as finished:
        runner.stop()
        assert runner.state == "stopping"
    result = finished.args[0]
    assert result.ok and result.stopped
    assert 1 <= result.summary.epochs_completed < 500
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt.epoch == result.summary.epochs_completed


def test_a_run_that_cannot_be_sent_trains_in_a_thread_and_says_so(runner, qtbot, tmp_path):
    design = mlp(1)
    prepared = prepare_data(design.data, None, 0)

    class Local(PreparedData):  # a local class cannot be pickled
        pass

    data = Local(**{f.name: getattr(prepared, f.name) for f in dataclasses.fields(prepared)})
    with qtbot.waitSignal(runner.finished, timeout=120_000) as finished:
        runner.start(design, data=data, out_dir=tmp_path / "run")
        assert training_threads()  # the thread path
    assert finished.args[0].ok, finished.args[0].error
    (line,) = runner.notices
    assert "cannot be sent to the training process" in line and "\n" not in line


def test_a_child_that_cannot_start_leaves_the_thread_path_said_once(qtbot, monkeypatch):
    import engine.training.worker_process as wp

    def refuse(self):
        raise TrainingError("cannot start the training process: no processes left")

    monkeypatch.setattr(wp.TrainingProcess, "start", refuse)
    made = TrainingRunner(where="process")
    notices = []
    made.notice.connect(notices.append)
    made.warm_up()
    made.warm_up()
    assert made.worker is None
    assert notices == [
        "Training in the window's process: cannot start the training process: no processes left"
    ]
    with qtbot.waitSignal(made.finished, timeout=120_000) as finished:
        made.start(mlp(1))
        assert training_threads()
    assert finished.args[0].ok
    assert len(notices) == 1
    assert made.shutdown(10.0) and made.wait_warm_up(120.0)
    made.deleteLater()


def test_closing_the_window_mid_run_leaves_no_child(warm, main_window, qtbot, tmp_path):
    from gui.app import leave

    win, _prompts = main_window(mlp(500))
    panel = win.training_panel
    panel.runs_dir = tmp_path / "runs"
    # the module's warm child moves to the window's runner (one spawn for the whole module)
    panel.runner.where = "process"
    panel.runner.worker, warm.worker = warm.worker, None
    pid = panel.runner.worker.pid
    assert panel.train()
    qtbot.waitUntil(lambda: panel.progress.value() > 0, timeout=120_000)
    win.close()
    assert leave(win, 30.0)
    assert not pid_alive(pid) and not multiprocessing.active_children()
    (folder,) = (tmp_path / "runs").rglob("summary.json")  # the stopped run wrote its summary
    assert folder.is_file()


def test_a_killed_child_ends_the_run_with_one_line_and_a_fresh_child_follows(qapp, qtbot):
    made = TrainingRunner(where="process")
    made.warm_up()
    assert made.wait_worker(READY_S)
    pid = made.worker.pid
    started = []
    made.eventsReady.connect(started.append)
    with qtbot.waitSignal(made.finished, timeout=120_000) as finished:
        made.start(mlp(500))
        qtbot.waitUntil(lambda: bool(started), timeout=120_000)
        os.kill(pid, signal.SIGKILL)
    result = finished.args[0]
    assert not result.ok
    assert result.error == (
        "the training process ended unexpectedly (killed by signal 9): the run folder keeps "
        "the checkpoints written so far"
    )
    assert made.state == "idle" and not pid_alive(pid)
    assert made.worker is not None and made.worker.pid != pid  # the next run gets a fresh child
    assert made.shutdown(10.0)
    assert not multiprocessing.active_children()
    made.deleteLater()
