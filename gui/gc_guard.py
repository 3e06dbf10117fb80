"""Python's cyclic garbage collector, run on the GUI thread only, while a main window is open.

Python collects reference cycles in whichever thread happens to allocate when a threshold is
reached. When that is a worker (training, an export, a data preview) and the garbage holds a Qt
object — a closed dialog, a menu, a plot item — the object is destroyed off the GUI thread: Qt
may crash, or deadlock. Seen here: an ONNX export thread collected a closed window's menu, took
the menu's mutex and waited for the GIL, which the GUI thread held while it waited for the same
mutex; both hung for good. pyqtgraph's ``GarbageCollector`` answers it the same way: automatic
collection is off, and a timer on the GUI thread collects each generation once its threshold is
passed. The guard is held by every open main window, every running training run and background
call, and let go when the last of them ends (then automatic collection is on again, as before).

A full collection walks every object alive: with torch, Qt and pyqtgraph loaded that takes the
GUI thread hundreds of milliseconds, and a training run's allocations make one due every few
seconds (measured: the window froze for 0.5–2 s at a time while training). So a training run
calls :func:`freeze` as it starts: everything alive then (the libraries, the window, the
design) is left out of collections until :func:`thaw` at its end, and the collections during
the run only walk what the run created. After the run the next full collection looks at
everything again, so nothing that became garbage meanwhile stays uncollected. During a run
the GUI thread also collects more often (every :data:`RUN_INTERVAL_MS`: many short passes, not
one long one a second) and fully at most every :data:`RUN_FULL_EVERY_S`.
"""

from __future__ import annotations

import gc
import time
from functools import partial

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer

#: How often the GUI thread looks at the collector's counts (pyqtgraph uses the same second).
INTERVAL_MS = 1000
#: … and while a training run is active (between :func:`freeze` and :func:`thaw`). A run makes
#: garbage cycles fast (tens of thousands of objects a second); left for a second, they made each
#: young-generation collection take 50–150 ms and an older one 0.7 s (measured with the plots
#: visible, bench/bench_window_train.py): collected this often, each pass stays short.
RUN_INTERVAL_MS = 50
#: During a run a full collection (it walks every object the run made) comes at most this often;
#: the younger generations are collected as usual, and the run's end allows the next one.
RUN_FULL_EVERY_S = 30.0

_holders: set[int] = set()
_watched: set[int] = set()  # owners whose ``destroyed`` already releases their hold
_timer: QTimer | None = None
_was_enabled = True
_enable_pending = False  # the last hold is gone; automatic collection resumes on the next turn
_freezes = 0  # runs between freeze() and thaw()
_last_full = 0.0  # time.monotonic() of the last full collection by collect_if_due


def collect_if_due() -> int:
    """Collect the generations whose allocation counts passed their thresholds (what automatic
    collection would have done by now); the number of objects found unreachable."""
    t0, t1, t2 = gc.get_threshold()
    c0, c1, c2 = gc.get_count()
    if c0 <= t0:
        return 0
    if c1 <= t1:
        return gc.collect(0)
    if c2 <= t2 or (_freezes and time.monotonic() - _last_full < RUN_FULL_EVERY_S):
        return gc.collect(1)
    return _collect_all()


def _collect_all() -> int:
    global _last_full
    _last_full = time.monotonic()
    return gc.collect(2)


def freeze() -> None:
    """Leave every object alive now out of collections until the matching :func:`thaw` (nested
    calls count; ``gc.freeze`` itself costs nothing). Call it on the GUI thread."""
    global _freezes, _last_full
    if _freezes == 0:
        gc.freeze()
        _last_full = time.monotonic()  # everything alive now is frozen: nothing old to walk
    _freezes += 1
    _pace()


def thaw() -> None:
    """End a :func:`freeze`; the last one gives every frozen object back to the collector."""
    global _freezes
    if _freezes == 0:
        return
    _freezes -= 1
    if _freezes == 0:
        gc.unfreeze()
    _pace()


def interval_ms() -> int:
    """How often the GUI thread collects now (ms): :data:`RUN_INTERVAL_MS` during a run."""
    return RUN_INTERVAL_MS if _freezes else INTERVAL_MS


def _pace() -> None:
    """The collection timer's interval: shorter while a run is active (see RUN_INTERVAL_MS)."""
    if _timer is not None:
        _timer.setInterval(interval_ms())


def frozen() -> bool:
    """Whether a :func:`freeze` is in force."""
    return _freezes > 0


def active() -> bool:
    """Whether collection is in the GUI thread's hands now."""
    return bool(_holders)


def hold(owner: QObject) -> None:
    """While ``owner`` (a main window) lives, and until :func:`release`, collect on the GUI
    thread only. Call it on the GUI thread."""
    global _timer, _was_enabled, _enable_pending
    key = id(owner)
    if key in _holders:
        return
    if not _holders:
        if _enable_pending:  # still off from the last hold: keep what it found
            _enable_pending = False
        else:
            _was_enabled = gc.isenabled()
        gc.disable()
        if _timer is None:
            _timer = QTimer(QCoreApplication.instance())
            _timer.timeout.connect(collect_if_due)
        _pace()
        _timer.start()
    _holders.add(key)
    if key not in _watched:  # a runner holds once per run: connect its ``destroyed`` only once
        _watched.add(key)
        owner.destroyed.connect(partial(_forget, key))


def _forget(key: int) -> None:
    """``owner`` is gone: let go of its hold, and its id may now name another object."""
    _watched.discard(key)
    release(key)


def release(key: int) -> None:
    """Let go of a hold (by ``id(owner)``); the last one turns automatic collection back on."""
    if key not in _holders:
        return
    global _enable_pending
    _holders.discard(key)
    if not _holders:
        if _timer is not None:
            _timer.stop()
        if _was_enabled:
            # Not now: a window closed here is usually deleted next (deleteLater). A collection
            # while Qt destroys its children can free a pyqtgraph menu whose actions lock a
            # mutex the destructor holds: the GUI thread deadlocks. Pending deletions first.
            _enable_pending = True
            app = QCoreApplication.instance()
            if app is None:
                _resume()
            else:
                QTimer.singleShot(0, app, _resume)


def _resume() -> None:
    """Turn automatic collection back on once pending deletions are done (unless a new hold
    came first)."""
    global _enable_pending
    if not _enable_pending or _holders:
        return
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    if _enable_pending and not _holders:
        _enable_pending = False
        gc.enable()
