"""Training in a warm child process: the window's trainer without the window's interpreter lock.

::

    worker = TrainingProcess()          # spawns the child ("spawn": a Qt process is never forked)
    worker.start()                      # the child imports torch and the engine, then says "ready"
    worker.wait_ready(60)               # (or ask worker.ready now and then: it never blocks)
    worker.submit(Job(dumps(design), config, out_dir="runs/x"))
    for kind, value in worker.receive():    # non-blocking; call it a few times a second
        ...                             # ("events", [TrainStartEvent | BatchEvent | EpochEvent])
                                        # ("end", RunSummary) ("failed", "one line") ("done", None)
    worker.control("stop")              # or "pause" / "resume": before the trainer's next batch
    worker.close(5.0)                   # quit, join (bounded), then terminate, then kill

The child (:func:`worker_main`) imports only the engine and torch — never Qt — and serves jobs
one after the other, so a run after the first costs no start-up. Each job builds the same
:class:`~engine.training.trainer.Trainer` the thread path builds (run folder, checkpoints,
metrics.jsonl, design snapshot and TensorBoard files written by the child exactly as in-process),
and its events (plain values and numpy arrays) come back over one duplex pipe in batches: at most
one message every :data:`SEND_EVERY_S`, plus one at the start and at each epoch's end — never one
message per training batch. A reader thread in the child takes the control messages (stop, pause,
resume, quit) while the run trains and sets the trainer's cooperative flags, which it reads
before every batch. When the pipe breaks (the parent died) the child stops its run and exits: no
orphan outlives its window.

Prepared data (the window prepares a built-in dataset ahead of Train) is sent with the job —
pickling the digits takes under a millisecond — and kept in the child under a token: the next job
on the same prepared object sends only the token.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.errors import TrainingError, first_line

SEND_EVERY_S = 0.05  # the window drains 20 times a second: one message per drain at most
READY_TIMEOUT_S = 120.0  # how long a child may take to import torch (a loaded 2-core machine)

#: what the child imports before it says "ready" (what a run needs before its first batch)
WARM_MODULES = (
    "torch",
    "engine.compile",
    "engine.training.trainer",
    "engine.training.init_from",
    "engine.training.tensorboard",
    "engine.training.checkpoint",
    "engine.training.run_files",
    "sklearn.datasets",
    "sklearn.impute",
    "sklearn.model_selection",
    "sklearn.preprocessing",
)


@dataclass
class Job:
    """One training run for the child: what :class:`~engine.training.trainer.Trainer` needs."""

    design_json: str  # engine.io.dumps of the snapshot taken at Train
    config: Any  # the validated TrainConfig
    base_dir: str | None = None
    out_dir: str | None = None
    resume: str | None = None
    init_from: str | None = None
    data: Any = None  # PreparedData, or None: the child prepares it (or uses its cached copy)
    data_token: str | None = None  # names ``data``; a job with the same token and no data reuses it
    threads: int = 1  # most torch threads for the run; the trainer picks "auto" within


class JobNotSent(TrainingError):
    """The job could not be sent to the child (it cannot be pickled, or the pipe is broken)."""


def exit_text(exitcode: int | None) -> str:
    """How a child ended, in words: ``killed by signal 9``, ``exit code 1``."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


