"""``python main.py train DESIGN.json [--epochs N] [--batch-size B] [--lr LR] [--device D]
[--seed S] [--out DIR] [--resume CHECKPOINT | --init-from CHECKPOINT] [--tensorboard]``.

Flags override the design's ``training`` section. Progress (tqdm, with loss and ETA) and one line
per epoch go to stderr; the final summary line goes to stdout. ``DIR`` receives ``metrics.jsonl``,
``best.pt``, ``last.pt`` and ``summary.json``. Exit codes: 0 trained (also when early stopping
ended it), 1 invalid design or failed training, 2 unreadable file or bad flag value, 130 stopped
with Ctrl+C. ``--init-from`` starts a new run from a checkpoint's weights with a fresh optimizer
(:mod:`engine.training.init_from`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from engine.cli import fail, guarded, two_step_ctrl_c
from engine.errors import TrainingError, first_line, printable
from engine.io import load_design
from engine.training.config import TrainConfig
from engine.training.devices import launched_distributed
from engine.training.events import BatchEvent, Callback, EpochEvent, TrainStartEvent
from engine.training.run_files import new_run_folder
from engine.training.summary import RunSummary
from engine.training.tensorboard import attach_tensorboard
from engine.training.trainer import Trainer

_FLAGS = {
    "epochs": "--epochs",
    "batch_size": "--batch-size",
    "lr": "--lr",
    "device": "--device",
    "seed": "--seed",
    "tensorboard": "--tensorboard",
}


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:.3e}"
    return str(value)


def epoch_line(event: EpochEvent) -> str:
    """``epoch 3/30  train_loss 0.2134  val_loss 0.2510  val_accuracy 0.9472``."""
    width = len(str(event.epochs))
    parts = [f"epoch {event.epoch:>{width}}/{event.epochs}"]
    parts += [f"{k} {_fmt(v)}" for k, v in event.metrics.items()]
    return "  ".join(parts) + ("  *" if event.is_best else "")


class ProgressBar(Callback):
    """A tqdm bar over all batches (loss and ETA), plus one line per finished epoch."""

    wants_layer_stats = False  # the bar shows losses only: no sampled steps for it
    wants_epoch_samples = False  # … and the epoch's values: no pictures

    def __init__(self, file: TextIO | None = None) -> None:
        self.file = file if file is not None else sys.stderr
        self.bar = None
        self.epochs = 0

    def on_train_start(self, event: TrainStartEvent) -> None:
        from tqdm import tqdm

        self.epochs = event.epochs
        where = f"{event.device}" + (f" × {event.world_size}" if event.world_size > 1 else "")
        self.file.write(
            printable(f"training {event.task} on {event.data_description} ({where})") + "\n"
        )
        self.bar = tqdm(
            total=(event.epochs - event.start_epoch) * event.batches_per_epoch,
            unit="batch",
            file=self.file,
            dynamic_ncols=True,
            mininterval=0.25,
            desc=f"epoch {event.start_epoch + 1}/{event.epochs}",
            leave=False,
        )

    def on_batch_end(self, event: BatchEvent) -> None:
        if self.bar is None:
            return
        self.bar.set_description(f"epoch {event.epoch + 1}/{self.epochs}", refresh=False)
        post = {name: f"{values[-1]:.4f}" for name, values in event.losses.items()}
        self.bar.set_postfix(post, refresh=False)
        self.bar.update(len(event.steps))

    def on_epoch_end(self, event: EpochEvent) -> None:
        if self.bar is not None:
            self.bar.write(epoch_line(event), file=self.file)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def on_train_end(self, summary: RunSummary) -> None:
        self._close()

    def on_exception(self, error: BaseException) -> None:
        self._close()


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Flag values that were given, checked on their own so a bad flag is a usage error."""
    given = {key: getattr(args, key, None) for key in _FLAGS}
    given = {k: v for k, v in given.items() if v is not None}
    try:
        TrainConfig.from_dict(given)
    except TrainingError as exc:
        message = str(exc).removeprefix("training: ")
        for key, flag in _FLAGS.items():
            if message.startswith(key + " "):
                message = flag + message[len(key) :]
        raise _UsageError(message) from None
    return given


