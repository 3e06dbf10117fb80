"""Runs the engine's :class:`~engine.training.Trainer` off the GUI thread and streams its events.

::

    runner = TrainingRunner(parent)
    runner.eventsReady.connect(plots.add_events)     # one list of events per drain, GUI thread
    runner.finished.connect(panel.on_finished)       # a RunResult: summary, error or stop
    runner.start(document.design)                    # snapshot taken here, on the GUI thread

The trainer runs in a worker thread on a deep copy of the design, so edits made while it trains
change the next run, not this one. Its callbacks only append events (plain values and numpy
arrays) to a :class:`collections.deque`; a :class:`~PySide6.QtCore.QTimer` on the GUI thread
drains that deque ``DRAIN_HZ`` times a second and emits :attr:`TrainingRunner.eventsReady` once
per drain with everything that arrived — never one signal per training batch. Stop, pause and
resume set the trainer's cooperative flags, which it reads before every batch.

Why a thread and not a process: measured on the 2-core development machine (docs/benchmarks.md,
bench/bench_runner.py), what slows torch off the main thread is its OpenMP pool. With the pool at
one thread the worker thread trains as fast as a main-thread run, and a spawned child process is
no faster while it costs seconds of start-up and a second copy of torch. So a run picks its torch
threads by the rule ``main.py train`` uses (``Trainer(threads="auto")``,
:func:`engine.training.devices.pick_threads`: one thread for a small network, the free cores for
a big one), capped at :func:`worker_threads` (all cores but one: the GUI thread keeps its core),
for the length of the run.
Re-measured with the plots painted (``bench/bench_window_train.py --process``): a child process
trains a small MLP faster under heavy load but starts its first batch tens of seconds later;
docs/benchmarks.md has the figures.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from engine.data import PreparedData
from engine.errors import TrainingError, first_line
from engine.graph import Design
from engine.training.config import TrainConfig
from engine.training.events import Callback
from engine.training.summary import RunSummary
from engine.training.tensorboard import attach_tensorboard
from gui import gc_guard
from gui.workers import BackgroundCall

if TYPE_CHECKING:  # the trainer imports torch: gui/torch_loader.py loads it in the background
    from engine.training.trainer import Trainer

DRAIN_HZ = 20
MAX_EVENTS_PER_DRAIN = 2000  # bounds one drain's work, so a flood of events cannot freeze the UI
JOIN_TIMEOUT_S = 10.0


def worker_threads() -> int:
    """The most torch threads a training run may use: all cores but one (the GUI's), at least
    one. Within it the trainer picks by the network's size (``threads="auto"``)."""
    import torch

    return max(1, min(torch.get_num_threads(), (os.cpu_count() or 1) - 1))


@dataclass
class RunResult:
    """How a run ended: ``summary`` from the trainer, or ``error`` (one line) when it failed."""

    summary: RunSummary | None = None
    error: str | None = None
    stopped: bool = False  # ended by a stop request (the summary covers the epochs done)
    seconds: float = 0.0  # wall time the run was active (pauses excluded)

    @property
    def ok(self) -> bool:
        """True when the run ended without an error."""
        return self.error is None


@dataclass
class _Ended:
    summary: RunSummary


@dataclass
class _Failed:
    message: str


_DONE = object()  # the worker's last item: the thread is about to exit


class _BufferCallback(Callback):
    """The trainer's side of the bridge: append every event to the deque and return at once."""

    def __init__(self, sink: deque) -> None:
        self.sink = sink
        self.failed = False

    def on_train_start(self, event) -> None:
        self.sink.append(event)

    def on_batch_end(self, event) -> None:
        self.sink.append(event)

    def on_epoch_end(self, event) -> None:
        self.sink.append(event)

    def on_train_end(self, summary: RunSummary) -> None:
        self.sink.append(_Ended(summary))

    def on_exception(self, error: BaseException) -> None:
        self.failed = True
        self.sink.append(_Failed(first_line(error)))


@dataclass
class _Run:
    trainer: Trainer
    thread: threading.Thread
    config: TrainConfig
    started: float = field(default_factory=time.perf_counter)
    paused_at: float | None = None
    paused_s: float = 0.0
    summary: RunSummary | None = None
    error: str | None = None
    stop_requested: bool = False


class TrainingRunner(QObject):
    """Owns at most one training run at a time; lives on (and signals to) the GUI thread.

    States: ``idle`` → ``running`` ⇄ ``paused`` → ``stopping`` → ``idle``. :meth:`shutdown`
    stops the worker and waits for it a bounded time: the window calls it on close with no wait
    at all (it only asks), the application's exit path with what is left of its exit budget.
    The warm-up (a :class:`~gui.workers.BackgroundCall` left out of the exit join) and the
    training run run in daemon threads: one that is still busy (an import of torch cannot be
    interrupted) never holds the process.
    """

    eventsReady = Signal(object)  # list of TrainStartEvent | BatchEvent | EpochEvent, in order
    stateChanged = Signal(str)
    finished = Signal(object)  # RunResult

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        drain_hz: int = DRAIN_HZ,
        max_events_per_drain: int = MAX_EVENTS_PER_DRAIN,
        threads: int | None = None,
    ) -> None:
        super().__init__(parent)
        self.buffer: deque = deque()
        self.max_events_per_drain = max_events_per_drain
        self.threads = threads
        self._run: _Run | None = None
        self._warm: BackgroundCall | None = None
        self._state = "idle"
        self._timer = QTimer(self)
        self._timer.setInterval(max(1, round(1000 / drain_hz)))
        self._timer.timeout.connect(self.drain)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)  # only asks: the exit path waits (bounded)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``idle``, ``running``, ``paused`` or ``stopping``."""
        return self._state

    @property
    def is_active(self) -> bool:
        """True from :meth:`start` until :attr:`finished` was emitted."""
        return self._run is not None

    @property
    def config(self) -> TrainConfig | None:
        """The validated settings of the current run."""
        return self._run.config if self._run is not None else None

    def active_seconds(self) -> float:
        """Wall time of the current run so far, pauses excluded (0 when idle)."""
        run = self._run
        if run is None:
            return 0.0
        now = run.paused_at if run.paused_at is not None else time.perf_counter()
        return now - run.started - run.paused_s

    # -- control ---------------------------------------------------------------------------------

    def start(
        self,
        design: Design,
        *,
        base_dir: str | Path | None = None,
        out_dir: str | Path | None = None,
        data: PreparedData | None = None,
        overrides: dict[str, Any] | None = None,
        resume: str | Path | None = None,
        init_from: str | Path | None = None,
    ) -> TrainConfig:
        """Train a snapshot of ``design`` in a worker thread; returns the validated settings.

        ``resume`` (a checkpoint path) continues that run exactly: the epochs setting is the total.
        ``init_from`` (a checkpoint path) starts a new run from its weights (fine-tuning,
        :mod:`engine.training.init_from`); a checkpoint whose weights do not fit raises here.

        Invalid settings raise :class:`TrainingError` here, before anything starts; failures
        during the run arrive as :attr:`finished` with ``error`` set.
        """
        if self._run is not None:
            raise TrainingError("a training run is already active: stop it first")
        from engine.training.trainer import Trainer  # imports torch (loaded ahead: torch_loader)

        snapshot = design.copy()
        config = TrainConfig.from_design(snapshot, overrides)
        self.buffer.clear()
        bridge = _BufferCallback(self.buffer)
        kind: type[Trainer] = Trainer
        extra: dict[str, Any] = {}
        if init_from is not None:
            from engine.training.init_from import InitFromTrainer

            kind, extra = InitFromTrainer, {"init_from": Path(init_from)}
        trainer = kind(
            snapshot,
            config,
            callbacks=[bridge],
            base_dir=base_dir,
            data=data,
            out_dir=out_dir,
            resume=resume,
            threads=self.threads or "auto",  # as main.py train: one thread for a small network
            **extra,
        )
        attach_tensorboard(trainer)  # training.tensorboard: event files in the run folder
        threads = self.threads or worker_threads()  # the cap "auto" picks within
        thread = threading.Thread(
            target=self._work,
            args=(trainer, bridge, threads),
            name="deepwire-training",
            daemon=True,
        )
        self._run = _Run(trainer, thread, config)
        gc_guard.hold(self)  # the trainer allocates a lot: cycles are collected on this thread only
        gc_guard.freeze()  # … and those collections walk only what the run creates
        thread.start()
        self._timer.start()
        self._set_state("running")
        return config

    def warm_up(self) -> None:
        """Pay the first run's one-time costs now, in the background: importing scikit-learn's
        data modules and torch's optimizer machinery takes seconds the first time (measured
        ~5 s here), which would otherwise sit between the first Train click and the first
        batch."""
        if self._warm is None:
            # not joined at exit, and its thread is a daemon: closing never waits for an import
            self._warm = BackgroundCall(
                _warm_up, parent=self, name="deepwire-warm-up", join_at_exit=False
            )
            self._warm.start()

    def wait_warm_up(self, timeout: float) -> bool:
        """Wait for the warm-up (tests, benchmarks); True when it has ended or never started.
        Nothing else waits for it: closing must not wait for an import to finish."""
        return self._warm.wait(timeout) if self._warm is not None else True

    @Slot()
    def stop(self) -> None:
        """Ask the run to stop before its next batch (a paused run stops too)."""
        run = self._run
        if run is None or run.stop_requested:
            return
        run.stop_requested = True
        self._end_pause(run)
        run.trainer.request_stop()
        self._set_state("stopping")

    @Slot()
    def pause(self) -> None:
        """Hold the run before its next batch."""
        run = self._run
        if run is None or run.stop_requested or run.paused_at is not None:
            return
        run.trainer.pause()
        run.paused_at = time.perf_counter()
        self._set_state("paused")

    @Slot()
    def resume(self) -> None:
        """Continue a paused run."""
        run = self._run
        if run is None or run.stop_requested or run.paused_at is None:
            return
        self._end_pause(run)
        run.trainer.resume()
        self._set_state("running")

    @Slot()
    def toggle_pause(self) -> None:
        """Pause a running run, resume a paused one."""
        if self._state == "paused":
            self.resume()
        else:
            self.pause()

    @Slot()
    def shutdown(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Stop the run and wait for its thread (at most ``timeout`` s, 0: only ask); True when
        it ended. A stopped run writes its summary and keeps its last checkpoint; one stopped
        while its data loads ends within one chunk of the file.

        Events still buffered are dropped and :attr:`finished` is not emitted: whoever shuts
        down is going away. The warm-up is not waited for (see :meth:`wait_warm_up`).
        """
        run = self._run
        self._timer.stop()
        if run is None:
            return True
        run.stop_requested = True
        run.trainer.request_stop()
        if timeout > 0:
            run.thread.join(timeout)
        if run.thread.is_alive():
            return False
        gc_guard.release(id(self))
        gc_guard.thaw()
        self._run = None
        self.buffer.clear()
        self._set_state("idle")
        return True

    # -- the GUI side of the bridge ----------------------------------------------------------------

    @Slot()
    def drain(self) -> None:
        """Move what the worker buffered to the GUI: one :attr:`eventsReady` per call."""
        events: list[Any] = []
        done = False
        run = self._run
        buf = self.buffer
        limit = self.max_events_per_drain
        while buf and len(events) < limit:
            item = buf.popleft()
            if item is _DONE:
                done = True
                break
            if isinstance(item, _Ended):
                if run is not None:
                    run.summary = item.summary
            elif isinstance(item, _Failed):
                if run is not None:
                    run.error = item.message
            else:
                events.append(item)
        if events:
            self.eventsReady.emit(events)
        if done and run is not None:
            self._finish(run)

    def _finish(self, run: _Run) -> None:
        run.thread.join(JOIN_TIMEOUT_S)  # it appended _DONE as its very last act
        self._timer.stop()
        self._end_pause(run)
        seconds = time.perf_counter() - run.started - run.paused_s
        stopped = run.stop_requested or bool(run.summary and run.summary.stopped)
        if run.error is None and run.summary is None:
            run.error = "training ended without a result (see the terminal for details)"
        result = RunResult(run.summary, run.error, stopped, seconds)
        gc_guard.release(id(self))
        gc_guard.thaw()
        self._run = None
        self._set_state("idle")
        self.finished.emit(result)

    @staticmethod
    def _end_pause(run: _Run) -> None:
        if run.paused_at is not None:
            run.paused_s += time.perf_counter() - run.paused_at
            run.paused_at = None

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    # -- the worker thread -------------------------------------------------------------------------

    @staticmethod
    def _work(trainer: Trainer, bridge: _BufferCallback, threads: int) -> None:
        """Runs in the worker thread: fit, report any failure, always end with ``_DONE``."""
        import torch

        previous = torch.get_num_threads()
        try:
            torch.set_num_threads(threads)
            trainer.fit()
        except BaseException as exc:  # noqa: BLE001 - the GUI must hear of every failure
            if not bridge.failed:  # fit reports its own failures through on_exception
                bridge.sink.append(_Failed(first_line(exc)))
        finally:
            torch.set_num_threads(previous)
            bridge.sink.append(_DONE)


def _warm_up() -> None:
    """Import what the first run would import (see :meth:`TrainingRunner.warm_up`)."""
    try:
        import sklearn.datasets  # noqa: F401
        import sklearn.impute  # noqa: F401
        import sklearn.model_selection  # noqa: F401
        import sklearn.preprocessing  # noqa: F401
        import torch

        torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])
    except Exception:  # noqa: BLE001 - only an optimisation; the run reports real failures
        pass
