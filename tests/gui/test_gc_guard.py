"""Cycles holding Qt objects are collected on the GUI thread only while a main window is open
(gui/gc_guard.py): a worker that allocates past the collector's threshold never runs a
collection, the GUI thread's timer does, and closing the last window turns automatic collection
back on."""

from __future__ import annotations

import gc
import threading
import weakref

import pytest
from PySide6.QtCore import QObject

from gui import gc_guard

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


class Holder:
    """A Python object in a cycle with a QObject, as a closed dialog's wrapper can be."""

    def __init__(self) -> None:
        self.qobject = QObject()
        self.me = self


def test_worker_threads_never_collect_while_a_window_is_open(main_window, qtbot):
    win, _ = main_window(None)
    assert gc_guard.active() and not gc.isenabled()
    collected_in: list[str] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            collected_in.append(threading.current_thread().name)

    gc.callbacks.append(on_gc)
    try:
        garbage = Holder()
        ref = weakref.ref(garbage)
        del garbage  # now only its own cycle keeps it (and its QObject) alive

        def allocate() -> None:  # far past generation 0's threshold, as a training step does
            junk = []
            for _ in range(20 * gc.get_threshold()[0]):
                node: list = []
                node.append(node)
                junk.append(node)

        worker = threading.Thread(target=allocate, name="allocating-worker")
        worker.start()
        worker.join(timeout=60)
        assert not worker.is_alive()
        assert collected_in == [] and ref() is not None  # nothing collected off the GUI thread

        qtbot.waitUntil(lambda: ref() is None, timeout=10 * gc_guard.INTERVAL_MS)
        assert collected_in and set(collected_in) == {threading.main_thread().name}
    finally:
        gc.callbacks.remove(on_gc)
    # The window prepares its design's data in the background (a call that holds the guard
    # too, for as long as it runs: seconds when scikit-learn is not imported yet, as when this
    # test runs first or alone). Once it has ended, closing the window lets go of the guard.
    panel = win.training_panel
    qtbot.waitUntil(
        lambda: not panel._prepare_timer.isActive() and not panel.preparing, timeout=120_000
    )
    win.close()
    assert not gc_guard.active()
    qtbot.waitUntil(gc.isenabled, timeout=5000)  # on the next turn: pending deletions first


def test_the_guard_stays_while_any_window_is_open(main_window, qtbot):
    first, _ = main_window(None)
    second, _ = main_window(None)
    first.close()
    assert gc_guard.active() and not gc.isenabled()
    second.close()
    assert not gc_guard.active()
    qtbot.waitUntil(gc.isenabled, timeout=5000)


def test_a_background_call_holds_the_guard_while_it_runs(qtbot):
    from gui.workers import BackgroundCall

    release = threading.Event()
    seen: list[bool] = []

    def work() -> str:
        release.wait(30)
        return "ok"

    call = BackgroundCall(work, name="deepwire-test-call")
    done: list[object] = []
    call.done.connect(lambda result, error: done.append(result))
    call.start()
    seen.append(gc_guard.active() and not gc.isenabled())  # no window open: the call holds it
    release.set()
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    assert seen == [True] and done == ["ok"]
    assert not gc_guard.active()
    qtbot.waitUntil(gc.isenabled, timeout=5000)


def test_a_training_run_leaves_what_existed_before_it_out_of_collections(qtbot, tmp_path):
    """A full collection walks every object alive (hundreds of ms with torch loaded): during a
    run only what the run created is walked, and afterwards everything is again."""
    from engine.io import load_design
    from gui.runner import TrainingRunner
    from resources import template_path

    design = load_design(template_path("mlp"))
    design.training = dict(design.training, epochs=1)
    before = Holder()  # garbage-to-be that existed before the run
    ref = weakref.ref(before)
    runner = TrainingRunner()
    runner.start(design, out_dir=tmp_path / "run")
    try:
        assert gc_guard.frozen() and gc.get_freeze_count() > 0
        # the run's garbage is collected often, in short passes, not once a second in long ones
        assert gc_guard.interval_ms() == gc_guard.RUN_INTERVAL_MS < gc_guard.INTERVAL_MS
        assert gc_guard._timer.interval() == gc_guard.RUN_INTERVAL_MS
        del before
        gc.collect()
        assert ref() is not None  # frozen: not walked while the run trains
        finished = []
        runner.finished.connect(finished.append)
        qtbot.waitUntil(lambda: bool(finished), timeout=120_000)
    finally:
        runner.shutdown(10.0)
    assert finished[0].ok
    assert not gc_guard.frozen() and gc.get_freeze_count() == 0
    assert gc_guard.interval_ms() == gc_guard.INTERVAL_MS == gc_guard._timer.interval()
    gc.collect()
    assert ref() is None  # after the run the old garbage is collected after all


def test_during_a_run_full_collections_wait_and_younger_ones_go_on(monkeypatch):
    """A full collection walks every object a run made (0.4-0.5 s seen mid-run): during a run
    it comes at most every RUN_FULL_EVERY_S; the younger generations are collected as due."""
    collected: list[int] = []
    monkeypatch.setattr(gc, "get_count", lambda: (10_000, 100, 100))  # all three are due
    monkeypatch.setattr(gc, "collect", lambda generation=2: collected.append(generation) or 0)
    gc_guard.freeze()
    try:
        gc_guard.collect_if_due()
        assert collected == [1]  # a run just started: no full collection yet
        monkeypatch.setattr(gc_guard, "_last_full", gc_guard._last_full - gc_guard.RUN_FULL_EVERY_S)
        gc_guard.collect_if_due()
        gc_guard.collect_if_due()
        assert collected == [1, 2, 1]  # one full collection, then the wait again
    finally:
        gc_guard.thaw()
    gc_guard.collect_if_due()
    assert collected[-1] == 2  # no run: full collections as soon as due
