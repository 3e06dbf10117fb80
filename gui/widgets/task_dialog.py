"""The dialog around one background job: busy bar, result line, a Close that waits for the job.

The export and import dialogs both are one. The job itself runs on :mod:`gui.workers`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QDialog, QProgressBar, QVBoxLayout, QWidget

from gui.widgets.colours import ERROR_COLOUR, WARNING_COLOUR
from gui.widgets.forms import coloured, note_label
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
