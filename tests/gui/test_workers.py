"""gui.workers: one background call, its outcome on the GUI thread, cancelling, the exit join."""

from __future__ import annotations

import threading

import pytest

from engine.errors import Cancelled, DataError
from gui.workers import BackgroundCall, wait_for_tasks


def _started(qtbot, call: BackgroundCall) -> list:
    """Start ``call`` and collect what it signals: ("done", result, error) or ("cancelled",)."""
    seen: list = []
    call.done.connect(lambda result, error: seen.append(("done", result, error)))
    call.cancelled.connect(lambda: seen.append(("cancelled",)))
    call.start()
    return seen


def test_the_result_arrives_on_the_gui_thread(qtbot):
    threads: list[threading.Thread] = []

    def work(a, b):
        threads.append(threading.current_thread())
        return a + b

    call = BackgroundCall(work, 2, 3, name="deepwire-test-add")
    seen = _started(qtbot, call)
    received: list[threading.Thread] = []
    call.done.connect(lambda *_: received.append(threading.current_thread()))
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert seen == [("done", 5, None)]
    assert threads[0].name == "deepwire-test-add"
    assert received == [threading.main_thread()]  # the receiver ran on the GUI thread
    assert not call.running and not call.alive


def test_a_failure_arrives_as_one_line(qtbot):
    def fail():
        raise DataError("data spec: split.val is 2; allowed: a number from 0 to 0.9\nmore")

    call = BackgroundCall(fail)  # kept: a call without a parent lives as long as its reference
    seen = _started(qtbot, call)
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert seen == [("done", None, "data spec: split.val is 2; allowed: a number from 0 to 0.9")]


def test_a_cancellable_call_stops_when_asked_and_drops_its_result(qtbot):
    entered = threading.Event()

    def long_work(should_stop):
        entered.set()
        while not should_stop():
            threading.Event().wait(0.005)
        raise Cancelled("stopped")

    call = BackgroundCall(long_work, cancellable=True)
    seen = _started(qtbot, call)
    assert entered.wait(10)
    assert call.running and not call.cancel_requested
    call.cancel()
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert seen == [("cancelled",)]
    assert call.wait(0.0)


def test_a_result_that_comes_after_cancel_is_dropped(qtbot):
    gate = threading.Event()
    call = BackgroundCall(lambda: gate.wait(10) and "stale")
    seen = _started(qtbot, call)
    call.cancel()
    gate.set()
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert seen == [("cancelled",)]


def test_exit_asks_cancellable_calls_to_stop_and_joins_every_call(qtbot):
    def until_stopped(should_stop):
        while not should_stop():
            threading.Event().wait(0.005)
        raise Cancelled("stopped")

    gate = threading.Event()
    stoppable = BackgroundCall(until_stopped, cancellable=True)
    plain = BackgroundCall(gate.wait, 10.0)
    stoppable.start()
    plain.start()
    assert not wait_for_tasks(0.05)  # the plain call cannot be stopped: the limit runs out
    assert stoppable.wait(0.0)  # … but the cancellable one was asked and has ended
    gate.set()
    assert wait_for_tasks(10.0)
    assert plain.wait(0.0)


def test_a_call_left_out_of_the_exit_join_is_not_waited_for(qtbot):
    gate = threading.Event()
    call = BackgroundCall(gate.wait, 10.0, join_at_exit=False)
    call.start()
    try:
        assert wait_for_tasks(0.05)
        assert call.alive
    finally:
        gate.set()
        assert call.wait(10.0)


@pytest.mark.parametrize("cancellable", [False, True])
def test_should_stop_is_passed_only_to_cancellable_calls(qtbot, cancellable):
    call = BackgroundCall(lambda **kw: sorted(kw), cancellable=cancellable)
    seen = _started(qtbot, call)
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    assert seen == [("done", ["should_stop"] if cancellable else [], None)]


def test_every_background_call_of_the_gui_runs_on_gui_workers():
    """One worker mechanism: no module of gui/ starts a thread of its own, except the training
    runner's run (gui/runner.py streams its events through its own bridge); the data preview
    and the warm-up run on :class:`BackgroundCall` like the export and import jobs."""
    import ast
    from pathlib import Path

    import gui

    root = Path(gui.__file__).parent
    starts: dict[str, int] = {}
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            == "Thread"
        ]
        if calls:
            starts[path.relative_to(root).as_posix()] = len(calls)
    assert starts == {"workers.py": 1, "runner.py": 1}


def test_a_call_runs_in_a_daemon_thread_so_a_blocked_one_never_holds_the_process(qtbot):
    gate = threading.Event()
    call = BackgroundCall(gate.wait, 10.0, name="deepwire-test-blocked", join_at_exit=False)
    call.start()
    try:
        (thread,) = [t for t in threading.enumerate() if t.name == "deepwire-test-blocked"]
        assert thread.daemon
    finally:
        gate.set()
        assert call.wait(10.0)