class _UsageError(Exception):
    pass


def summary_line(summary: RunSummary) -> str:
    """The last line ``train`` prints on stdout."""
    state = "stopped" if summary.stopped else "stopped early" if summary.early_stopped else "done"
    text = f"{state}: {summary.epochs_completed}/{summary.epochs} epochs"
    best = summary.best
    if best:
        keys = [k for k in best if k not in ("epoch", "lr", "elapsed_s") and best[k] is not None]
        text += f"; best epoch {best['epoch']}: " + ", ".join(f"{k} {_fmt(best[k])}" for k in keys)
    out = summary.metrics_file
    if out:
        text += f"; files in {Path(out).parent}"
    return text


def default_out_dir(design_path: str) -> Path:
    """``runs/<design name>-<date>-<time>[-N]`` under the current folder (a new folder, named as
    the editor names its runs: :func:`~engine.training.run_files.new_run_folder`)."""
    return new_run_folder("runs", Path(design_path).stem)


def register_run(design_path: str, design_name: str, out: Path) -> None:
    """List the run folder ``out`` in the design's run store (the window's Runs panel), so a
    run trained here shows there too; a store that cannot be written costs one note on stderr,
    never the run."""
    from engine.runs import RunStoreError, is_run_folder, store_for

    if not is_run_folder(out):
        return
    try:
        store_for(design_path, design_name).add_run(out)
    except (RunStoreError, OSError) as exc:
        print(
            f"note: the run is not listed in the window's Runs panel ({first_line(exc, 120)}); "
            f"add it there with: main.py runs {design_path} --add {out}",
            file=sys.stderr,
        )


@contextmanager
def stop_on_ctrl_c(trainer: Trainer) -> Iterator[None]:
    """First Ctrl+C: finish the running batch and stop cleanly (files keep the last full epoch,
    summary.json says ``stopped``); a second Ctrl+C aborts at once. Not under torchrun, where the
    processes must stop at the same batch: there Ctrl+C aborts as usual."""
    with two_step_ctrl_c(trainer, "stopping after this batch", active=not launched_distributed()):
        yield


def run_train(args: argparse.Namespace) -> int:
    """Entry point of ``main.py train``."""

    def body() -> int:
        try:
            overrides = _overrides(args)
        except _UsageError as exc:
            return fail(str(exc), 2)
        init_from = getattr(args, "init_from", None)
        if init_from and getattr(args, "resume", None):
            return fail("--init-from starts a new run and --resume continues one: give only one", 2)
        design = load_design(args.design)
        config = TrainConfig.from_design(design, overrides)
        kwargs: dict[str, Any] = {
            "callbacks": [ProgressBar()],
            "base_dir": Path(args.design).resolve().parent,
            "threads": "auto",
        }
        if init_from:
            from engine.training.init_from import InitFromTrainer, load_init_checkpoint

            ckpt = load_init_checkpoint(design, init_from)  # before any data loads or folder
            out = Path(args.out) if args.out else default_out_dir(args.design)
            trainer: Trainer = InitFromTrainer(
                design, config, out_dir=out, init_from=ckpt, **kwargs
            )
            trainer.init_from = init_from
        else:
            out = Path(args.out) if args.out else default_out_dir(args.design)
            trainer = Trainer(
                design, config, out_dir=out, resume=getattr(args, "resume", None), **kwargs
            )
        attach_tensorboard(trainer)  # when training.tensorboard or --tensorboard
        with stop_on_ctrl_c(trainer):
            summary = trainer.fit()
        if trainer.dist.is_main:
            register_run(args.design, design.name, out)
            print(printable(summary_line(summary)))
        return 130 if summary.stopped else 0

    return guarded(body)
