"""The one way the GUI runs a call off its thread: :class:`BackgroundCall`.

A call runs ``fn(*args)`` once in a daemon thread; the worker only stores its outcome, and a
timer on the GUI thread notices the end and emits :attr:`BackgroundCall.done` (or
:attr:`BackgroundCall.cancelled`), so no Qt object is ever touched from the worker and every
receiver runs on the GUI thread.

- **Cancellable**: with ``cancellable=True`` the function gets ``should_stop=`` (a callable
  that turns True after :meth:`BackgroundCall.cancel`), the contract of the engine's long calls
  (``prepare_data``, the trainer); it stops by raising :class:`engine.errors.Cancelled`.
- **Joined on close**: every started call (unless ``join_at_exit=False``) is remembered, and the
  application's exit path calls :func:`wait_for_tasks` once with one time limit shared by all of
  them; cancellable ones are asked to stop first.

How a panel uses it (the export and import dialogs do, through
:class:`gui.widgets.task_dialog.BackgroundTaskDialog`)::

    self.call = BackgroundCall(prepare_data, spec, base, seed, parent=self,
                               name="deepwire-data-preview", cancellable=True)
    self.call.done.connect(self._on_done)          # (result, error line or None), GUI thread
    self.call.start()
    ...
    self.call.cancel(); self.call.wait(timeout)    # on close: ask, then join (bounded)
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from engine.errors import Cancelled, first_line
from gui import gc_guard

POLL_MS = 25
JOIN_TIMEOUT_S = 60.0


class BackgroundCall(QObject):
    """Runs ``fn(*args)`` once in a worker thread; :attr:`done` fires on the GUI thread.

    ``done(result, error)`` carries ``error`` as the one-line message of whatever the call
    raised (None on success). A call that was cancelled (or raised
    :class:`~engine.errors.Cancelled`) emits :attr:`cancelled` instead: its result is out of date.
    Give it a ``parent`` (or keep a reference): like any QObject, an unreferenced call is
    deleted, and with it the timer that would deliver the outcome.
    """

    done = Signal(object, object)  # result, error message (str) or None
    cancelled = Signal()

    def __init__(
        self,
        fn: Callable[..., Any],
        *args: Any,
        parent: QObject | None = None,
        name: str = "deepwire-task",
        cancellable: bool = False,
        join_at_exit: bool = True,
    ) -> None:
        super().__init__(parent)
        self._fn = fn
        self._args = args
        self._name = name
        self._cancellable = cancellable
        self._join_at_exit = join_at_exit
        self._stop = threading.Event()
        self._outcome: tuple[Any, str | None] = (None, None)
        self._was_cancelled = False
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self.seconds = 0.0  # how long the call took (set when it has ended)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    def start(self) -> None:
        """Start the worker (once)."""
        self._started = time.perf_counter()
        self._thread = threading.Thread(target=self._work, name=self._name, daemon=True)
        if self._join_at_exit:
            _AT_EXIT.add(self)
        gc_guard.hold(self)  # cycles holding Qt objects are collected on the GUI thread only
        self._thread.start()
        self._timer.start()

    @property
    def running(self) -> bool:
        """True from :meth:`start` until :attr:`done` (or :attr:`cancelled`) has been emitted."""
        return self._timer.isActive()

    @property
    def alive(self) -> bool:
        """True while the worker thread itself runs (it may end before :attr:`done` fires)."""
        return self._thread is not None and self._thread.is_alive()

    def cancel(self) -> None:
        """Ask the call to stop (a cancellable one stops at its next check) and drop its
        result: :attr:`cancelled` fires instead of :attr:`done`."""
        self._stop.set()

    @property
    def cancel_requested(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._stop.is_set()

    def wait(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Join the worker (at application exit, in tests); True when it has ended."""
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    def _work(self) -> None:
        kwargs = {"should_stop": self._stop.is_set} if self._cancellable else {}
        try:
            self._outcome = (self._fn(*self._args, **kwargs), None)
        except Cancelled:
            self._was_cancelled = True
        except BaseException as exc:  # noqa: BLE001 - user code may raise anything, even SystemExit
            self._outcome = (None, first_line(exc))

    @Slot()
    def _poll(self) -> None:
        if self._thread is None or self._thread.is_alive():
            return
        self._timer.stop()
        gc_guard.release(id(self))
        self.seconds = time.perf_counter() - self._started
        if self._was_cancelled or self._stop.is_set():
            self.cancelled.emit()
            return
        result, error = self._outcome
        self.done.emit(result, error)


#: Calls the application's exit path waits for (bounded) before the process ends.
_AT_EXIT: weakref.WeakSet[BackgroundCall] = weakref.WeakSet()


def join_on_quit(task: BackgroundCall) -> None:
    """Have the application's exit path wait for ``task`` (see :func:`wait_for_tasks`); a
    started call with ``join_at_exit=True`` (the default) is registered already."""
    _AT_EXIT.add(task)


def wait_for_tasks(timeout: float) -> bool:
    """Ask every cancellable call to stop, then wait at most ``timeout`` s in all for the calls
    of :func:`join_on_quit` (application exit, after the window has gone); True when none is
    left running.

    A job that needs longer (an export cannot be interrupted halfway) is abandoned with the
    process: its file is written atomically, so the target is never half-written.
    """
    tasks = list(_AT_EXIT)
    for task in tasks:
        if task._cancellable:
            task.cancel()
    deadline = time.monotonic() + timeout
    for task in tasks:
        task.wait(max(0.0, deadline - time.monotonic()))
    return all(task.wait(0.0) for task in tasks)