class TrainingProcess:
    """The parent's handle on one warm training child (see the module docstring)."""

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")  # never fork a Qt process
        self._conn: Any = None
        self.process: Any = None
        self._ready = False
        self._broken = False  # the pipe reported EOF or an error

    # -- life --------------------------------------------------------------------------------------
    def start(self) -> None:
        """Spawn the child (returns at once; it imports torch in the background). Raises
        :class:`TrainingError` when no process can be started."""
        parent, child = self._ctx.Pipe(duplex=True)
        process = self._ctx.Process(
            target=worker_main, args=(child,), name="deepwire-train-worker", daemon=True
        )
        try:
            process.start()
        except (OSError, RuntimeError, ValueError) as exc:
            parent.close()
            child.close()
            raise TrainingError(f"cannot start the training process: {first_line(exc)}") from exc
        child.close()  # the child holds its end: EOF here when it dies
        self._conn, self.process = parent, process

    @property
    def pid(self) -> int | None:
        """The child's process id (None before :meth:`start`)."""
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        """True while the child process runs."""
        return self.process is not None and self.process.is_alive()

    @property
    def ready(self) -> bool:
        """True once the child has imported torch and waits for jobs (never blocks)."""
        if not self._ready and self.alive and not self._broken:
            try:
                if self._conn.poll(0):
                    kind, _value = self._conn.recv()
                    self._ready = kind == "ready"
            except (EOFError, OSError):
                self._broken = True
        return self._ready and self.alive

    @property
    def started_up(self) -> bool:
        """True when the child said ready at some point (it may have died since)."""
        return self._ready

    def wait_ready(self, timeout: float = READY_TIMEOUT_S) -> bool:
        """Block until the child is ready (tests, benchmarks); False when it died or timed out."""
        end = time.monotonic() + timeout
        while not self.ready:
            if not self.alive or self._broken or time.monotonic() > end:
                return False
            try:
                self._conn.poll(min(0.1, max(0.0, end - time.monotonic())))
            except (EOFError, OSError):
                self._broken = True
        return True

    def close(self, timeout: float = 5.0) -> bool:
        """Ask the child to quit and wait at most ``timeout`` s (0: only ask); then terminate,
        then kill it. True when the child has ended (and is joined: no zombie)."""
        process = self.process
        if process is None:
            return True
        if process.is_alive() and not self._ready:
            process.terminate()  # still importing torch: it has nothing to finish
            process.join(max(timeout, 2.0))
        if process.is_alive():
            self._send(("quit", None))
            if timeout <= 0:
                return False
            process.join(timeout)
            if process.is_alive():
                process.terminate()
                process.join(2.0)
            if process.is_alive():
                process.kill()
                process.join(2.0)
        else:
            process.join(0.1)
        if process.is_alive():
            return False
        self._conn.close()
        self.process = None
        self._ready = False
        return True

    # -- talking -----------------------------------------------------------------------------------
    def submit(self, job: Job) -> None:
        """Send a job (the child must be :attr:`ready` and idle). Raises :class:`JobNotSent` when
        it cannot be pickled or sent; nothing reaches the child then."""
        from multiprocessing.reduction import ForkingPickler

        try:
            payload = bytes(ForkingPickler.dumps(("job", job)))
        except Exception as exc:  # noqa: BLE001 - pickling raises many kinds
            raise JobNotSent(
                f"the run cannot be sent to the training process: {first_line(exc)}"
            ) from exc
        try:
            self._conn.send_bytes(payload)
        except (OSError, ValueError) as exc:
            self._broken = True
            raise JobNotSent(f"the training process does not answer: {first_line(exc)}") from exc

    def control(self, command: str) -> None:
        """``stop``, ``pause`` or ``resume`` the current run (before its next batch)."""
        self._send((command, None))

    def receive(self) -> list[tuple[str, Any]]:
        """Every message the child sent since the last call, in order; never blocks. When the
        pipe broke it returns what arrived before; :attr:`broken` then says so."""
        got: list[tuple[str, Any]] = []
        if self._conn is None or self._broken:
            return got
        try:
            while self._conn.poll(0):
                item = self._conn.recv()
                if item[0] == "ready":
                    self._ready = True
                else:
                    got.append(item)
        except (EOFError, OSError):
            self._broken = True
        return got

    @property
    def broken(self) -> bool:
        """True when the pipe to the child broke or the child is gone (it crashed or was
        killed)."""
        return self._broken or not self.alive

    def _send(self, message: tuple[str, Any]) -> None:
        if self._conn is None or self._broken:
            return
        try:
            self._conn.send(message)
        except (OSError, ValueError):
            self._broken = True


# -- the child -------------------------------------------------------------------------------------


class _Sender:
    """The trainer's callback in the child: events batched into a message every SEND_EVERY_S."""

    def __init__(self, conn: Any) -> None:
        from engine.training.events import Callback

        sender = self
        self.conn = conn
        self.buffer: list[Any] = []
        self.last = 0.0
        self.failed = False

        class Hooks(Callback):
            def on_train_start(self, event: Any) -> None:
                sender.add(event, flush=True, restart=False)  # the first batch goes at once too

            def on_batch_end(self, event: Any) -> None:
                sender.add(event)

            def on_epoch_end(self, event: Any) -> None:
                sender.add(event, flush=True, restart=False)

            def on_train_end(self, summary: Any) -> None:
                sender.flush()
                sender.conn.send(("end", summary))

            def on_exception(self, error: BaseException) -> None:
                sender.fail(first_line(error))

        self.hooks = Hooks()

    def add(self, event: Any, flush: bool = False, restart: bool = True) -> None:
        """Buffer ``event``; send the buffer when asked or when the last batch went
        :data:`SEND_EVERY_S` ago (``restart``: that interval starts again)."""
        self.buffer.append(event)
        if flush or time.perf_counter() - self.last >= SEND_EVERY_S:
            self.flush(restart)

    def flush(self, restart: bool = True) -> None:
        """Send what is buffered."""
        if self.buffer:
            self.conn.send(("events", self.buffer))
            self.buffer = []
        if restart:
            self.last = time.perf_counter()

    def fail(self, message: str) -> None:
        self.flush()
        self.failed = True
        self.conn.send(("failed", message))


