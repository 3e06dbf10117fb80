"""Autosave and crash recovery.

While a document has unsaved changes the main window writes it, every minute, to a recovery file
in the data folder (:func:`gui.settings.data_dir`). A clean exit, a save or a discard deletes the
file; a file still there at the next start means the editor died, and the window offers to
restore it. Each running editor writes its own file (named after its process id), so two editors
never overwrite each other and a running editor's file is never offered to another one.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DesignFormatError
from engine.graph import Design
from engine.io import atomic_write_bytes, design_from_dict, design_to_dict

RECOVERY_FORMAT = "deepwire.recovery"
RECOVERY_VERSION = 1
PREFIX = "recovery-"


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
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(self.saved_at))
        where = str(self.original_path) if self.original_path else "a design never saved"
        return f"'{self.name}' ({where}), autosaved {when}"


class RecoveryStore:
    """The recovery files of one data folder; ``owner`` (default: this process id) names ours."""

    def __init__(self, directory: Path, owner: int | None = None) -> None:
        self.directory = Path(directory)
        self.owner = os.getpid() if owner is None else owner

    @property
    def file(self) -> Path:
        """This editor's recovery file."""
        return self.directory / f"{PREFIX}{self.owner}.json"

    def save(self, design: Design, original_path: Path | None) -> Path:
        """Write the design (atomically) with where it came from; returns the file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        record = {"format": RECOVERY_FORMAT, "version": RECOVERY_VERSION,
                  "original_path": str(original_path) if original_path else None,
                  "saved_at": time.time(), "design": design_to_dict(design)}
        atomic_write_bytes(self.file, json.dumps(record, ensure_ascii=False).encode("utf-8"))
        return self.file

    def discard(self) -> None:
        """Delete this editor's recovery file (clean exit, save, or changes discarded)."""
        _unlink(self.file)

    def orphans(self) -> list[Recovered]:
        """Recovery files of editors that are no longer running, newest first.

        Damaged files are deleted: there is nothing in them to restore.
        """
        found: list[Recovered] = []
        if not self.directory.is_dir():
            return found
        for path in self.directory.glob(f"{PREFIX}*.json"):
            pid_text = path.stem[len(PREFIX):]
            if not pid_text.isdigit():
                continue
            pid = int(pid_text)
            if pid == self.owner or _process_alive(pid):
                continue
            try:
                record, design = _read(path)
            except DesignFormatError:
                _unlink(path)
                continue
            original = record.get("original_path")
            found.append(Recovered(path, Path(original) if original else None,
                                   float(record.get("saved_at") or 0.0), design.name))
        found.sort(key=lambda r: r.saved_at, reverse=True)
        return found

    @staticmethod
    def forget(recovered: Recovered) -> None:
        """Delete an orphan once restored or declined."""
        _unlink(recovered.file)


def _read(path: Path) -> tuple[dict, Design]:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DesignFormatError(f"{path}: unreadable recovery file ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != RECOVERY_FORMAT:
        raise DesignFormatError(f"{path}: not a Deepwire recovery file")
    if record.get("version") != RECOVERY_VERSION:
        raise DesignFormatError(f"{path}: recovery file version {record.get('version')!r} is "
                                "not supported")
    return record, design_from_dict(record.get("design"), str(path))


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _process_alive(pid: int) -> bool:
    """Whether a process with this id is running (on doubt: yes, so nothing is stolen)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":
        import ctypes

        kernel32 = ctypes.windll.kernel32  # type: ignore[attr-defined]
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        kernel32.CloseHandle(handle)
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True
