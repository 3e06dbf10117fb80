"""Search over a design's settings with Optuna: every trial is a real run in the run folder.

::

    runner = SearchRunner(design, n_trials=20, runs_dir="runs", storage="journal:///s.log",
                          callbacks=[MyCallback()])
    outcome = runner.run()            # blocks; runner.request_stop() from any thread stops it
    better = best_trial_design(runner.study, design)

The space is the design's ``search`` section (:mod:`engine.search_space`). Each trial applies
its values to a copy of the design, checks the shapes (an invalid design fails the trial with
the one-line reason), and trains it with the same :class:`~engine.training.trainer.Trainer`
``main.py train`` uses, into ``<runs_dir>/<stem>-trial-NNNN-<date>-<time>`` (with a
``trial.json`` naming the study). The objective is the loss best-epoch tracking watches
(``val_loss``, else ``train_loss``), minimized; its value is the best epoch's. The sampler is
TPE, reseeded from the section's ``seed`` and the trial number (so one worker is reproducible and
two workers never propose the same startup points); the pruner is Optuna's MedianPruner, fed the
monitored loss after every epoch through a trainer callback, and a pruned trial stops through
the trainer's own stop flag (its run folder keeps the epochs done).

``n_trials`` is the number of finished trials the *study* should hold (complete, pruned or
failed): rerunning with the same storage and study continues to that total, and several workers
on one storage share it (each may finish the trial it is running when the total is reached).
:meth:`SearchRunner.request_stop` stops the running trial at its next batch, records it as
failed with ``interrupted`` set and queues its values again, so the next run retries it first.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from engine.errors import DeepwireError, first_line
from engine.graph import Design
from engine.search_space import SearchError, SearchSpace, apply_params, parse_search
from engine.shapes import analyze
from engine.training.config import TrainConfig
from engine.training.events import Callback, EpochEvent
from engine.training.run_files import new_run_folder

#: The file each trial's run folder gets besides the trainer's files.
TRIAL_FILE = "trial.json"
#: What a journal storage's URL starts with (a path ending .log works too).
JOURNAL_SCHEME = "journal://"
INTERRUPTED = "interrupted"

optuna.logging.set_verbosity(optuna.logging.WARNING)


# -- records the front ends receive ---------------------------------------------------------------


@dataclass
class TrialRecord:
    """One trial as the trials table shows it.

    ``state``: ``running``, ``complete``, ``pruned``, ``failed``, ``interrupted`` (stopped by a
    request; queued again) or ``waiting`` (queued). ``value`` is the objective (the best epoch's
    monitored loss; for a pruned trial the last one reported), ``error`` the one-line reason of a
    failure, ``run_dir`` the trial's run folder.
    """

    number: int
    state: str
    params: dict[str, Any]
    value: float | None = None
    duration_s: float | None = None
    run_dir: str | None = None
    error: str | None = None
    epochs_done: int = 0

    @classmethod
    def from_frozen(cls, trial: FrozenTrial) -> TrialRecord:
        """The record of a trial stored in a study."""
        attrs = trial.user_attrs
        state = {
            TrialState.COMPLETE: "complete",
            TrialState.PRUNED: "pruned",
            TrialState.FAIL: "failed",
            TrialState.RUNNING: "running",
            TrialState.WAITING: "waiting",
        }[trial.state]
        if state == "failed" and attrs.get(INTERRUPTED):
            state = "interrupted"
        duration = trial.duration.total_seconds() if trial.duration is not None else None
        value = trial.value if trial.state == TrialState.COMPLETE else None
        if trial.state == TrialState.PRUNED and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        return cls(
            number=trial.number,
            state=state,
            params=dict(trial.params),
            value=value,
            duration_s=duration,
            run_dir=attrs.get("run_dir"),
            error=attrs.get("error"),
            epochs_done=len(trial.intermediate_values),
        )

    def line(self) -> str:
        """``trial 3  complete  val_loss 0.2134  4.2 s  lr=0.0012 batch_size=32``."""
        value = f"{self.value:.4g}" if self.value is not None else "-"
        took = f"{self.duration_s:.1f} s" if self.duration_s is not None else "-"
        params = " ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        text = f"trial {self.number}  {self.state}  value {value}  {took}  {params}"
        return text + (f"  ({self.error})" if self.error else "")


@dataclass
class SearchStart:
    """What a search is about to do: ``trials`` already in the study (for the table)."""

    study_name: str
    storage: str | None
    n_trials: int
    space: SearchSpace
    trials: list[TrialRecord]


@dataclass
class SearchOutcome:
    """How a search ended: every trial of the study, the best complete one, why it ended."""

    study_name: str
    monitor: str | None
    trials: list[TrialRecord]
    best: TrialRecord | None
    stopped: bool = False
    timed_out: bool = False
    counts: dict[str, int] = field(default_factory=dict)


class SearchCallback:
    """Hooks of a search; they run on the worker thread that ran the trial (several with
    ``jobs`` > 1), so keep them quick (copy into a queue and return)."""

    def on_search_start(self, start: SearchStart) -> None:
        """The study is open; ``start.trials`` are the ones it held already."""

    def on_trial_start(self, trial: TrialRecord) -> None:
        """A trial got its values and is about to train."""

    def on_trial_epoch(self, number: int, epoch: int, epochs: int, value: float | None) -> None:
        """Trial ``number`` finished ``epoch`` of ``epochs``; ``value`` the monitored loss."""

    def on_trial_end(self, trial: TrialRecord) -> None:
        """A trial ended (complete, pruned, failed or interrupted)."""

    def on_search_end(self, outcome: SearchOutcome) -> None:
        """The search ended (finished, timed out or stopped)."""


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, str) else str(value)


# -- storage and study ----------------------------------------------------------------------------


class StorageError(SearchError):
    """A study's storage cannot be opened or used (the command line exits 2 for it)."""


