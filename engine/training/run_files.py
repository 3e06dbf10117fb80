"""A run's folder: its name, and the files the trainer writes into it.

:func:`new_run_folder` names the folder of a new run the same way for ``main.py train`` and the
editor's Train: ``<stem>-YYYYmmdd-HHMMSS``, with ``-2``, ``-3`` … appended when a folder of that
name exists already (two runs started within one second never share a folder).
"""

from __future__ import annotations

import time
from pathlib import Path

#: The time stamp in a run folder's name (local time).
RUN_STAMP = "%Y%m%d-%H%M%S"
_now = time.time  # tests pin the clock here


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
