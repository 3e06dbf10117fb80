"""A run's folder: its name, and the files the trainer writes into it (:class:`RunFiles`).

:func:`new_run_folder` names the folder of a new run the same way for ``main.py train`` and the
editor's Train: ``<stem>-YYYYmmdd-HHMMSS``, with ``-2``, ``-3`` … appended when a folder of that
name exists already (two runs started within one second never share a folder).

Checkpoints are written without stalling training: the trainer hands :class:`RunFiles` a copy of
each finished epoch's state, and a background thread (:class:`CheckpointWriter`) serializes it and
writes it with :func:`engine.files.atomic_write_bytes`. ``last.pt`` is written after the first
epoch, then at most every :data:`SAVE_EVERY_S` seconds, and always at the end of the run (done,
stopped, early stopped or failed). A kill at any moment leaves the previous ``last.pt`` intact and
loadable, because a new one replaces it only once it is complete on disk. ``best.pt`` is the copy
taken at the best epoch, written alongside ``last.pt``.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

from engine.training.checkpoint import Checkpoint, save_checkpoints
from engine.training.summary import RunSummary

#: The time stamp in a run folder's name (local time).
RUN_STAMP = "%Y%m%d-%H%M%S"
_now = time.time  # tests pin the clock here
#: One JSON object per finished epoch.
METRICS_FILE = "metrics.jsonl"
#: ``last.pt`` (and a pending ``best.pt``) are written at most this often, in seconds, besides
#: after the first epoch and at the end of the run.
SAVE_EVERY_S = 30.0


def new_run_folder(runs_dir: str | Path, stem: str, when: float | None = None) -> Path:
    """A folder under ``runs_dir`` for a new run of the design named ``stem``, started at
    ``when`` (seconds since the epoch; now when None): ``<stem>-<date>-<time>[-N]``, the first
    such name not taken. The folder is not created."""
    runs_dir = Path(runs_dir)
    stamp = time.strftime(RUN_STAMP, time.localtime(_now() if when is None else when))
    base = f"{stem}-{stamp}"
    folder, n = runs_dir / base, 2
    while folder.exists():
        folder, n = runs_dir / f"{base}-{n}", n + 1
    return folder


def read_metrics(path: str | Path) -> list[dict[str, Any]]:
    """The epochs of a ``metrics.jsonl``. A line that is not a complete JSON object (the last
    line of a run killed while appending it) is skipped, so a reader never fails on it."""
    records = []
    with open(path, encoding="utf-8", errors="replace") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break  # cut off mid-write
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
    return records


class CheckpointWriter:
    """Writes checkpoints on one background thread, so saving never stalls training.

    :meth:`submit` queues a checkpoint for a path and returns at once; a newer checkpoint for the
    same path replaces one still waiting (only the newest matters); one checkpoint queued for two
    paths (``best.pt`` and ``last.pt`` of the same epoch) is serialized once and written to disk
    once (:func:`~engine.training.checkpoint.save_checkpoints`: the second name is a hard link).
    Every file is written atomically. :meth:`wait` blocks until everything queued is on disk and
    raises the first write failure (an :class:`OSError`, e.g. a full disk); :meth:`submit` raises
    it too, so a run whose files cannot be written stops at its next save instead of training on.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: dict[Path, Checkpoint] = {}
        self._busy = False
        self._closed = False
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        #: path → epoch of the checkpoint last written there
        self.written: dict[Path, int] = {}

    def submit(self, path: Path, ckpt: Checkpoint) -> None:
        """Queue ``ckpt`` for ``path``. The checkpoint must not change afterwards."""
        self.submit_all([(path, ckpt)])

    def submit_all(self, items: list[tuple[Path, Checkpoint]]) -> None:
        """Queue several ``(path, checkpoint)`` at once: the writer sees them together, so one
        checkpoint for two paths is serialized once (never half-queued when the writer wakes)."""
        with self._cond:
            self._raise_error()
            for path, ckpt in items:
                self._pending.pop(path, None)  # keep the order of submission
                self._pending[path] = ckpt
            if self._thread is None or not self._thread.is_alive():
                self._closed = False
                self._thread = threading.Thread(
                    target=self._work, name="deepwire-checkpoints", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()

    def wait(self) -> None:
        """Block until every queued checkpoint is written; raise the first failure."""
        with self._cond:
            while self._pending or self._busy:
                if self._thread is None or not self._thread.is_alive():
                    break
                self._cond.wait(0.5)
            self._raise_error()

    def close(self) -> None:
        """Finish what is queued, then stop the thread (failures are left to :meth:`wait`)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._pending.clear()
            raise error

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait()
                if not self._pending:
                    return
                path = next(iter(self._pending))
                ckpt = self._pending.pop(path)
                # the same checkpoint queued for other paths too: written with this one
                paths = [path] + [p for p, other in self._pending.items() if other is ckpt]
                for other_path in paths[1:]:
                    del self._pending[other_path]
                self._busy = True
            try:
                save_checkpoints(paths, ckpt)
            except BaseException as exc:  # noqa: BLE001 - handed to the training thread
                with self._cond:
                    if self._error is None:
                        self._error = exc
            else:
                with self._cond:
                    for written in paths:
                        self.written[written] = int(ckpt.epoch)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()


class RunFiles:
    """The files of one run in ``out_dir`` (None: a run that writes nothing): ``metrics.jsonl``
    (one line per epoch, appended as each epoch ends), ``last.pt`` and ``best.pt`` (written in
    the background: after the first epoch, then at most every ``save_every_s`` seconds, and by
    :meth:`finish`), and ``summary.json`` at the end. Only the main process of a distributed
    run writes."""

    def __init__(self, out_dir: str | Path | None, save_every_s: float = SAVE_EVERY_S) -> None:
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.save_every_s = save_every_s
        self.started = False  # a run refused before it started leaves an old folder alone
        self.writer = CheckpointWriter()
        self._last: Checkpoint | None = None  # newest epoch, not yet handed to the writer
        self._best: Checkpoint | None = None  # newest best epoch, not yet handed to the writer
        self._saved_at: float | None = None  # when checkpoints were last handed to the writer

    @property
    def metrics_file(self) -> Path | None:
        """The run's metrics.jsonl (one line per epoch); None without a run folder."""
        return self.out_dir / METRICS_FILE if self.out_dir is not None else None

    def checkpoint(self, kind: str) -> Path | None:
        """The path of ``best`` or ``last`` checkpoint (None without a folder)."""
        return self.out_dir / f"{kind}.pt" if self.out_dir is not None else None

    @property
    def last_saved_epoch(self) -> int | None:
        """The epoch of the ``last.pt`` this run has written (None: none yet)."""
        path = self.checkpoint("last")
        return self.writer.written.get(path) if path is not None else None

    def start(self, history: list[dict[str, Any]], design: Any = None, config: Any = None) -> None:
        """Begin the run's files: metrics.jsonl holds the epochs of ``history`` (a resumed run's
        earlier epochs); with ``design``, also its snapshot and the start file (engine.runs)."""
        self.started = True
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out_dir / METRICS_FILE, "w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(record) + "\n" for record in history)
        if design is not None:
            from engine.runs import write_start_files

            write_start_files(self.out_dir, design, config)

    def write_epoch(
        self, record: dict[str, Any], last: Checkpoint, best: Checkpoint | None
    ) -> None:
        """Append an epoch's metrics line and take its checkpoints (``best`` when it was the
        best epoch); they are written when a save is due (see the class). The checkpoints must
        be copies that do not change afterwards."""
        if self.out_dir is None:
            return
        with open(self.out_dir / METRICS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")  # one write: a kill cuts at most this line
        self._last = last
        if best is not None:
            self._best = best
        now = time.monotonic()
        if self._saved_at is None or now - self._saved_at >= self.save_every_s:
            self.save()

    def save(self) -> None:
        """Hand the newest checkpoints to the background writer now."""
        if self.out_dir is None:
            return
        best, last = self._best, self._last
        if (
            best is not None
            and last is not None
            and last.epoch == best.epoch
            and last.trainer_state.get("best_state_dicts") is None
        ):
            last = best  # the best epoch is the newest: the same state, serialized once
        queued = [(self.out_dir / "best.pt", best), (self.out_dir / "last.pt", last)]
        self.writer.submit_all([(path, ckpt) for path, ckpt in queued if ckpt is not None])
        self._best = self._last = None
        self._saved_at = time.monotonic()

    def finish(self) -> None:
        """Write the newest checkpoints and wait until every checkpoint is on disk; raises the
        first write failure (:class:`OSError`)."""
        self.save()
        self.writer.wait()

    def close(self) -> None:
        """Stop the background writer (after what it was given is written)."""
        self.writer.close()

    def write_summary(self, summary: RunSummary) -> None:
        """Write summary.json; a failure to write it is ignored, so it never hides the run's own
        result or error."""
        if self.out_dir is None:
            return
        try:
            summary.write(self.out_dir)
        except OSError:
            pass
