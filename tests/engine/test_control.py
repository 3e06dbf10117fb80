"""Run control: stop and pause requests from another thread, and the paused time."""

from __future__ import annotations

import threading

from engine.training.control import RunControl


def test_a_fresh_run_is_not_interrupted():
    control = RunControl()
    assert not control.interrupt and not control.interrupted() and not control.paused


def test_pause_holds_until_resume_and_counts_the_time():
    control = RunControl()
    control.pause()
    assert control.interrupt and control.paused
    result: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(control.interrupted()))
    worker.start()
    worker.join(0.3)
    assert worker.is_alive()  # held while paused
    control.resume()
    worker.join(5)
    assert not worker.is_alive() and result == [False] and control.paused_s > 0
    assert not control.interrupt  # nothing left to look at before the next batch


def test_stop_ends_a_paused_run():
    control = RunControl()
    control.pause()
    worker = threading.Thread(target=control.interrupted)
    worker.start()
    control.request_stop()
    worker.join(5)
    assert not worker.is_alive() and control.stop_requested and not control.paused
    control.resume()  # a stop stays requested
    assert control.interrupt and control.interrupted()
