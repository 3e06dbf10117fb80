"""Autosave and crash recovery.

While a document has unsaved changes the main window writes it, every minute, to a recovery file
in the data folder (:func:`gui.settings.data_dir`). A clean exit, a save or a discard deletes the
file; a file still there at the next start means the editor died, and the window offers to
restore it. Each running editor writes its own file (named after its process id), so two editors
never overwrite each other and a running editor's file is never offered to another one.

A recovery file that cannot be read (damaged, or holding values no design may have) is never
fatal: it is renamed ``recovery-<pid>.json.corrupt-<time>`` (kept for inspection, never read
again) and reported once, in the log and the window's status bar.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DesignFormatError, first_line
from engine.files import (
    atomic_write_bytes,
    process_alive,
    read_regular_file,
    remove_stale_temps,
    set_aside,
)
from engine.graph import Design
from engine.io import checked_dict, design_from_dict

RECOVERY_FORMAT = "deepwire.recovery"
RECOVERY_VERSION = 1
PREFIX = "recovery-"
#: Largest recovery file read (bytes).
MAX_RECOVERY_BYTES = 64 << 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovered:
    """One recovery file left by an editor that did not exit cleanly."""

    file: Path
    original_path: Path | None  # the design file it was editing, None if never saved
    saved_at: float  # time.time() of the autosave
    name: str  # the design's name

    def load(self) -> Design:
        """The autosaved design (DesignFormatError if the file is damaged)."""
        return _read(self.file)[1]

    def describe(self) -> str:
        """One line for the restore prompt."""
        try:
            when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        except (OverflowError, OSError, ValueError):  # a time no clock can show
            when = "at an unknown time"
        where = str(self.original_path) if self.original_path else "a design never saved"
        return f"'{self.name}' ({where}), autosaved {when}"


class RecoveryStore:
    """The recovery files of one data folder; ``owner`` (default: this process id) names ours."""

    def __init__(self, directory: Path, owner: int | None = None) -> None:
        self.directory = Path(directory)
        self.owner = os.getpid() if owner is None else owner
        #: Unreadable recovery files renamed by :meth:`orphans` or :meth:`set_aside` since the
        #: last :meth:`take_set_aside`: one line each, for the window to report once.
        self._set_aside: list[str] = []

    @property
    def file(self) -> Path:
        """This editor's recovery file."""
        return self.directory / f"{PREFIX}{self.owner}.json"

    def save(self, design: Design, original_path: Path | None) -> Path:
        """Write the design (atomically) with where it came from; returns the file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {
            "format": RECOVERY_FORMAT,
            "version": RECOVERY_VERSION,
            "original_path": str(original_path) if original_path else None,
            "saved_at": time.time(),
            "design": checked_dict(design),
        }
        atomic_write_bytes(self.file, json.dumps(record, ensure_ascii=False).encode("utf-8"))
        return self.file

    def discard(self) -> None:
        """Delete this editor's recovery file (clean exit, save, or changes discarded)."""
        _unlink(self.file)

    def orphans(self) -> list[Recovered]:
        """Recovery files of editors that are no longer running, newest first.

        Unreadable files are set aside (see the module's docstring); nothing here raises.
        """
        found: list[Recovered] = []
        if not self.directory.is_dir():
            return found
        remove_stale_temps(self.directory)  # of autosaves killed mid-write
        for path in self.directory.glob(f"{PREFIX}*.json"):
            pid_text = path.stem[len(PREFIX) :]
            if not pid_text.isdigit():
                continue
            pid = int(pid_text)
            if pid == self.owner or process_alive(pid):
                continue
            try:
                record, design = _read(path)
            except DesignFormatError as exc:
                self.set_aside(path, str(exc))
                continue
            original = record.get("original_path")
            found.append(
                Recovered(
                    path,
                    Path(original) if original else None,
                    float(record.get("saved_at") or 0.0),
                    design.name,
                )
            )
        found.sort(key=lambda r: r.saved_at, reverse=True)
        return found

    def set_aside(self, path: Path, reason: str) -> None:
        """Rename an unreadable recovery file out of the way and remember one line about it."""
        moved = set_aside(path)
        where = f"moved to {moved.name}" if moved else "deleted"
        line = f"Unreadable autosave {path.name} {where}: {reason}"
        log.warning("%s", line)
        self._set_aside.append(line)

    def take_set_aside(self) -> list[str]:
        """The lines about files set aside since the last call (each is reported once)."""
        lines, self._set_aside = self._set_aside, []
        return lines

    @staticmethod
    def forget(recovered: Recovered) -> None:
        """Delete an orphan once restored or declined."""
        _unlink(recovered.file)


def _read(path: Path) -> tuple[dict, Design]:
    """The record and design of a recovery file; any problem is one DesignFormatError line."""
    try:
        raw = read_regular_file(path, MAX_RECOVERY_BYTES, "recovery file", DesignFormatError)
        record = json.loads(raw.decode("utf-8"))
        if not isinstance(record, dict) or record.get("format") != RECOVERY_FORMAT:
            raise DesignFormatError(f"{path}: not a Deepwire recovery file")
        if record.get("version") != RECOVERY_VERSION:
            raise DesignFormatError(
                f"{path}: recovery file version {record.get('version')!r} is not supported"
            )
        saved_at, original = record.get("saved_at"), record.get("original_path")
        if (
            isinstance(saved_at, bool)
            or not isinstance(saved_at, (int, float))
            or not math.isfinite(saved_at)
        ):
            raise DesignFormatError(
                f'{path}: "saved_at" must be a time in seconds, got {json.dumps(saved_at)[:40]}'
            )
        if original is not None and not isinstance(original, str):
            raise DesignFormatError(f'{path}: "original_path" must be a path or null')
        return record, design_from_dict(record.get("design"), str(path))
    except DesignFormatError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged autosave must never stop the editor
        raise DesignFormatError(
            f"{path}: unreadable recovery file ({first_line(exc, 120)})"
        ) from None


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass
