"""Comparing runs side by side (no Qt, no torch): their settings and metrics as rows with the
differences marked, the metric their curves are drawn on, and each run's curve of a metric.

The Runs panel (gui/panels/runs) draws what these functions return; ``main.py runs`` could print
it the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from engine.runs import _LOGGING_KEYS, RunRecord, run_config

#: Keys of a metrics record that are not metrics.
NOT_METRICS = ("epoch", "elapsed_s", "lr", "step", "samples_per_s", "train_samples_per_s")
#: The metric a comparison draws beside the loss, in order of preference.
MAIN_METRICS = (
    "val_accuracy",
    "train_accuracy",
    "accuracy",
    "val_r2",
    "val_mae",
    "val_rmse",
    "val_reconstruction_error",
    "quantization_error",
    "val_quantization_error",
    "topographic_error",
)


@dataclass(frozen=True)
class CompareRow:
    """One line of the side-by-side table: ``key`` (``lr``, ``data.split.val``, ``best
    val_loss``), each run's ``values`` (None: the run has none) and whether they differ.
    ``group`` is ``"metric"`` or ``"setting"``."""

    key: str
    values: tuple[Any, ...]
    differs: bool
    group: str


def flat_settings(run: RunRecord) -> dict[str, Any]:
    """The run's resolved training settings (``lr``, ``scheduler.type`` …) and its design's data
    settings (``data.name`` …) as one flat mapping; logging-only keys left out."""
    out: dict[str, Any] = {}
    _flat("", run_config(run), out)
    if run.snapshot is not None:
        _flat("data", run.snapshot.get("data") or {}, out)
    return {k: v for k, v in out.items() if k not in _LOGGING_KEYS}


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif prefix:
        out[prefix] = list(value) if isinstance(value, tuple) else value


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def metric_rows(runs: list[RunRecord]) -> list[CompareRow]:
    """Status, epochs, time, the best value of each run's monitored metric and every final
    metric, one row each."""
    rows: list[CompareRow] = []

    def add(key: str, values: list[Any]) -> None:
        rows.append(CompareRow(key, tuple(values), len({repr(v) for v in values}) > 1, "metric"))

    add("status", [r.status for r in runs])
    add("epochs done", [r.epochs_completed for r in runs])
    add("time (s)", [None if r.duration_s is None else round(r.duration_s, 1) for r in runs])
    add("monitor", [r.monitor for r in runs])
    add("best", [r.best_value for r in runs])
    add("best epoch", [r.best_epoch for r in runs])
    keys: list[str] = []
    for run in runs:
        for key in (run.final or {}).keys():
            if key not in NOT_METRICS and key not in keys and _number((run.final or {})[key]):
                keys.append(key)
    for key in keys:
        add(f"final {key}", [_number((r.final or {}).get(key)) for r in runs])
    return rows


def setting_rows(runs: list[RunRecord]) -> list[CompareRow]:
    """Every setting any of ``runs`` has, one row each, in the order the runs name them."""
    settings = [flat_settings(r) for r in runs]
    keys: list[str] = []
    for s in settings:
        keys.extend(k for k in s if k not in keys)
    rows = []
    for key in keys:
        values = tuple(s.get(key) for s in settings)
        rows.append(CompareRow(key, values, len({repr(v) for v in values}) > 1, "setting"))
    return rows


def compare_rows(runs: list[RunRecord]) -> list[CompareRow]:
    """:func:`metric_rows` then :func:`setting_rows`."""
    return metric_rows(runs) + setting_rows(runs)


def loss_key(runs: list[RunRecord]) -> str | None:
    """``val_loss`` when any run has it, else ``train_loss`` when any has that."""
    for key in ("val_loss", "train_loss", "d_loss", "g_loss"):
        if any(_number(h.get(key)) is not None for r in runs for h in r.history):
            return key
    return None


def main_metric(runs: list[RunRecord]) -> str | None:
    """The metric drawn beside the loss: the first of :data:`MAIN_METRICS` any run has, else
    the first non-loss metric in the runs' histories (None: only losses)."""
    present: list[str] = []
    for run in runs:
        for record in run.history:
            for key, value in record.items():
                if key not in present and key not in NOT_METRICS and _number(value) is not None:
                    present.append(key)
    for key in MAIN_METRICS:
        if key in present:
            return key
    others = [k for k in present if not k.endswith("loss")]
    return others[0] if others else None


def curve(run: RunRecord, key: str) -> tuple[list[float], list[float]]:
    """The run's ``key`` per epoch from its metrics history: (epochs, values); epochs without
    the metric (or with a non-finite value) are left out."""
    xs: list[float] = []
    ys: list[float] = []
    for i, record in enumerate(run.history):
        value = _number(record.get(key))
        if value is None:
            continue
        epoch = _number(record.get("epoch"))
        xs.append(epoch if epoch is not None else float(i + 1))
        ys.append(value)
    return xs, ys
