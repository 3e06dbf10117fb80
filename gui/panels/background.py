"""Running one job of a dialog off the GUI thread, and the small widgets the file dialogs share.

:class:`BackgroundCall` runs one function in a worker thread and delivers its outcome on the GUI
thread; :class:`BackgroundTaskDialog` is the dialog around such a job (busy bar, result line, a
Close that waits for the job, a join at application exit), which the export and import dialogs
both are. :class:`FileChooser` opens the file dialogs (tests replace it with fixed answers).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import first_line
from gui.panels.inspector import ERROR_COLOUR
from gui.panels.training import WARNING_COLOUR

POLL_MS = 25
JOIN_TIMEOUT_S = 60.0
OK_COLOUR = "#2e8b57"  # sea green, readable on light and dark backgrounds


class BackgroundCall(QObject):
    """Runs ``fn(*args)`` once in a worker thread; :attr:`done` fires on the GUI thread.

    The worker only stores its outcome. A timer on the GUI thread notices that the thread ended
    and emits ``done(result, error)`` with ``error`` the one-line message of whatever the call
    raised (None on success), so no Qt object is ever touched from the worker.
    """

    done = Signal(object, object)  # result, error message (str) or None

    def __init__(self, fn: Callable[..., Any], *args: Any, parent: QObject | None = None,
                 name: str = "deepwire-task") -> None:
        super().__init__(parent)
        self._fn = fn
        self._args = args
        self._name = name
        self._outcome: tuple[Any, str | None] = (None, None)
        self._thread: threading.Thread | None = None
        self.seconds = 0.0
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        """Start the worker (once)."""
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
        self._thread.start()
        self._timer.start()

    @property
    def running(self) -> bool:
        """True from :meth:`start` until :attr:`done` has been emitted."""
        return self._timer.isActive()

    def wait(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Join the worker (at application exit, in tests); True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _work(self) -> None:
        try:
            self._outcome = (self._fn(*self._args), None)
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
            self._outcome = (None, first_line(exc))

    @Slot()
    def _poll(self) -> None:
        if self._thread is None or self._thread.is_alive():
            return
        self._timer.stop()
        self.seconds = time.perf_counter() - self._started
        result, error = self._outcome
        self.done.emit(result, error)


class FileChooser:
    """The file dialogs the export and import dialogs open; tests substitute fixed answers."""

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
        answer = QMessageBox.question(self.parent, title, text,
                                      QMessageBox.StandardButton.Yes
                                      | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes


def coloured(label: QLabel, text: str, colour: str | None = None) -> None:
    """Show ``text`` in ``label`` (in ``colour``), or hide the label when ``text`` is empty;
    the dialog grows when the text needs more room."""
    label.setStyleSheet(f"color: {colour};" if colour else "")
    label.setText(text)
    label.setVisible(bool(text))
    window = label.window()
    if isinstance(window, QDialog) and window.layout() is not None:
        QTimer.singleShot(0, window, lambda: fit_height(window))


def fit_height(dialog: QDialog) -> None:
    """Make ``dialog`` tall enough for its wrapped text at its current width (never shrinks)."""
    layout = dialog.layout()
    layout.activate()
    needed = layout.totalHeightForWidth(dialog.width()) if layout.hasHeightForWidth() \
        else layout.totalSizeHint().height()
    if needed > dialog.height():
        dialog.resize(dialog.width(), needed)


def note_label(parent: QWidget) -> QLabel:
    """A wrapped, selectable line of explanation under a field."""
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.92)
    label.setFont(font)
    return label


def path_row(edit: QLineEdit, button: QPushButton) -> QWidget:
    """A line edit with its Browse button."""
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


def with_note(field: QWidget, note: QLabel) -> QWidget:
    """A form field with its explanation line right under it."""
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(3)
    layout.addWidget(field)
    layout.addWidget(note)
    return box


#: Tasks the application's exit path waits for (bounded) before the process ends.
_AT_EXIT: weakref.WeakSet[BackgroundCall] = weakref.WeakSet()


def join_on_quit(task: BackgroundCall) -> None:
    """Have the application's exit path wait for ``task`` (see :func:`wait_for_tasks`)."""
    _AT_EXIT.add(task)


def wait_for_tasks(timeout: float) -> bool:
    """Wait at most ``timeout`` s in all for the tasks of :func:`join_on_quit` (application
    exit, after the window has gone); True when none is left running.

    A job that needs longer (an export cannot be interrupted halfway) is abandoned with the
    process: its file is written atomically, so the target is never half-written.
    """
    deadline = time.monotonic() + timeout
    for task in list(_AT_EXIT):
        task.wait(max(0.0, deadline - time.monotonic()))
    return all(task.wait(0.0) for task in list(_AT_EXIT))


def same_file(a: Path, b: Path | None) -> bool:
    """Whether ``a`` and ``b`` name the same file (also through different spellings)."""
    if b is None:
        return False
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return a == b


def escape_html(text: str) -> str:
    """``text`` safe to put into a rich-text label."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class BackgroundTaskDialog(QDialog):
    """A dialog whose main action runs in a :class:`BackgroundCall`.

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
        join_on_quit(self.task)
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