class _Child:
    """The child's state: the job queue the reader thread fills and the run it controls."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self.jobs: queue.Queue = queue.Queue()
        self.lock = threading.Lock()
        self.trainer: Any = None
        self.pending: list[str] = []  # control commands that came before the trainer existed
        self.cached: tuple[str | None, Any] = (None, None)  # (data token, PreparedData)

    def read(self) -> None:
        """The reader thread: jobs to the queue, control straight to the trainer."""
        while True:
            try:
                kind, value = self.conn.recv()
            except (EOFError, OSError):  # the parent is gone: stop and leave
                kind, value = "quit", None
            with self.lock:
                if kind == "job":
                    self.pending = []  # control for an earlier run never reaches this one
                    self.jobs.put(value)
                elif kind in ("stop", "pause", "resume", "quit"):
                    command = "stop" if kind == "quit" else kind
                    if self.trainer is not None:
                        _apply(self.trainer, command)
                    else:
                        self.pending.append(command)
            if kind == "quit":
                self.jobs.put(None)
                return

    def run(self, job: Job) -> None:
        """Train one job; always ends with a ``done`` message."""
        import torch

        sender = _Sender(self.conn)
        previous = torch.get_num_threads()
        try:
            trainer = self._trainer(job, sender)
            with self.lock:
                self.trainer = trainer
                for command in self.pending:
                    _apply(trainer, command)
                self.pending = []
            torch.set_num_threads(max(1, job.threads))
            trainer.fit()
        except BaseException as exc:  # noqa: BLE001 - the window must hear of every failure
            if not sender.failed:  # fit reports its own failures through on_exception
                sender.fail(first_line(exc))
        finally:
            with self.lock:
                self.trainer = None
            torch.set_num_threads(previous)
            sender.flush()
            self.conn.send(("done", None))

    def _trainer(self, job: Job, sender: _Sender) -> Any:
        from engine.io import loads
        from engine.training.tensorboard import attach_tensorboard
        from engine.training.trainer import Trainer

        design = loads(job.design_json)
        data = job.data
        if data is not None and job.data_token is not None:
            self.cached = (job.data_token, data)
        elif data is None and job.data_token is not None and job.data_token == self.cached[0]:
            data = self.cached[1]
        kind: Any = Trainer
        extra: dict[str, Any] = {}
        if job.init_from is not None:
            from engine.training.init_from import InitFromTrainer

            kind, extra = InitFromTrainer, {"init_from": Path(job.init_from)}
        trainer = kind(
            design,
            job.config,
            callbacks=[sender.hooks],
            base_dir=job.base_dir,
            data=data,
            out_dir=job.out_dir,
            resume=job.resume,
            threads="auto",  # as main.py train, within job.threads
            **extra,
        )
        attach_tensorboard(trainer)
        return trainer


def _apply(trainer: Any, command: str) -> None:
    if command == "stop":
        trainer.request_stop()
    elif command == "pause":
        trainer.pause()
    elif command == "resume":
        trainer.resume()


def worker_main(conn: Any) -> None:
    """The child process: import torch and the engine, say ``ready``, serve jobs until ``quit``
    or until the parent goes away."""
    import importlib
    import signal

    # Ctrl+C in the terminal reaches the whole process group: the window closes itself and
    # stops this child through the pipe, so the child does not die half-way through a write
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:  # scikit-learn is optional; a run reports what it misses
            if name == "torch":
                raise
    try:
        import torch

        # one step through autograd and the optimizer: their lazy set-up is not the first batch's
        weight = torch.nn.Parameter(torch.zeros(1))
        optimizer = torch.optim.Adam([weight])
        (weight * 2.0).sum().backward()
        optimizer.step()
        conn.send(("ready", os.getpid()))
    except (EOFError, OSError):
        return
    child = _Child(conn)
    reader = threading.Thread(target=child.read, name="deepwire-train-control", daemon=True)
    reader.start()
    while True:
        job = child.jobs.get()
        if job is None:
            break
        try:
            child.run(job)
        except (EOFError, OSError):  # the parent is gone mid-run
            break
