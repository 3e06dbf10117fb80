"""Where the editor keeps its state: QSettings (window layout, recent files) and the data folder.

Tests never touch the user's real settings: every window takes the :class:`QSettings` object it
should use, and ``DEEPWIRE_DATA_DIR`` moves the data folder (recovery files) somewhere else.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

ORGANIZATION = "Deepwire"
APPLICATION = "Deepwire"
DATA_DIR_ENV = "DEEPWIRE_DATA_DIR"
MAX_RECENT = 10


def user_settings() -> QSettings:
    """The user's persistent settings (INI file in the platform's config location)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION,
                     APPLICATION)


def data_dir() -> Path:
    """Folder for recovery files: ``$DEEPWIRE_DATA_DIR`` or platformdirs' user data dir."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APPLICATION, appauthor=False))


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
            self._paths = [str(p) for p in (value or []) if p]

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
