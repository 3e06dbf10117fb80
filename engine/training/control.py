"""Run control: the cooperative stop and pause flags other threads set and the trainer reads.

:meth:`RunControl.request_stop`, :meth:`~RunControl.pause` and :meth:`~RunControl.resume` may be
called from any thread. The trainer reads the one :attr:`RunControl.interrupt` flag before every
batch (a plain attribute read, cheap in the hot loop) and only when it is set calls
:meth:`RunControl.interrupted`, which holds while paused and says whether to stop.
"""

from __future__ import annotations

import threading
import time


class RunControl:
    """The stop and pause requests of one run, and the time it spent paused."""

    def __init__(self) -> None:
        self.interrupt = False  # set when the next batch must look at the flags
        self.stop_requested = False
        self.pause_requested = False
        self.paused_s = 0.0  # seconds held by pause, subtracted from training time
        self._running = threading.Event()
        self._running.set()

    def request_stop(self) -> None:
        """Stop before the next batch (a paused run stops too)."""
        self.stop_requested = True
        self.interrupt = True
        self._running.set()

    def pause(self) -> None:
        """Hold before the next batch until :meth:`resume` or :meth:`request_stop`."""
        self.pause_requested = True
        self._running.clear()
        self.interrupt = True

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self.pause_requested = False
        self.interrupt = self.stop_requested
        self._running.set()

    @property
    def paused(self) -> bool:
        """Paused and not asked to stop."""
        return self.pause_requested and not self.stop_requested

    def interrupted(self) -> bool:
        """Wait while paused (counting the time); True when the run must stop."""
        while self.pause_requested and not self.stop_requested:
            t = time.perf_counter()
            self._running.wait(0.1)
            self.paused_s += time.perf_counter() - t
        return self.stop_requested
