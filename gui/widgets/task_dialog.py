"""The dialog around one background job: busy bar, result line, a Close that waits for the job.

The export and import dialogs both are one, and both write a file the user names
(:class:`OutputFileDialog`). The job itself runs on :mod:`gui.workers`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.widgets.colours import ERROR_COLOUR, WARNING_COLOUR
from gui.widgets.forms import add_path_field, coloured, note_label
from gui.workers import JOIN_TIMEOUT_S, BackgroundCall


class BackgroundTaskDialog(QDialog):
    """A dialog whose main action runs in a :class:`~gui.workers.BackgroundCall`.

    While the job runs a busy bar shows, :attr:`busy` is True, and Close / Esc / the window's
    close button refuse with :attr:`STILL_RUNNING` (the job cannot be stopped halfway). A failure
    shows ``✖ <TASK_TITLE> failed: <the engine's one line>``; a success is stored in
    :attr:`result` and handed to :meth:`_task_succeeded`. Subclasses call
    :meth:`_add_progress_area` while building, :meth:`_start_task` to run the job, and
    implement ``_update_controls`` (called whenever :attr:`busy` changes).
    """

    TASK_TITLE = "Task"  # "Export", "Import": for the failure line
    STILL_RUNNING = "The task is still running."  # shown when closing is refused

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task: BackgroundCall | None = None  # the running (or last) job
        self.result: Any = None  # what the last successful job returned

    def _add_footer(self, layout: QVBoxLayout) -> None:
        """Below the fields: the progress area, a stretch and the row of ``_build_buttons``."""
        self._add_progress_area(layout)
        layout.addStretch(1)
        layout.addLayout(self._build_buttons())

    def _build_buttons(self) -> QHBoxLayout:
        """The dialog's row of buttons (subclasses build it)."""
        raise NotImplementedError

    def _add_progress_area(self, layout: QVBoxLayout) -> None:
        """Add the busy bar (hidden) and the result line to ``layout``."""
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)  # indeterminate: the job reports no progress
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setMaximumHeight(10)
        self.busy_bar.hide()
        layout.addWidget(self.busy_bar)
        self.result_label = note_label(self)
        self.result_label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.result_label)

    def _add_reason_label(self) -> QLabel:
        """The line beside the action button that says why the action is disabled."""
        self.reason_label = note_label(self)
        self.reason_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return self.reason_label

    def _show_blocked(
        self, button: QPushButton, reason: str | None, tip: str, say: bool = True
    ) -> None:
        """Enable the action ``button`` when there is no ``reason``; else give the reason in its
        tooltip and, when ``say`` and no job runs, in the reason line ("To import: ….")."""
        button.setEnabled(reason is None)
        button.setToolTip(f"Disabled: {reason}" if reason else tip)
        shown = reason and say and not self.busy
        self.reason_label.setText(f"To {self.TASK_TITLE.lower()}: {reason}." if shown else "")

    @property
    def busy(self) -> bool:
        """True while the job runs."""
        return self.task is not None and self.task.running

    def _update_controls(self) -> None:
        raise NotImplementedError

    def _background_tasks(self) -> list[BackgroundCall | None]:
        """Every worker :meth:`shutdown` joins (subclasses add their own)."""
        return [self.task]

    def _start_task(self, message: str, fn: Callable[..., Any], *args: Any, name: str) -> None:
        """Show ``message`` and the busy bar, and run ``fn(*args)`` in a worker thread."""
        self.result = None
        coloured(self.result_label, message)
        self.busy_bar.show()
        self.task = BackgroundCall(fn, *args, parent=self, name=name)
        self.task.done.connect(self._on_task_done)
        self.task.start()
        self._update_controls()

    @Slot(object, object)
    def _on_task_done(self, result: Any, error: str | None) -> None:
        self.busy_bar.hide()
        self._update_controls()
        if error is not None:
            coloured(self.result_label, f"✖ {self.TASK_TITLE} failed: {error}", ERROR_COLOUR)
            return
        self.result = result
        self._task_succeeded(result)

    def _task_succeeded(self, result: Any) -> None:
        """Show the outcome of a job that worked (``self.result`` is set already)."""
        raise NotImplementedError

    def shutdown(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Wait at most ``timeout`` s in all for background work (tests, application exit);
        True when none is left running."""
        deadline = time.monotonic() + timeout
        done = True
        for task in self._background_tasks():
            if task is not None:
                done = task.wait(max(0.0, deadline - time.monotonic())) and done
        return done

    def reject(self) -> None:
        """Close, unless the job is running."""
        if self.busy:
            coloured(self.result_label, self.STILL_RUNNING, WARNING_COLOUR)
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if self.busy:
            event.ignore()
            self.reject()
            return
        super().closeEvent(event)


class OutputFileDialog(BackgroundTaskDialog):
    """A :class:`BackgroundTaskDialog` whose job writes one file the user names.

    The "Save as" field proposes :meth:`auto_output` until the user types in it; a name without
    a suffix gets :meth:`output_suffix`; the note under the field warns when the file exists.
    Subclasses call :meth:`_add_output_field` while building.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._auto_output = True  # the output name follows the other fields until edited

    def _add_output_field(self, form: QFormLayout, label: str) -> None:
        """Add the output row (``output_edit``, ``output_button``, ``output_note``) to ``form``,
        wired to :meth:`_on_output_edited`, ``_on_output_changed`` and ``browse_output``."""
        self.output_edit, self.output_button, self.output_note = add_path_field(form, label, self)
        self.output_edit.textEdited.connect(self._on_output_edited)
        self.output_edit.textChanged.connect(self._on_output_changed)
        self.output_button.clicked.connect(self.browse_output)

    def set_output(self, path: str | Path) -> None:
        """Write to ``path`` (as if typed: it no longer follows the other fields)."""
        self._auto_output = False
        self.output_edit.setText(str(path))

    def _output_note(self, path: Path) -> str:
        """What the note under the output field says about ``path`` (the files written with it)."""
        raise NotImplementedError

    def _replaces(self, path: Path) -> bool:
        """Whether writing ``path`` replaces a file the user has not just written here."""
        return path.exists()

    @Slot()
    def _on_output_changed(self) -> None:
        path = self.output_path()
        if path is None:
            coloured(self.output_note, "")
        elif self._replaces(path):
            coloured(
                self.output_note,
                f"{path.name} exists and will be replaced. " + self._output_note(path),
                WARNING_COLOUR,
            )
        else:
            coloured(self.output_note, self._output_note(path))
        self._update_controls()

    def browse_output(self) -> None:
        """Pick the output file in a file dialog."""
        raise NotImplementedError

    def auto_output(self) -> Path:
        """The proposed output file."""
        raise NotImplementedError

    def output_suffix(self) -> str:
        """The suffix a typed output name without one gets."""
        raise NotImplementedError

    def output_path(self) -> Path | None:
        """The output file as typed, with :meth:`output_suffix` added when it has none."""
        text = self.output_edit.text().strip()
        if not text:
            return None
        path = Path(text).expanduser()
        return path if path.suffix else path.with_suffix(self.output_suffix())

    @Slot()
    def _on_output_edited(self) -> None:
        self._auto_output = False
