"""Runs one :class:`engine.search.SearchRunner` off the GUI thread and streams its progress.

The search runs in a :class:`~gui.workers.BackgroundCall` (joined, bounded, when the
application exits). Its :class:`~engine.search.SearchCallback` hooks only append plain records
to a :class:`collections.deque`; a :class:`~PySide6.QtCore.QTimer` on the GUI thread drains it a
few times a second and emits one :attr:`SearchSession.progress` per drain — the pattern of
:mod:`gui.runner`. Parameter importances (Optuna's own evaluator) are computed in the worker
after each trial once two trials completed, so the GUI thread never runs them.

:meth:`SearchSession.stop` asks the runner to stop (the running trial stops at its next batch
and is queued again: a study in a storage file is resumable); :meth:`SearchSession.shutdown`
stops and joins the worker with a time limit.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from engine.errors import first_line
from engine.graph import Design
from gui.workers import BackgroundCall

DRAIN_MS = 100
JOIN_TIMEOUT_S = 10.0
MIN_COMPLETE_FOR_IMPORTANCE = 2


@dataclass
class SearchRequest:
    """What to run: a snapshot of the design and the runner's options."""

    design: Design
    n_trials: int
    timeout: float | None = None
    storage: str | None = None
    study_name: str | None = None
    runs_dir: Path | None = None
    base_dir: Path | None = None
    stem: str | None = None
    jobs: int = 1
    device: str | None = None  # None: the training section's


@dataclass
class Progress:
    """One item of the stream: ``kind`` is ``start`` (data: SearchStart), ``trial_start`` /
    ``trial_end`` (a TrialRecord), ``epoch`` ((number, epoch, epochs, value)), ``importances``
    (param → share) or ``importance_error`` (one line)."""

    kind: str
    data: Any


@dataclass
class SearchResult:
    """How the worker ended: the outcome and the study (for "apply best"), or ``error``."""

    outcome: Any = None  # engine.search.SearchOutcome
    study: Any = None  # optuna.Study
    error: str | None = None


class _Bridge:
    """The worker's side: every hook appends to the deque and returns."""

    def __init__(self, sink: deque) -> None:
        self.sink = sink
        self.runner: Any = None

    def on_search_start(self, start: Any) -> None:
        self.sink.append(Progress("start", start))

    def on_trial_start(self, trial: Any) -> None:
        self.sink.append(Progress("trial_start", trial))

    def on_trial_epoch(self, number: int, epoch: int, epochs: int, value: float | None) -> None:
        self.sink.append(Progress("epoch", (number, epoch, epochs, value)))

    def on_trial_end(self, trial: Any) -> None:
        self.sink.append(Progress("trial_end", trial))
        if trial.state == "complete" and self.runner is not None:
            self._importances()

    def on_search_end(self, outcome: Any) -> None:
        pass  # the call's result carries it

    def _importances(self) -> None:
        from optuna.importance import get_param_importances
        from optuna.trial import TrialState

        study = self.runner.study
        complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
        if len(complete) < MIN_COMPLETE_FOR_IMPORTANCE:
            return
        try:
            shares = get_param_importances(study)
        except Exception as exc:  # noqa: BLE001 - e.g. every complete trial had the same values
            self.sink.append(Progress("importance_error", first_line(exc)))
            return
        self.sink.append(Progress("importances", {k: float(v) for k, v in shares.items()}))


def _run_search(request: SearchRequest, bridge: _Bridge, stop: threading.Event) -> SearchResult:
    """The worker: build the runner (it opens the storage), run it, return the outcome."""
    from engine.search import SearchCallback, SearchRunner

    class Hooks(SearchCallback):
        on_search_start = staticmethod(bridge.on_search_start)
        on_trial_start = staticmethod(bridge.on_trial_start)
        on_trial_epoch = staticmethod(bridge.on_trial_epoch)
        on_trial_end = staticmethod(bridge.on_trial_end)

    runner = SearchRunner(
        request.design,
        request.n_trials,
        runs_dir=request.runs_dir,
        base_dir=request.base_dir,
        storage=request.storage,
        study_name=request.study_name,
        timeout=request.timeout,
        callbacks=[Hooks()],
        stem=request.stem,
        jobs=request.jobs,
        device=request.device,
    )
    bridge.runner = runner
    if stop.is_set():
        runner.request_stop()
    outcome = runner.run()
    return SearchResult(outcome, runner.study)


class SearchSession(QObject):
    """At most one search at a time; lives on (and signals to) the GUI thread."""

    progress = Signal(object)  # list[Progress], in order
    finished = Signal(object)  # SearchResult
    stateChanged = Signal(str)  # "idle", "running", "stopping"

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.buffer: deque = deque()
        self._call: BackgroundCall | None = None
        self._bridge: _Bridge | None = None
        self._stop = threading.Event()
        self._state = "idle"
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_MS)
        self._timer.timeout.connect(self.drain)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)  # only asks: the exit path joins (bounded)

    @property
    def state(self) -> str:
        """The session's state: "idle", "running" or "stopping"."""
        return self._state

    @property
    def is_active(self) -> bool:
        """True from :meth:`start` until :attr:`finished` was emitted."""
        return self._call is not None

    @property
    def alive(self) -> bool:
        """True while the worker thread runs."""
        return self._call is not None and self._call.alive

    def start(self, request: SearchRequest) -> None:
        """Run the search in the worker (the design is copied here, on the GUI thread)."""
        if self._call is not None:
            raise RuntimeError("a search is already running: stop it first")
        request.design = request.design.copy()
        self.buffer.clear()
        self._stop = threading.Event()
        self._bridge = _Bridge(self.buffer)
        self._call = BackgroundCall(
            _run_search, request, self._bridge, self._stop, parent=self, name="deepwire-search"
        )
        self._call.done.connect(self._on_done)
        self._call.start()
        self._timer.start()
        self._set_state("running")

    @Slot()
    def stop(self) -> None:
        """Ask the search to stop: no new trial; the running one stops at its next batch."""
        if self._call is None or self._stop.is_set():
            return
        self._stop.set()
        runner = self._bridge.runner if self._bridge is not None else None
        if runner is not None:
            runner.request_stop()
        self._set_state("stopping")

    def shutdown(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Stop and wait for the worker at most ``timeout`` s (0: only ask); True when it has
        ended. :attr:`finished` is not emitted: whoever shuts down is going away."""
        call = self._call
        if call is None:
            return True
        self.stop()
        if timeout > 0 and not call.wait(timeout):
            return False
        if call.alive:
            return False
        self._timer.stop()
        call.done.disconnect(self._on_done)
        self._call = None
        self.buffer.clear()
        self._set_state("idle")
        return True

    @Slot()
    def drain(self) -> None:
        """Move what the worker buffered to the GUI: one :attr:`progress` per call."""
        items: list[Progress] = []
        while self.buffer:
            items.append(self.buffer.popleft())
        if self._stop.is_set() and self._bridge is not None and self._bridge.runner is not None:
            self._bridge.runner.request_stop()  # a stop asked while the runner was being built
        if items:
            self.progress.emit(items)

    def _on_done(self, result: Any, error: str | None) -> None:
        self.drain()
        self._timer.stop()
        self._call = None
        self._set_state("idle")
        self.finished.emit(result if error is None else SearchResult(error=error))

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)
