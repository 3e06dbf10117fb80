"""``python main.py runs DESIGN.json [--json] [--add FOLDER]``: the runs of a design.

Lists the design's run store (:mod:`engine.runs`), newest first: a table (name, status, started,
duration, epochs, best metric, device, whether the design changed since) or, with ``--json``,
one object ``{"store": ROOT, "runs": [...]}``. ``--add FOLDER`` first registers a run folder that
lies outside the store. Exit codes: 0 listed (also when there are no runs), 1 a folder that
cannot be added, 2 unreadable design file or bad usage. Torch is never imported.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from engine.cli import guarded
from engine.errors import printable
from engine.io import load_design
from engine.runs import RunRecord, design_changed_since, duration_text, store_for

COLUMNS = ("name", "status", "started", "duration", "epochs", "best", "device", "changed")


def _started(rec: RunRecord) -> str:
    if rec.started is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(rec.started))


def _best(rec: RunRecord) -> str:
    value = rec.best_value
    return "-" if value is None else f"{rec.monitor} {value:.4g}"


def _changed(flag: bool | None) -> str:
    return "?" if flag is None else "yes" if flag else "no"


def run_row(rec: RunRecord, changed: bool | None) -> dict[str, str]:
    """One table row as text."""
    status = rec.status + (" *" if rec.star else "")
    epochs = f"{rec.epochs_completed}/{rec.epochs}" if rec.epochs else str(rec.epochs_completed)
    return {
        "name": rec.name,
        "status": status,
        "started": _started(rec),
        "duration": duration_text(rec.duration_s),
        "epochs": epochs,
        "best": _best(rec),
        "device": rec.device or "-",
        "changed": _changed(changed),
    }


def run_json(rec: RunRecord, design: Any) -> dict[str, Any]:
    """One run as the ``--json`` output has it."""
    diff = rec.settings_diff(design) if rec.status != "unreadable" else {}
    return {
        "name": rec.name,
        "path": str(rec.path),
        "status": rec.status,
        "reason": rec.reason or None,
        "started": rec.started,
        "duration_s": rec.duration_s,
        "epochs_completed": rec.epochs_completed,
        "epochs": rec.epochs,
        "monitor": rec.monitor,
        "best_value": rec.best_value,
        "best_epoch": rec.best_epoch,
        "best": rec.best,
        "final": rec.final,
        "device": rec.device,
        "task": rec.task,
        "note": rec.note,
        "star": rec.star,
        "design_changed": design_changed_since(rec, design),
        "settings_diff": {k: list(v) for k, v in diff.items()},
    }


def table(rows: list[dict[str, str]]) -> str:
    """Left-aligned columns under a header line."""
    widths = {c: max([len(c)] + [len(r[c]) for r in rows]) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS).rstrip()]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS).rstrip() for r in rows]
    return "\n".join(lines)


def run_runs(args: argparse.Namespace) -> int:
    """Entry point of ``main.py runs``."""

    def body() -> int:
        design = load_design(args.design)
        store = store_for(args.design, design.name)
        if getattr(args, "add", None):
            store.add_run(args.add)
        runs = store.list_runs()
        if args.json:
            out = {"store": str(store.root), "runs": [run_json(r, design) for r in runs]}
            print(json.dumps(out, indent=2))
            return 0
        if not runs:
            print(printable(f"no runs of {store.stem} in {store.root}"))
            return 0
        text = table([run_row(r, design_changed_since(r, design)) for r in runs])
        for line in text.splitlines():
            print(printable(line))
        for rec in runs:
            if rec.status in ("unreadable", "failed") and rec.reason:
                print(printable(f"{rec.name}: {rec.reason}"))
        return 0

    return guarded(body)
