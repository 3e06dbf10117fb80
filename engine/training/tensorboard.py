"""TensorBoard event files beside a run's metrics.jsonl: a trainer callback.

``training.tensorboard: true`` (or ``main.py train --tensorboard``) turns it on;
:func:`attach_tensorboard` adds a :class:`TensorBoardLogger` to a built trainer, so the trainer
itself knows nothing of TensorBoard::

    trainer = Trainer(design, config, out_dir="runs/x")
    attach_tensorboard(trainer)          # no-op unless config.tensorboard
    trainer.fit()                        # then: tensorboard --logdir runs/

What it writes (``torch.utils.tensorboard.SummaryWriter``, the optional ``tensorboard`` package):
every number of each epoch's metrics.jsonl record as a scalar (``train_loss``, ``val_loss``,
``val_accuracy`` …, and ``lr``) at step = epoch; a histogram of every weight and bias
(``<network>/<parameter>``) every ``histogram_every`` epochs (0: never) and after the last epoch;
and the network's graph when ``add_graph`` can trace it with one zero sample of the data's shape
(a network it cannot trace gets a one-line note, never a failed run).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import TrainingError, first_line
from engine.training.events import Callback, EpochEvent, TrainStartEvent
from engine.training.summary import RunSummary

INSTALL_HINT = 'pip install "deepwire[tensorboard]"'


def summary_writer_class() -> Any:
    """``torch.utils.tensorboard.SummaryWriter``; a missing package is one line saying how to
    install it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise TrainingError(
            f"TensorBoard logging needs the tensorboard package: {INSTALL_HINT} "
            "(or set training.tensorboard to false)"
        ) from None
    return SummaryWriter


class TensorBoardLogger(Callback):
    """Writes a run's scalars, weight histograms and graph to TensorBoard event files in
    ``log_dir``. ``networks`` (called on the trainer's thread) gives the live modules,
    ``example_input`` a sample batch for ``add_graph`` (None: no graph); ``note`` receives each
    one-line note (default: stderr)."""

    wants_layer_stats = False  # scalars, weights and the graph: no sampled layer statistics
    wants_epoch_samples = False  # … and no epoch pictures

    def __init__(
        self,
        log_dir: str | Path,
        networks: Callable[[], dict[str, Any]],
        example_input: Callable[[], Any] | None = None,
        histogram_every: int = 1,
        note: Callable[[str], None] | None = None,
    ) -> None:
        self.log_dir = Path(log_dir)
        self.networks = networks
        self.example_input = example_input
        self.histogram_every = histogram_every
        self.note = note if note is not None else _stderr
        self.notes: list[str] = []
        self.writer: Any = None
        self._writer_class = summary_writer_class()  # refuse before training, not after
        self._last_histogram = -1

    def _say(self, line: str) -> None:
        self.notes.append(line)
        self.note(line)

    def on_train_start(self, event: TrainStartEvent) -> None:
        self.writer = self._writer_class(log_dir=str(self.log_dir))
        for record in event.history:  # a resumed run's earlier epochs
            self._scalars(record, int(record.get("epoch", 0)))
        self._graph()

    def _graph(self) -> None:
        if self.example_input is None:
            return
        import torch

        problems = []
        for name, module in self.networks().items():
            was_training = module.training
            try:
                sample = self.example_input()
                module.eval()
                with torch.no_grad(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # tracer warnings are not the user's business
                    self.writer.add_graph(module, sample)
                return
            except Exception as exc:  # noqa: BLE001 - any tracing failure is only a note
                problems.append(f"{name}: {first_line(exc, 120)}")
            finally:
                module.train(was_training)
        if problems:
            self._say("TensorBoard: no graph, add_graph could not trace " + "; ".join(problems))

    def _scalars(self, record: dict[str, Any], step: int) -> None:
        for key, value in record.items():
            if key in ("epoch", "elapsed_s"):
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.writer.add_scalar(key, value, step)

    def _histograms(self, step: int) -> None:
        for net, module in self.networks().items():
            for pname, param in module.named_parameters():
                self.writer.add_histogram(f"{net}/{pname}", param.detach().float().cpu(), step)
        self._last_histogram = step

    def on_epoch_end(self, event: EpochEvent) -> None:
        if self.writer is None:
            return
        self._scalars({**event.metrics, "lr": event.lr}, event.epoch)
        every = self.histogram_every
        if every > 0 and event.epoch % every == 0:
            self._histograms(event.epoch)
        self.writer.flush()

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def on_train_end(self, summary: RunSummary) -> None:
        done = summary.epochs_completed
        if self.writer is not None and self.histogram_every > 0 and done > self._last_histogram:
            if done > 0:
                self._histograms(done)  # the weights the run ended with
        self._close()

    def on_exception(self, error: BaseException) -> None:
        self._close()


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


def attach_tensorboard(
    trainer: Any, force: bool = False, note: Callable[[str], None] | None = None
) -> TensorBoardLogger | None:
    """Add a :class:`TensorBoardLogger` to ``trainer`` (before ``fit``) when its config asks for
    TensorBoard or ``force``; None when off or the trainer writes no folder. A missing
    tensorboard package is a :class:`TrainingError` naming the install command."""
    if not (force or trainer.config.tensorboard) or trainer.out_dir is None:
        return None

    def example() -> Any:
        import torch

        shape = tuple(trainer.data.input_shape)
        return torch.zeros((1, *shape), device=trainer.device)

    logger = TensorBoardLogger(
        trainer.out_dir,
        networks=lambda: trainer.networks,
        example_input=example,
        histogram_every=trainer.config.histogram_every,
        note=note,
    )
    trainer.callbacks.callbacks.append(logger)
    return logger