def describe_storage(url: str | None) -> str:
    """How messages name a storage (in memory when None)."""
    return url if url else "memory (this process only)"


def open_storage(url: str | None) -> Any:
    """The optuna storage ``url`` names: None → in memory (this process only); ``journal:///PATH``
    or a path ending ``.log`` → a journal file several processes may share; any other URL with
    ``://`` (``sqlite:///FILE.db``, ``postgresql://…``) → an RDB storage. A storage that cannot be
    opened raises :class:`SearchError` (one line)."""
    if not url:
        return None
    path: str | None = None
    if url.startswith(JOURNAL_SCHEME):
        path = url[len(JOURNAL_SCHEME) :]
    elif "://" not in url and url.endswith(".log"):
        path = url
    try:
        if path is not None:
            from optuna.storages import JournalStorage
            from optuna.storages.journal import JournalFileBackend

            if not path:
                raise StorageError(f"--storage {url}: no file named; use journal:///PATH.log")
            if Path(path).is_dir():
                raise StorageError(f"--storage {url}: {path} is a folder; name a file")
            if not Path(path).parent.is_dir():
                raise StorageError(
                    f"--storage {url}: folder {Path(path).parent} does not exist; create it "
                    "or choose another path"
                )
            return JournalStorage(JournalFileBackend(path))
        if "://" not in url:
            raise StorageError(
                f"--storage {url}: not a storage; use sqlite:///FILE.db, journal:///FILE.log, "
                "a FILE.log, or a database URL optuna accepts"
            )
        return optuna.storages.RDBStorage(url)
    except StorageError:
        raise
    except Exception as exc:  # sqlalchemy's, a missing driver, an unreachable server
        raise StorageError(
            f"--storage {url}: cannot open it ({first_line(exc, 160)}); check the URL, that "
            "the server is reachable and the file's folder exists"
        ) from None


