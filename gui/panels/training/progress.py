"""The training panel's progress: what a run's events and its summary look like as text.

:class:`RunProgress` folds the events a runner drains into the epoch, step, ETA, latest values
and the overfitting warning, and words the result of a finished run; the helpers here
(:func:`overfitting`, :func:`clock`, :func:`metric_text`) are plain functions.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

from PySide6.QtCore import Slot

from engine.runs import SNAPSHOT, START_FILE
from engine.training.events import BatchEvent, EpochEvent, TrainStartEvent
from engine.training.summary import RunSummary
from gui.formatting import metric_text, pretty
from gui.runner import RunResult

OVERFIT_EPOCHS = 3  # epochs of rising validation loss before the warning shows
OVERFIT_RISE = 0.02  # … by at least this share above its best
PANEL_REFRESH_S = 0.2  # the progress labels follow the run five times a second


def overfitting(
    history: list[tuple[int, float, float | None]],
    patience: int = OVERFIT_EPOCHS,
    rise: float = OVERFIT_RISE,
) -> str | None:
    """A warning when validation loss has risen for ``patience`` epochs while training loss fell.

    ``history`` holds ``(epoch, train_loss, val_loss)``. The warning compares the latest epoch
    with the best validation epoch: at least ``patience`` epochs later, validation loss more than
    ``rise`` above its best and training loss below its value then.
    """
    points = [(e, t, v) for e, t, v in history if v is not None and math.isfinite(v)]
    if len(points) <= patience:
        return None
    best = min(range(len(points)), key=lambda i: points[i][2])
    epoch_b, train_b, val_b = points[best]
    epoch_n, train_n, val_n = points[-1]
    if (
        len(points) - 1 - best < patience
        or val_n <= val_b * (1 + rise) + 1e-12
        or train_n >= train_b
    ):
        return None
    return (
        f"Overfitting: validation loss rose from {val_b:.4g} (epoch {epoch_b}) to "
        f"{val_n:.4g} while training loss kept falling ({train_b:.4g} → {train_n:.4g}). "
        "Try Dropout layers, early stopping (patience), weight decay, or more data."
    )


def clock(seconds: float) -> str:
    """``75`` → ``1:15``; ``3725`` → ``1:02:05``."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


#: What a run that failed before its first epoch leaves in its folder.
UNFINISHED_RUN_FILES = ("summary.json", "metrics.jsonl", SNAPSHOT, START_FILE)


