"""Where the editor keeps its state: QSettings (window layout, recent files) and the data folder.

Tests never touch the user's real settings: every window takes the :class:`QSettings` object it
should use, and ``DEEPWIRE_DATA_DIR`` moves the data folder (recovery files) somewhere else.

A settings file that is not readable INI text is never fatal: it is renamed
``Deepwire.ini.corrupt-<time>`` and the editor starts with default settings, saying so once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings

from engine.errors import DeepwireError
from engine.files import read_regular_file, set_aside
from engine.runs import DATA_DIR_ENV, data_dir  # noqa: F401 - the one data folder (runs, recovery)

ORGANIZATION = "Deepwire"
APPLICATION = "Deepwire"
MAX_RECENT = 10
#: Largest settings file read (bytes); ours are a few KiB.
MAX_SETTINGS_BYTES = 4 << 20
#: Dynamic property of a QSettings whose damaged file was set aside: the line to show the user.
SET_ASIDE_PROPERTY = "deepwire_set_aside"

log = logging.getLogger(__name__)


def user_settings() -> QSettings:
    """The user's persistent settings (INI file in the platform's config location)."""
    return usable_settings(
        QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)
    )


def usable_settings(settings: QSettings) -> QSettings:
    """``settings``, or, when its INI file cannot be read as text, fresh settings in its place
    after the file was set aside (the line saying so is in :data:`SET_ASIDE_PROPERTY`)."""
    path = Path(settings.fileName())
    problem = _settings_problem(settings, path)
    if problem is None:
        return settings
    moved = set_aside(path)
    where = f"moved to {moved.name}" if moved else "deleted"
    line = f"Unreadable settings {path.name} {where} ({problem}); using default settings"
    log.warning("%s", line)
    fresh = QSettings(str(path), QSettings.Format.IniFormat)
    fresh.setProperty(SET_ASIDE_PROPERTY, line)
    return fresh


def _settings_problem(settings: QSettings, path: Path) -> str | None:
    if not path.exists():
        return None
    try:
        text = read_regular_file(path, MAX_SETTINGS_BYTES, "settings file").decode("utf-8")
    except DeepwireError as exc:
        return str(exc).removeprefix(f"{path}: ")
    except UnicodeDecodeError as exc:
        return f"not UTF-8 text at byte {exc.start}"
    if "\x00" in text:
        return "holds binary data"
    if settings.status() != QSettings.Status.NoError:
        return "not in INI format"
    return None


class RecentFiles:
    """Most-recently-used design paths, newest first, stored under ``recent_files``."""

    KEY = "recent_files"

    def __init__(self, settings: QSettings | None) -> None:
        self._settings = settings
        self._paths: list[str] = []
        if settings is not None:
            value = settings.value(self.KEY, [])
            if isinstance(value, str):  # QSettings returns a lone string for one-item lists
                value = [value]
            if not isinstance(value, (list, tuple)):  # edited by hand or damaged: ignore it
                value = []
            self._paths = [p for p in value if isinstance(p, str) and p and "\x00" not in p]

    def paths(self) -> list[Path]:
        """The remembered paths, newest first."""
        return [Path(p) for p in self._paths]

    def add(self, path: Path) -> None:
        """Put ``path`` first (once) and store the list."""
        text = str(Path(path).resolve())
        self._paths = [text] + [p for p in self._paths if p != text]
        del self._paths[MAX_RECENT:]
        self._store()

    def remove(self, path: Path) -> None:
        """Forget ``path`` (e.g. after it failed to open)."""
        text = str(Path(path).resolve())
        self._paths = [p for p in self._paths if p != text]
        self._store()

    def clear(self) -> None:
        """Forget every path."""
        self._paths = []
        self._store()

    def _store(self) -> None:
        if self._settings is not None:
            self._settings.setValue(self.KEY, list(self._paths))
