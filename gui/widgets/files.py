"""The file dialogs the panels and dialogs open, behind one object tests replace."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget


class FileChooser:
    """The file dialogs the export and import dialogs and the training panel open; tests
    substitute fixed answers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def open_file(self, title: str, start: str, filters: str) -> Path | None:
        """An existing file, or None."""
        path, _ = QFileDialog.getOpenFileName(self.parent, title, start, filters)
        return Path(path) if path else None

    def save_file(self, title: str, start: str, filters: str) -> Path | None:
        """A file to write (the dialog asks before replacing one), or None."""
        path, _ = QFileDialog.getSaveFileName(self.parent, title, start, filters)
        return Path(path) if path else None

    def confirm_replace(self, title: str, text: str) -> bool:
        """Ask before replacing an existing file (a name typed rather than picked)."""
        answer = QMessageBox.question(
            self.parent,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes


def same_file(a: Path, b: Path | None) -> bool:
    """Whether ``a`` and ``b`` name the same file (also through different spellings)."""
    if b is None:
        return False
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b
