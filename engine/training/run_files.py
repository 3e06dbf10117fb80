"""A run's folder: its name, and the files the trainer writes into it (:class:`RunFiles`).

:func:`new_run_folder` names the folder of a new run the same way for ``main.py train`` and the
editor's Train: ``<stem>-YYYYmmdd-HHMMSS``, with ``-2``, ``-3`` … appended when a folder of that
name exists already (two runs started within one second never share a folder).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from engine.training.checkpoint import Checkpoint, save_checkpoint
from engine.training.summary import RunSummary

#: The time stamp in a run folder's name (local time).
RUN_STAMP = "%Y%m%d-%H%M%S"
_now = time.time  # tests pin the clock here
#: One JSON object per finished epoch.
METRICS_FILE = "metrics.jsonl"


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


class RunFiles:
    """The files of one run in ``out_dir`` (None: a run that writes nothing): ``metrics.jsonl``
    (one line per epoch), ``last.pt`` after every epoch, ``best.pt`` after a best epoch, and
    ``summary.json`` at the end. Only the main process of a distributed run writes."""

    def __init__(self, out_dir: str | Path | None) -> None:
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.started = False  # a run refused before it started leaves an old folder alone

    @property
    def metrics_file(self) -> Path | None:
        return self.out_dir / METRICS_FILE if self.out_dir is not None else None

    def checkpoint(self, kind: str) -> Path | None:
        """The path of ``best`` or ``last`` checkpoint (None without a folder)."""
        return self.out_dir / f"{kind}.pt" if self.out_dir is not None else None

    def start(self, history: list[dict[str, Any]], design: Any = None, config: Any = None) -> None:
        """Begin the run's files: metrics.jsonl holds the epochs of ``history`` (a resumed run's
        earlier epochs); with ``design``, also its snapshot and the start file (engine.runs)."""
        self.started = True
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out_dir / METRICS_FILE, "w", encoding="utf-8") as fh:
            for record in history:
                fh.write(json.dumps(record) + "\n")
        if design is not None:
            from engine.runs import write_start_files

            write_start_files(self.out_dir, design, config)

    def write_epoch(
        self, record: dict[str, Any], last: Checkpoint, best: Checkpoint | None
    ) -> None:
        """Save an epoch's checkpoints (``best`` when it was the best) and its metrics line."""
        if self.out_dir is None:
            return
        save_checkpoint(self.out_dir / "last.pt", last)
        if best is not None:
            save_checkpoint(self.out_dir / "best.pt", best)
        with open(self.out_dir / METRICS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def write_summary(self, summary: RunSummary) -> None:
        """Write summary.json; a failure to write it is ignored, so it never hides the run's own
        result or error."""
        if self.out_dir is None:
            return
        try:
            summary.write(self.out_dir)
        except OSError:
            pass