class _TrialSeededTPE(optuna.samplers.TPESampler):
    """TPE whose random streams restart from ``seed`` and the trial number before each trial:
    one worker is reproducible, and workers sharing a study draw different startup points."""

    def __init__(self, seed: int, **kwargs: Any) -> None:
        super().__init__(seed=seed, **kwargs)
        self._base_seed = seed

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        s = (self._base_seed * 1_000_003 + trial.number) % (2**32)
        self._rng.rng.seed(s)
        self._random_sampler._rng.rng.seed(s)
        super().before_trial(study, trial)


def make_sampler(space: SearchSpace) -> optuna.samplers.BaseSampler:
    """The search's sampler: TPE seeded by the section's ``seed`` and the trial number."""
    return _TrialSeededTPE(space.seed)


def make_pruner(space: SearchSpace) -> optuna.pruners.BasePruner:
    """MedianPruner after ``startup_trials`` trials and ``warmup_epochs`` epochs, or none."""
    if not space.pruning:
        return optuna.pruners.NopPruner()
    return optuna.pruners.MedianPruner(
        n_startup_trials=space.startup_trials, n_warmup_steps=space.warmup_epochs
    )


def default_study_name(design: Design) -> str:
    """``<design name>-search`` with characters other than letters, digits, ``-_.`` replaced."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", design.name or "design").strip("_") + "-search"


def open_study(
    design: Design,
    space: SearchSpace,
    storage: str | None = None,
    study_name: str | None = None,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Create the study, or load it when ``storage`` holds one of that name; a stored study made
    for another search space (or maximizing) is refused with one line."""
    name = study_name or default_study_name(design)
    store = open_storage(storage)
    try:
        study = optuna.create_study(
            storage=store,
            study_name=name,
            direction="minimize",
            sampler=sampler or make_sampler(space),
            pruner=pruner or make_pruner(space),
            load_if_exists=True,
        )
    except Exception as exc:
        raise StorageError(
            f"--storage {describe_storage(storage)}: cannot open study {name!r} "
            f"({first_line(exc, 160)})"
        ) from None
    if study.direction != optuna.study.StudyDirection.MINIMIZE:
        raise StorageError(
            f"study {name!r} in {describe_storage(storage)} maximizes; Deepwire minimizes the "
            "monitored loss: use another --study name"
        )
    signature = space.signature()
    stored = study.user_attrs.get("space")
    if stored is None:
        study.set_user_attr("space", signature)
        study.set_user_attr("design", design.name)
    elif stored != signature:
        raise StorageError(
            f"study {name!r} in {describe_storage(storage)} was made for another search space "
            "(its entries differ from this design's search section): use another --study name, "
            "or restore the space it was made with"
        )
    return study


def study_records(study: optuna.Study) -> list[TrialRecord]:
    """Every trial of ``study`` as a record, by number."""
    return [TrialRecord.from_frozen(t) for t in study.get_trials(deepcopy=False)]


def best_record(study: optuna.Study) -> TrialRecord | None:
    """The complete trial with the lowest value (None when none completed)."""
    done = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    if not done:
        return None
    return TrialRecord.from_frozen(min(done, key=lambda t: (t.value, t.number)))


def best_trial_design(study: optuna.Study, design: Design) -> Design:
    """``design`` with the best complete trial's values applied (a copy; its search section
    kept). Raises :class:`SearchError` when no trial completed."""
    best = best_record(study)
    if best is None:
        raise SearchError(
            f"study {study.study_name!r} has no complete trial yet, so there is nothing to "
            "apply: run more trials"
        )
    return apply_params(design, best.params)


# -- the runner -----------------------------------------------------------------------------------


