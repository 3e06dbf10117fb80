"""Test doubles shared by the main-window tests."""

from __future__ import annotations

from pathlib import Path


class FakePrompts:
    """Scripted answers; records every question asked."""

    def __init__(self) -> None:
        self.save_answer = "cancel"
        self.restore_answer = True
        self.open_path: Path | None = None
        self.save_path: Path | None = None
        self.template: str | None = None
        self.asked: list[tuple[str, str]] = []
        self.errors: list[tuple[str, str]] = []

    def ask_save_changes(self, name: str) -> str:
        self.asked.append(("save", name))
        return self.save_answer

    def show_error(self, title: str, message: str) -> None:
        self.errors.append((title, message))

    def ask_restore(self, recovered) -> bool:
        self.asked.append(("restore", recovered.describe()))
        return self.restore_answer

    def choose_open_path(self, directory: str):
        return self.open_path

    def choose_save_path(self, suggested: str):
        self.asked.append(("save_path", suggested))
        return self.save_path

    def choose_template(self):
        return self.template