def remove_unfinished_run(folder: Path) -> bool:
    """Delete a failed run's folder when it holds only what a failed start writes (the error
    summary, an empty metrics log); True when the folder is gone. A folder with anything else
    (a checkpoint, a logged epoch) is kept."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return not folder.exists()
    if any(p.name not in UNFINISHED_RUN_FILES or not p.is_file() for p in entries):
        return False
    metrics = folder / "metrics.jsonl"
    if metrics.is_file() and metrics.stat().st_size:  # an epoch was logged: keep it
        return False
    try:
        for path in entries:
            path.unlink()
        folder.rmdir()
    except OSError:
        return False
    return True


class RunProgress:
    """The progress half of :class:`~gui.panels.training.TrainingPanel` (a mixin: it reads the
    panel's labels, progress bar and runner)."""

    def _reset_progress(self) -> None:
        self.start_event: TrainStartEvent | None = None
        self.epochs_total = 0
        self.epoch_done = 0
        self.step = 0
        self.batch = 0
        self.bpe = 1
        self.epoch_running = 0
        self.samples_per_s = 0.0
        self.current: dict[str, float] = {}
        self.history: list[tuple[int, float, float | None]] = []
        self.best: tuple[int, float] | None = None
        self._train_t0: float | None = None

    @Slot(object)
    def _on_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, BatchEvent):
                self.step = event.step
                self.batch = event.batch
                self.epoch_running = event.epoch
                self.bpe = max(1, event.batches_per_epoch)
                self.samples_per_s = event.samples_per_s
                for name, values in event.losses.items():
                    if values:
                        self.current[f"last batch {name}"] = values[-1]
            elif isinstance(event, EpochEvent):
                self.epoch_done = event.epoch
                self.epochs_total = event.epochs
                self.batch = 0
                self.history.append(
                    (event.epoch, event.metrics["train_loss"], event.metrics.get("val_loss"))
                )
                for key in [k for k in self.current if not k.startswith("last batch ")]:
                    del self.current[key]
                self.current.update(event.metrics)
                if self.start_event is not None and len(self.start_event.loss_names) > 1:
                    self.current.pop("train_loss", None)  # a GAN's loss sum means little
                if event.is_best and event.metrics.get("val_loss") is not None:
                    self.best = (event.epoch, event.metrics["val_loss"])
            elif isinstance(event, TrainStartEvent):
                self.start_event = event
                self.epochs_total = event.epochs
                self.epoch_done = event.start_epoch
                self.epoch_running = event.start_epoch
                self.bpe = max(1, event.batches_per_epoch)
                self._train_t0 = self.runner.active_seconds()
        # labels re-layout on every change: a few updates a second are plenty to read
        now = time.perf_counter()
        if now - self._last_shown >= PANEL_REFRESH_S:
            self._last_shown = now
            self._show_progress()

    def _show_progress(self) -> None:
        start = self.start_event
        if start is None:
            return
        total = max(1, self.epochs_total - start.start_epoch)
        done = self.epoch_done - start.start_epoch
        if self.batch and self.epoch_running >= self.epoch_done:
            done += self.batch / self.bpe
        fraction = min(1.0, max(0.0, done / total))
        self.progress.setValue(round(fraction * 1000))
        self.progress.setFormat(f"{fraction:.0%}")
        if self.runner.state == "paused":
            state = "Paused"
        elif self.runner.state == "stopping":
            state = "Stopping…"
        else:
            state = "Training"
        epoch_now = (
            min(self.epochs_total, self.epoch_done + (1 if self.batch else 0)) or self.epoch_done
        )
        self.state_label.setText(
            f"{state} — epoch {max(epoch_now, 1)} of {self.epochs_total} · step {self.step:,}"
        )
        elapsed = self.runner.active_seconds() - (self._train_t0 or 0.0)
        parts = []
        if fraction > 0.01 and elapsed > 0:
            parts.append(f"ETA {clock(elapsed * (1 - fraction) / fraction)}")
        parts.append(f"{clock(elapsed)} elapsed")
        if self.samples_per_s:
            parts.append(
                f"{self.samples_per_s / 1000:.1f}k samples/s"
                if self.samples_per_s >= 1000
                else f"{self.samples_per_s:.0f} samples/s"
            )
        self.rate_label.setText(" · ".join(parts))
        self.rate_label.setToolTip(
            f"{start.n_train:,} training and {start.n_val:,} validation "
            f"samples on {start.device}: {start.data_description}"
        )
        self._show_values()
        warning = overfitting(self.history)
        self.warning_label.setText(f"⚠ {warning}" if warning else "")
        self.warning_label.setVisible(warning is not None)

    def _show_values(self) -> None:
        rows = []
        for name, value in self.current.items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            rows.append(
                f"<tr><td>{pretty(name)}</td><td align='right'>&nbsp;&nbsp;"
                f"<b>{metric_text(name, value)}</b></td></tr>"
            )
        if self.best is not None:
            rows.append(
                f"<tr><td>best val loss</td><td align='right'>&nbsp;&nbsp;"
                f"<b>{self.best[1]:.4g}</b> (epoch {self.best[0]})</td></tr>"
            )
        self.values_label.setText(f"<table>{''.join(rows)}</table>" if rows else "")

    def _result_text(self, result: RunResult, summary: RunSummary, done: int) -> str:
        lines = [
            f"{done} epoch{'s' if done != 1 else ''} in {clock(result.seconds)}"
            + (
                f", {summary.train_samples_per_s / 1000:.1f}k samples/s"
                if summary.train_samples_per_s
                else ""
            )
            + "."
        ]
        best = summary.best
        monitor = summary.monitor
        if best and monitor and best.get(monitor) is not None:
            extra = [
                f"{pretty(k)} {metric_text(k, v)}"
                for k, v in best.items()
                if k not in ("epoch", "train_loss", "val_loss", "lr", "elapsed_s", monitor)
                and isinstance(v, int | float)
            ]
            lines.append(
                f"Best {pretty(monitor)} {best[monitor]:.4g} at epoch {best['epoch']}"
                + (f" ({', '.join(extra[:3])})" if extra else "")
                + "."
            )
        elif summary.final:
            final = summary.final
            several = self.start_event is not None and len(self.start_event.loss_names) > 1
            skip = ("epoch", "lr", "elapsed_s") + (("train_loss",) if several else ())
            extra = [
                f"{pretty(k)} {metric_text(k, v)}"
                for k, v in final.items()
                if k not in skip and isinstance(v, int | float)
            ]
            lines.append("Last epoch: " + ", ".join(extra[:4]) + ".")
        if summary.restored_best:
            lines.append("The weights of the best epoch were restored.")
        if self.last_out_dir is not None and summary.best_checkpoint:
            lines.append(f"Checkpoints and metrics: {self.last_out_dir}")
        return " ".join(lines)