class _TrialReporter(Callback):
    """Feeds the monitored loss of every epoch to the trial and stops the trainer when the
    pruner says so."""

    wants_layer_stats = False  # epoch values only: a trial samples no layer statistics for it
    wants_epoch_samples = False  # … and computes no epoch pictures

    def __init__(self, runner: SearchRunner, trial: optuna.Trial) -> None:
        self.runner, self.trial = runner, trial
        self.trainer: Any = None
        self.pruned = False
        self.last_value: float | None = None

    def on_epoch_end(self, event: EpochEvent) -> None:
        monitor = self.trainer.monitor if self.trainer is not None else None
        value = event.metrics.get(monitor) if monitor else None
        if value is not None and math.isfinite(value):
            self.trial.report(float(value), event.epoch)
            self.last_value = float(value)
        for cb in self.runner.callbacks:
            cb.on_trial_epoch(self.trial.number, event.epoch, event.epochs, value)
        if value is not None and event.epoch < event.epochs and self.trial.should_prune():
            self.pruned = True
            self.trainer.request_stop()


class SearchRunner:
    """Runs a study over ``design``'s search space (see the module docstring).

    ``runs_dir`` receives one run folder per trial (None: trials write no files). ``base_dir``
    is where the data section's relative paths start. ``device`` overrides the training
    section's. ``jobs`` trials run at once in threads of this process (torch in threads is
    slower here: several processes on one storage scale better). ``sampler``/``pruner`` replace
    the defaults (tests force pruning with their own). :meth:`request_stop` may be called from
    any thread.
    """

    def __init__(
        self,
        design: Design,
        n_trials: int,
        *,
        runs_dir: str | Path | None = None,
        base_dir: str | Path | None = None,
        storage: str | None = None,
        study_name: str | None = None,
        timeout: float | None = None,
        jobs: int = 1,
        device: str | None = None,
        callbacks: list[SearchCallback] | tuple[SearchCallback, ...] = (),
        sampler: optuna.samplers.BaseSampler | None = None,
        pruner: optuna.pruners.BasePruner | None = None,
        stem: str | None = None,
    ) -> None:
        if n_trials < 1:
            raise SearchError(f"the number of trials is {n_trials}; ask for at least 1")
        if jobs < 1:
            raise SearchError(f"jobs is {jobs}; run at least 1 trial at a time")
        if timeout is not None and not timeout > 0:
            raise SearchError(f"the timeout is {timeout:g} s; give a positive number of seconds")
        self.design = design.copy()
        self.space = parse_search(self.design)
        config = TrainConfig.from_design(self.design)
        if config.task == "gan":
            raise SearchError(
                "a search minimizes a validation or training loss, and GAN training has none to "
                "compare trials by: search a supervised, autoencoder or SOM design"
            )
        self.n_trials = n_trials
        self.runs_dir = Path(runs_dir) if runs_dir is not None else None
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.storage = storage
        self.timeout = timeout
        self.jobs = jobs
        self.device = device
        self.callbacks = list(callbacks)
        self.stem = stem or re.sub(r"[^A-Za-z0-9_.-]+", "_", design.name or "design")
        self.study = open_study(self.design, self.space, storage, study_name, sampler, pruner)
        self.monitor: str | None = self.study.user_attrs.get("monitor")
        self._lock = threading.Lock()
        self._trainers: dict[int, Any] = {}
        self._running = 0
        self._stop = threading.Event()
        self._timed_out = False
        self._t0 = 0.0

    # -- control ----------------------------------------------------------------------------------
    def request_stop(self) -> None:
        """Start no new trial and stop the running ones at their next batch; they are recorded
        as interrupted and queued again, so a later run retries them first."""
        self._stop.set()
        with self._lock:
            trainers = list(self._trainers.values())
        for trainer in trainers:
            trainer.request_stop()

    @property
    def stop_requested(self) -> bool:
        """True once a stop was asked for (the running trial ends at its next batch)."""
        return self._stop.is_set()

    # -- the study --------------------------------------------------------------------------------
    def _finished(self) -> int:
        """Trials that count towards ``n_trials``: finished ones (interrupted ones excluded)."""
        n = 0
        for t in self.study.get_trials(deepcopy=False):
            if t.state in (TrialState.COMPLETE, TrialState.PRUNED):
                n += 1
            elif t.state == TrialState.FAIL and not t.user_attrs.get(INTERRUPTED):
                n += 1
        return n

    def _may_start(self) -> bool:
        if self._stop.is_set():
            return False
        if self.timeout is not None and time.perf_counter() - self._t0 >= self.timeout:
            self._timed_out = True
            return False
        return self._finished() + self._running < self.n_trials

    def run(self) -> SearchOutcome:
        """Run trials until the study holds ``n_trials`` finished ones, the timeout passes or a
        stop is requested; returns the outcome (also given to ``on_search_end``)."""
        self._t0 = time.perf_counter()
        start = SearchStart(
            self.study.study_name,
            self.storage,
            self.n_trials,
            self.space,
            study_records(self.study),
        )
        for cb in self.callbacks:
            cb.on_search_start(start)
        if self.jobs == 1:
            self._work()
        else:
            errors: list[BaseException] = []

            def work() -> None:
                try:
                    self._work()
                except BaseException as exc:  # re-raised on the calling thread
                    errors.append(exc)
                    self.request_stop()

            threads = [threading.Thread(target=work, daemon=True) for _ in range(self.jobs)]
            for t in threads:
                t.start()
            for t in threads:
                while t.is_alive():
                    t.join(0.2)  # a short join keeps Ctrl+C responsive
            if errors:
                raise errors[0]
        outcome = self.outcome()
        for cb in self.callbacks:
            cb.on_search_end(outcome)
        return outcome

    def outcome(self) -> SearchOutcome:
        """The study as it stands: every trial, the best one, how this run ended."""
        records = study_records(self.study)
        counts: dict[str, int] = {}
        for r in records:
            counts[r.state] = counts.get(r.state, 0) + 1
        return SearchOutcome(
            study_name=self.study.study_name,
            monitor=self.monitor,
            trials=records,
            best=best_record(self.study),
            stopped=self._stop.is_set(),
            timed_out=self._timed_out,
            counts=counts,
        )

    def _work(self) -> None:
        distributions = self.space.distributions()
        while True:
            with self._lock:
                if not self._may_start():
                    return
                self._running += 1
                trial = self.study.ask(distributions)  # under the lock: the sampler is reseeded
            try:
                self._trial(trial)
            finally:
                with self._lock:
                    self._running -= 1

    def _tell(self, trial: optuna.Trial, record: TrialRecord, **kwargs: Any) -> None:
        if record.error:
            trial.set_user_attr("error", record.error)
        self.study.tell(trial, **kwargs)
        for cb in self.callbacks:
            cb.on_trial_end(record)

    def _trial(self, trial: optuna.Trial) -> None:
        """Run one trial to its end and tell the study how it ended."""
        params, number = dict(trial.params), trial.number
        t0 = time.perf_counter()
        for cb in self.callbacks:
            cb.on_trial_start(TrialRecord(number, "running", params))

        def ended(state: str, value=None, error=None, epochs: int = 0) -> TrialRecord:
            run_dir = str(out_dir) if out_dir is not None else None
            took = time.perf_counter() - t0
            return TrialRecord(number, state, params, value, took, run_dir, error, epochs)

        out_dir: Path | None = None
        try:
            design, config = self._trial_design(params)
        except DeepwireError as exc:
            self._tell(trial, ended("failed", error=first_line(exc)), state=TrialState.FAIL)
            return
        out_dir = self._out_dir(number)
        if out_dir is not None:
            trial.set_user_attr("run_dir", str(out_dir.resolve()))
        reporter = _TrialReporter(self, trial)
        from engine.training.trainer import Trainer

        trainer = Trainer(
            design, config, callbacks=[reporter], base_dir=self.base_dir, out_dir=out_dir
        )
        reporter.trainer = trainer
        with self._lock:
            self._trainers[number] = trainer
            if self._stop.is_set():
                trainer.request_stop()
        try:
            summary = trainer.fit()
        except KeyboardInterrupt:
            self._interrupted(trial, ended(INTERRUPTED))
            raise
        except DeepwireError as exc:
            self._end(trial, ended("failed", None, first_line(exc), trainer.epoch), TrialState.FAIL)
            return
        finally:
            with self._lock:
                self._trainers.pop(number, None)
        self._finish(trial, reporter, summary, ended)

    def _finish(self, trial: optuna.Trial, reporter: _TrialReporter, summary: Any, ended) -> None:
        """Tell the study how a trial whose training returned ended: pruned, interrupted,
        complete, or failed for want of a loss to compare."""
        if summary.monitor and self.monitor is None:
            self.monitor = summary.monitor
            self.study.set_user_attr("monitor", summary.monitor)
        done = summary.epochs_completed
        if reporter.pruned:
            self._end(trial, ended("pruned", reporter.last_value, None, done), TrialState.PRUNED)
            return
        if summary.stopped:  # a stop request, not the pruner
            self._interrupted(trial, ended(INTERRUPTED, None, None, done))
            return
        best = summary.best or {}
        value = best.get(summary.monitor) if summary.monitor else None
        if value is None or not math.isfinite(value):
            why = f"the run has no {summary.monitor or 'loss'} to compare trials by"
            self._end(trial, ended("failed", None, why, done), TrialState.FAIL)
            return
        self._end(trial, ended("complete", float(value), None, done), TrialState.COMPLETE)

    def _end(self, trial: optuna.Trial, record: TrialRecord, state: TrialState) -> None:
        """Write the trial's trial.json and tell the study."""
        self._write_trial_file(Path(record.run_dir) if record.run_dir else None, record)
        if state == TrialState.COMPLETE:
            self._tell(trial, record, values=record.value)
        else:
            self._tell(trial, record, state=state)

    def _interrupted(self, trial: optuna.Trial, record: TrialRecord) -> None:
        """Record a trial stopped by request as failed + interrupted and queue its values."""
        trial.set_user_attr(INTERRUPTED, True)
        self._write_trial_file(Path(record.run_dir) if record.run_dir else None, record)
        self._tell(trial, record, state=TrialState.FAIL)
        self.study.enqueue_trial(record.params, user_attrs={"retry_of": record.number})

    def _trial_design(self, params: dict[str, Any]) -> tuple[Design, TrainConfig]:
        """The trial's design and settings, checked: an invalid one raises the one-line reason."""
        design = apply_params(self.design, params)
        analysis = analyze(design)
        if not analysis.valid:
            problem = analysis.problems[0]
            raise SearchError(f"these values make the design invalid: {problem}")
        overrides = {"device": self.device} if self.device else None
        return design, TrainConfig.from_design(design, overrides)

    def _out_dir(self, number: int) -> Path | None:
        if self.runs_dir is None:
            return None
        with self._lock:  # two threads must not pick the same free name
            for _ in range(100):  # another process may take a name between looking and making
                folder = new_run_folder(self.runs_dir, f"{self.stem}-trial-{number:04d}")
                try:
                    folder.mkdir(parents=True, exist_ok=False)
                    return folder
                except FileExistsError:
                    continue
        raise SearchError(f"cannot make a run folder for trial {number} in {self.runs_dir}")

    def _write_trial_file(self, out_dir: Path | None, record: TrialRecord) -> None:
        """``trial.json``: the study, storage and trial, for the Runs panel and for people."""
        if out_dir is None or not out_dir.is_dir():
            return
        info = {
            "study": self.study.study_name,
            "storage": self.storage,
            "monitor": self.monitor,
            **asdict(record),
        }
        try:
            from engine.files import atomic_write_bytes

            atomic_write_bytes(
                out_dir / TRIAL_FILE, (json.dumps(info, indent=2) + "\n").encode("utf-8")
            )
        except OSError:
            pass
