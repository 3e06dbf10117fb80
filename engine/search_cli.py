"""``python main.py search DESIGN.json --trials N [--timeout S] [--storage URL] [--study NAME]
[--jobs J] [--out DIR] [--device D] [--apply]``.

Runs an Optuna study over the design's ``search`` section (:mod:`engine.search`). One line per
trial goes to stdout as it ends (number, state, value, duration, values), then the best trial
and the study's counts. ``--apply`` writes the best trial's values into DESIGN.json atomically
(only when the search ran to its end and a trial completed; otherwise the file is left as it
was). Exit codes: 0 done, 1 invalid design or search section (or nothing to apply), 2 unreadable
file, bad usage or a storage that cannot be opened, 130 stopped with Ctrl+C (the study stays
resumable: run the same command again).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.cli import fail, guarded, two_step_ctrl_c
from engine.errors import printable
from engine.io import load_design, save_design


@contextmanager
def _stop_on_ctrl_c(runner) -> Iterator[None]:
    """First Ctrl+C: stop the running trial at its next batch (queued again for the next run);
    a second one aborts at once."""
    with two_step_ctrl_c(runner, "stopping the search after this batch"):
        yield


def _runner(args: argparse.Namespace, design):
    """The study runner the flags ask for (raises the engine's one-line errors)."""
    from engine.search import SearchCallback, SearchRunner, TrialRecord

    class Lines(SearchCallback):
        def on_trial_end(self, trial: TrialRecord) -> None:
            print(printable(trial.line()), flush=True)

    return SearchRunner(
        design,
        args.trials,
        runs_dir=Path(args.out) if args.out else Path("runs"),
        base_dir=Path(args.design).resolve().parent,
        storage=args.storage,
        study_name=args.study,
        timeout=args.timeout,
        jobs=args.jobs,
        device=args.device,
        callbacks=[Lines()],
        stem=Path(args.design).stem,
    )


def _print_outcome(outcome) -> None:
    """The best trial and the study's counts, on stdout."""
    counts = ", ".join(f"{n} {state}" for state, n in sorted(outcome.counts.items()))
    best = outcome.best
    if best is not None:
        params = " ".join(f"{k}={v!r}" for k, v in best.params.items())
        print(
            printable(
                f"best: trial {best.number}  {outcome.monitor or 'value'} {best.value:.4g}  "
                f"{params}" + (f"  (run {best.run_dir})" if best.run_dir else "")
            )
        )
    print(printable(f"study {outcome.study_name!r}: {counts}"))


def run_search(args: argparse.Namespace) -> int:
    """Entry point of ``main.py search``."""

    def body() -> int:
        from engine.search import StorageError, best_trial_design, describe_storage

        design = load_design(args.design)
        try:
            runner = _runner(args, design)
        except StorageError as exc:
            return fail(str(exc), 2)
        sys.stderr.write(
            printable(
                f"study {runner.study.study_name!r} in {describe_storage(args.storage)}: "
                f"{args.trials} trials over "
                + "; ".join(d.describe() for d in runner.space.dimensions)
            )
            + "\n"
        )
        with _stop_on_ctrl_c(runner):
            outcome = runner.run()
        _print_outcome(outcome)
        if outcome.stopped:
            sys.stderr.write(
                "search stopped: run the same command again to continue the study"
                + (" (--apply skipped)" if args.apply else "")
                + "\n"
            )
            return 130
        if args.apply:
            better = best_trial_design(runner.study, design)  # no complete trial: exit 1
            save_design(better, args.design)
            print(printable(f"applied trial {outcome.best.number}'s values to {args.design}"))
        return 0

    return guarded(body)
