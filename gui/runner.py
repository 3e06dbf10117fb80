"""Runs the engine's :class:`~engine.training.Trainer` off the GUI thread and streams its events.

::

    runner = TrainingRunner(parent)
    runner.eventsReady.connect(plots.add_events)     # one list of events per drain, GUI thread
    runner.finished.connect(panel.on_finished)       # a RunResult: summary, error or stop
    runner.start(document.design)                    # snapshot taken here, on the GUI thread

The trainer runs on a deep copy of the design, so edits made while it trains change the next
run, not this one, in one of two places (``where``, from ``DEEPWIRE_TRAIN_IN=thread|process``,
default :data:`DEFAULT_TRAIN_IN`):

* **process** — a warm child process (:mod:`engine.training.worker_process`): spawned (never
  forked: this is a Qt process) by :meth:`TrainingRunner.warm_up` once torch has loaded here, it
  imports torch and the engine (never Qt) and waits for jobs. Train sends it a job (the design's
  JSON, the validated settings, the run folder, resume / init-from, the prepared data once: later
  runs on the same prepared object send a token); the child trains with the same
  :class:`~engine.training.Trainer` and writes the same run files, and sends its events back in
  batches (one message per 50 ms at most, and at each epoch's end). Stop, pause and resume go to
  the child over the same pipe and reach the trainer before its next batch. After a run the same
  child waits for the next. A child that dies mid-run ends the run with one line naming how
  (``killed by signal 9``) and a fresh child is spawned; one that cannot start, or a run that
  cannot be pickled, trains in a thread instead, said once on the status bar. :meth:`shutdown`
  stops the run and closes the child (asked to quit, joined, then terminated and killed: no
  zombie, no orphan; a child whose parent vanished stops by itself when the pipe breaks).
* **thread** — a worker thread in this process. Used when the process path is not chosen, while
  the child is still starting (a Train click within seconds of opening the window) and for the
  fallbacks above. Its callbacks only append events to a :class:`collections.deque`.

Either way a :class:`~PySide6.QtCore.QTimer` on the GUI thread drains what arrived ``DRAIN_HZ``
times a second and emits :attr:`TrainingRunner.eventsReady` once per drain with everything that
arrived — never one signal per training batch — and :attr:`TrainingRunner.finished` once at the
end, so panels and plots do not know which path trained.

Why a process by default: with the Plots dock painted, the GUI thread (painting, event draining)
and a trainer thread share one interpreter lock; a small network's many short ops then wait for
the lock at every step, and the GUI thread waits for them (docs/benchmarks.md, "Window
training", bench/bench_window_train.py). In its own process the trainer has its own lock. The
earlier objection — a child's first batch tens of seconds late because it was spawned cold at
Train — is gone with the child spawned warm ahead of Train. A run picks its torch threads by the
rule ``main.py train`` uses (``threads="auto"``, :func:`engine.training.devices.pick_threads`),
capped at :func:`worker_threads` (all cores but one: the GUI thread keeps its core).
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
from engine.io import dumps
from engine.training.config import TrainConfig
from engine.training.events import Callback
from engine.training.summary import RunSummary
from engine.training.tensorboard import attach_tensorboard
from engine.training.worker_process import Job, JobNotSent, TrainingProcess, exit_text
from gui import gc_guard
from gui.workers import BackgroundCall

if TYPE_CHECKING:  # the trainer imports torch: gui/torch_loader.py loads it in the background
    from engine.training.trainer import Trainer

DRAIN_HZ = 20
TRAIN_IN_ENV = "DEEPWIRE_TRAIN_IN"  # "thread" or "process": where the window's runs train
DEFAULT_TRAIN_IN = "process"  # measured: see the module docstring
MAX_EVENTS_PER_DRAIN = 2000  # bounds one drain's work, so a flood of events cannot freeze the UI
JOIN_TIMEOUT_S = 10.0


def train_in() -> str:
    """Where the window trains: ``DEEPWIRE_TRAIN_IN`` (``thread`` or ``process``), else
    :data:`DEFAULT_TRAIN_IN`."""
    value = os.environ.get(TRAIN_IN_ENV, "").strip().lower()
    return value if value in ("thread", "process") else DEFAULT_TRAIN_IN


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
    trainer: Trainer | None  # the thread path's trainer (None: it trains in the worker process)
    thread: threading.Thread | None
    config: TrainConfig
    worker: TrainingProcess | None = None  # the process path's child
    done: bool = False  # the child said this run is over (or died)
    crashed: bool = False
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
    notice = Signal(str)  # one line for the status bar: the process path fell back to the thread

    def __init__(
        self,
        parent: QObject | None = None,
        *,
        drain_hz: int = DRAIN_HZ,
        max_events_per_drain: int = MAX_EVENTS_PER_DRAIN,
        threads: int | None = None,
        where: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.buffer: deque = deque()
        self.max_events_per_drain = max_events_per_drain
        self.threads = threads
        self.where = where or train_in()  # "process": in the warm worker once it is ready
        self.worker: TrainingProcess | None = None  # started by warm_up (after torch loaded)
        self._worker_failed: str | None = None  # why no worker process: thread path for good
        self._worker_data: tuple[str, Any] | None = None  # (token, PreparedData) the child has
        self._tokens = 0
        self._closed = False
        self._closing: list[TrainingProcess] = []  # asked to quit, not joined yet
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
        snapshot = design.copy()
        config = TrainConfig.from_design(snapshot, overrides)
        self.buffer.clear()
        paths = {
            "base_dir": base_dir,
            "out_dir": out_dir,
            "resume": resume,
            "init_from": init_from,
        }
        worker = self._usable_worker()
        if worker is None or not self._start_in_worker(worker, snapshot, config, data, paths):
            self._start_in_thread(snapshot, config, data, paths)
        self._timer.start()
        self._set_state("running")
        return config

    def _start_in_worker(
        self,
        worker: Any,
        snapshot: Design,
        config: TrainConfig,
        data: PreparedData | None,
        paths: dict[str, str | Path | None],
    ) -> bool:
        """Send the run to the warm training process; False (said once) when it cannot go."""
        job = Job(
            dumps(snapshot),
            config,
            **{key: None if value is None else str(value) for key, value in paths.items()},
            threads=self.threads or worker_threads(),
        )
        if data is not None and self._worker_data is not None and data is self._worker_data[1]:
            job.data_token = self._worker_data[0]  # the child has it: send the token only
        elif data is not None:
            self._tokens += 1
            job.data, job.data_token = data, f"data-{self._tokens}"
        try:
            worker.submit(job)
        except JobNotSent as exc:
            self._say(f"Training in the window's process: {exc}")
            return False
        if job.data is not None:
            self._worker_data = (job.data_token, data)
        self._run = _Run(None, None, config, worker=worker)
        return True

    def _start_in_thread(
        self,
        snapshot: Design,
        config: TrainConfig,
        data: PreparedData | None,
        paths: dict[str, str | Path | None],
    ) -> None:
        """Train in a worker thread of this process (the fallback, or ``DEEPWIRE_TRAIN_IN``)."""
        from engine.training.trainer import Trainer  # imports torch (loaded ahead: torch_loader)

        bridge = _BufferCallback(self.buffer)
        kind: type[Trainer] = Trainer
        extra: dict[str, Any] = {}
        if paths["init_from"] is not None:
            from engine.training.init_from import InitFromTrainer

            kind, extra = InitFromTrainer, {"init_from": Path(paths["init_from"])}
        trainer = kind(
            snapshot,
            config,
            callbacks=[bridge],
            base_dir=paths["base_dir"],
            data=data,
            out_dir=paths["out_dir"],
            resume=paths["resume"],
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

    def warm_up(self) -> None:
        """Pay the first run's one-time costs now, in the background: importing scikit-learn's
        data modules and torch's optimizer machinery takes seconds the first time (measured
        ~5 s here), which would otherwise sit between the first Train click and the first
        batch. On the process path also spawn the training process once torch has loaded here
        (two imports of torch at once would slow both)."""
        if self.where == "process":
            from gui.torch_loader import torch_loader

            loader = torch_loader()
            if loader.is_ready():
                self.start_worker()
            else:
                loader.ready.connect(self.start_worker)
        if self._warm is None:
            # not joined at exit, and its thread is a daemon: closing never waits for an import
            self._warm = BackgroundCall(
                _warm_up, parent=self, name="deepwire-warm-up", join_at_exit=False
            )
            self._warm.start()

    @Slot()
    def start_worker(self) -> None:
        """Spawn the warm training process (once; again after one died): it imports torch and
        the engine and waits for a run. One that cannot start leaves the thread path for good,
        said once in the status bar."""
        if self.worker is not None or self._closed or self._worker_failed is not None:
            return
        worker = TrainingProcess()
        try:
            worker.start()
        except TrainingError as exc:
            self._fail_worker(str(exc))
            return
        self.worker = worker
        self._worker_data = None

    def wait_worker(self, timeout: float) -> bool:
        """Block until the training process is ready (tests, benchmarks); True when it is."""
        return self.worker is not None and self.worker.wait_ready(timeout)

    def worker_settled(self) -> bool:
        """True when the next run's path is settled: the training process is ready, or this
        runner will train in a thread (not asked for, closed, or the process could not start)."""
        if self.where != "process" or self._closed or self._worker_failed is not None:
            return True
        return self.worker is not None and (self.worker.ready or not self.worker.alive)

    def _usable_worker(self) -> TrainingProcess | None:
        """The ready worker a run should use, or None: the thread path (not asked for, still
        starting, or it could not start)."""
        worker = self.worker
        if self.where != "process" or worker is None:
            return None
        if worker.ready:
            return worker
        if worker.alive and not worker.broken:
            return None  # still importing torch: this run trains in a thread
        code = exit_text(worker.process.exitcode if worker.process is not None else None)
        self._drop_worker()
        if worker.started_up:  # it died while idle: a fresh one for the next run
            self.start_worker()
        else:
            self._fail_worker(f"the training process could not start ({code})")
        return None

    def _fail_worker(self, why: str) -> None:
        self._worker_failed = why
        self._say(f"Training in the window's process: {why}")

    def _say(self, line: str) -> None:
        import sys

        print(f"deepwire: {line}", file=sys.stderr, flush=True)
        self.notice.emit(line)

    def _drop_worker(self, timeout: float = 2.0) -> bool:
        """Close the worker (quit; join, terminate, kill within ``timeout`` s; 0: only ask)
        and any closed before that had not ended; True when none is left (all joined)."""
        if self.worker is not None:
            self._closing.append(self.worker)
        self.worker = None
        self._worker_data = None
        self._closing = [w for w in self._closing if not w.close(timeout)]
        return not self._closing

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
        self._control(run, "stop")
        self._set_state("stopping")

    @Slot()
    def pause(self) -> None:
        """Hold the run before its next batch."""
        run = self._run
        if run is None or run.stop_requested or run.paused_at is not None:
            return
        self._control(run, "pause")
        run.paused_at = time.perf_counter()
        self._set_state("paused")

    @Slot()
    def resume(self) -> None:
        """Continue a paused run."""
        run = self._run
        if run is None or run.stop_requested or run.paused_at is None:
            return
        self._end_pause(run)
        self._control(run, "resume")
        self._set_state("running")

    @staticmethod
    def _control(run: _Run, command: str) -> None:
        if run.worker is not None:
            run.worker.control(command)
        elif command == "stop":
            run.trainer.request_stop()
        elif command == "pause":
            run.trainer.pause()
        else:
            run.trainer.resume()

    @Slot()
    def toggle_pause(self) -> None:
        """Pause a running run, resume a paused one."""
        if self._state == "paused":
            self.resume()
        else:
            self.pause()

    @Slot()
    def shutdown(self, timeout: float = JOIN_TIMEOUT_S, keep_worker: bool = False) -> bool:
        """Stop the run and wait for its thread or process (at most ``timeout`` s, 0: only
        ask); True when it ended. A stopped run writes its summary and keeps its last
        checkpoint; one stopped while its data loads ends within one chunk of the file. The
        training process is closed too (asked to quit, joined, terminated after ``timeout``)
        unless ``keep_worker`` (another design opened: the next run uses it).

        Events still buffered are dropped and :attr:`finished` is not emitted: whoever shuts
        down is going away. The warm-up is not waited for (see :meth:`wait_warm_up`).
        """
        run = self._run
        self._timer.stop()
        if not keep_worker:
            self._closed = True  # no new worker after this
        if run is None:
            return self._drop_worker(timeout) if not keep_worker else True
        run.stop_requested = True
        self._control(run, "stop")
        if run.worker is not None:
            if not self._wait_done(run, timeout) and timeout <= 0:
                if not keep_worker:
                    run.worker.control("quit")
                return False
            if not run.done or not keep_worker:  # a child that does not stop in time goes
                if not self._drop_worker(min(timeout, 1.0) if not run.done else timeout):
                    return False
                if keep_worker:
                    self.start_worker()
        else:
            if timeout > 0:
                run.thread.join(timeout)
            if run.thread.is_alive():
                if not keep_worker:
                    self._drop_worker(0)
                return False
            gc_guard.release(id(self))
            gc_guard.thaw()
            if not keep_worker:
                self._drop_worker(timeout)
        self._run = None
        self.buffer.clear()
        self._set_state("idle")
        return True

    def _wait_done(self, run: _Run, timeout: float) -> bool:
        """Read the child's messages (dropped) until it says the run is done; True when it did."""
        end = time.monotonic() + max(0.0, timeout)
        while True:
            self._pump(run)
            if run.done:
                return True
            if time.monotonic() >= end:
                return False
            time.sleep(0.02)

    def _pump(self, run: _Run) -> None:
        """Move what the child sent into the buffer; a child that died ends the run with an
        error naming how it ended."""
        worker = run.worker
        if worker is None or run.done:
            return
        for _attempt in range(2):
            for kind, value in worker.receive():
                if kind == "events":
                    self.buffer.extend(value)
                elif kind == "end":
                    self.buffer.append(_Ended(value))
                elif kind == "failed":
                    self.buffer.append(_Failed(value))
                elif kind == "done":
                    self.buffer.append(_DONE)
                    run.done = True
                    return
            if not worker.broken:
                return
            # gone: read once more (it may have written its last words just before)
        code = exit_text(worker.process.exitcode if worker.process is not None else None)
        self.buffer.append(
            _Failed(
                f"the training process ended unexpectedly ({code}): the run folder keeps "
                "the checkpoints written so far"
            )
        )
        self.buffer.append(_DONE)
        run.done = run.crashed = True

    # -- the GUI side of the bridge ----------------------------------------------------------------

    @Slot()
    def drain(self) -> None:
        """Move what the worker buffered to the GUI: one :attr:`eventsReady` per call."""
        events: list[Any] = []
        done = False
        run = self._run
        if run is not None and run.worker is not None:
            self._pump(run)
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
        if run.thread is not None:
            run.thread.join(JOIN_TIMEOUT_S)  # it appended _DONE as its very last act
        self._timer.stop()
        self._end_pause(run)
        seconds = time.perf_counter() - run.started - run.paused_s
        stopped = run.stop_requested or bool(run.summary and run.summary.stopped)
        if run.error is None and run.summary is None:
            run.error = "training ended without a result (see the terminal for details)"
        result = RunResult(run.summary, run.error, stopped, seconds)
        if run.worker is None:
            gc_guard.release(id(self))
            gc_guard.thaw()
        elif run.crashed:  # a fresh worker for the next run
            self._drop_worker()
            self.start_worker()
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
