"""The one trainer the command line and the GUI share.

::

    trainer = Trainer(design, callbacks=[MyCallback()], base_dir="designs/", out_dir="runs/x")
    summary = trainer.fit()           # blocks; call request_stop()/pause()/resume() from elsewhere

What it does, in order: pick the device, load and preprocess the data (the split and the fitted
preprocessing depend on the seed), seed torch, compile the design's networks, build the family loop
(:mod:`engine.training.loops`), optimizers and schedulers, restore a checkpoint when resuming, then
run epochs. The whole dataset lives on the device as tensors; each epoch draws one random
permutation and slices it into batches — no DataLoader. Per-step losses stay on the device and are
read back every ``log_every`` steps in one transfer, which is also when callbacks run and NaN/Inf is
detected. After every epoch it evaluates, steps the scheduler, applies early stopping, appends a
``metrics.jsonl`` line and copies the state for ``last.pt`` (and ``best.pt`` when the monitored loss
improved), which :class:`~engine.training.run_files.RunFiles` writes in the background (after the
first epoch, at most every ``save_every_s`` seconds, and at the end).
Under torchrun each process trains on its shard of every permutation; only rank 0 writes files and
calls callbacks.

The trainer is split along its seams: :class:`~engine.training.control.RunControl` (the stop and
pause flags other threads set), :class:`~engine.training.best.BestTracker` (best epoch, early
stopping, the best weights) and :class:`~engine.training.run_files.RunFiles` (checkpoints,
metrics.jsonl, summary.json). Every attribute is created in ``__init__``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import torch

from engine.data import PreparedData, prepare_data
from engine.errors import Cancelled, DataError, DeepwireError, TrainingError, first_line
from engine.graph import Design
from engine.io import dumps
from engine.memory import estimate_memory, memory_problems
from engine.shapes import analyze
from engine.training.best import BestTracker
from engine.training.checkpoint import Checkpoint, detached_copy, load_checkpoint
from engine.training.config import TASK_LOSSES, TrainConfig
from engine.training.control import RunControl
from engine.training.devices import (
    DistContext,
    close_distributed,
    init_distributed,
    pick_threads,
    resolve_device,
)
from engine.training.events import (
    BatchEvent,
    Callback,
    CallbackList,
    EpochEvent,
    TrainStartEvent,
)
from engine.training.loops import FamilyLoop, LoopContext, make_loop
from engine.training.run_files import SAVE_EVERY_S, RunFiles
from engine.training.samples import EpochSample
from engine.training.summary import RunSummary


class Trainer:
    """Trains one design; :meth:`fit` runs to the end and returns a :class:`RunSummary`.

    ``config`` defaults to ``TrainConfig.from_design(design)``. ``data`` (a
    :class:`~engine.data.PreparedData`) skips loading the design's ``data`` section; otherwise
    its paths are relative to ``base_dir``. With ``out_dir`` the trainer writes ``best.pt``,
    ``last.pt``, ``metrics.jsonl`` and ``summary.json`` there. ``resume`` (a checkpoint path or
    :class:`Checkpoint` with trainer state) continues that run exactly where it ended; ``epochs``
    then counts the total including the epochs already done.

    ``threads``: torch CPU threads for the run (restored at the end): a number, ``"auto"``
    (:func:`~engine.training.devices.pick_threads` for the network's size, as ``main.py train``
    does) or None (leave torch's setting alone). ``save_every_s``: the least time between two
    checkpoint writes (see :mod:`engine.training.run_files`).

    :meth:`request_stop`, :meth:`pause` and :meth:`resume` may be called from any thread and take
    effect before the next batch starts.
    """

    def __init__(
        self,
        design: Design,
        config: TrainConfig | None = None,
        callbacks: list[Callback] | tuple[Callback, ...] = (),
        base_dir: str | Path | None = None,
        data: PreparedData | None = None,
        out_dir: str | Path | None = None,
        resume: str | Path | Checkpoint | None = None,
        threads: int | str | None = None,
        save_every_s: float = SAVE_EVERY_S,
    ) -> None:
        self.design = design.copy()
        self.config = config if config is not None else TrainConfig.from_design(design)
        self._task_given = isinstance(design.training, dict) and "task" in design.training
        self._loss_given = isinstance(design.training, dict) and "loss" in design.training
        self.callbacks = CallbackList(list(callbacks))
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.files = RunFiles(out_dir, save_every_s)
        self.out_dir = self.files.out_dir
        self._threads = threads
        self._fixed: dict[str, Any] = {}  # checkpoint parts that stay the same all run
        self._macs = 0  # multiply-adds of one sample's forward pass, from the shape analysis
        self._given_data = data
        self._resume = resume
        self.control = RunControl()  # stop/pause flags, written by other threads
        self.best = BestTracker()  # configured in _setup, restored on resume
        self._started = False
        # the run, set up by _setup
        self.step = 0
        self.epoch = 0
        self.start_epoch = 0
        self.history: list[dict[str, Any]] = []
        self.loop: FamilyLoop | None = None
        self.data: PreparedData | None = None
        self.device: torch.device | None = None
        self.dist = DistContext()
        self.world = 1
        self.batch_size = 1
        self.batch_gen = torch.Generator()
        self.monitor: str | None = None
        self.schedulers: dict[str, Any] = {}
        # how it ended
        self.stopped = False
        self.early_stopped = False
        # timing: seconds before a resume, since the start, in training steps, samples trained
        self._elapsed_before = 0.0
        self._t_start: float | None = None
        self._t_log = 0.0
        self._train_time = 0.0
        self._samples_done = 0

    # -- control from any thread ------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop before the next batch (a paused run stops too). Files keep the last full epoch."""
        self.control.request_stop()

    def pause(self) -> None:
        """Hold before the next batch until :meth:`resume` or :meth:`request_stop`."""
        self.control.pause()

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self.control.resume()

    @property
    def paused(self) -> bool:
        """True while the run is paused (between batches)."""
        return self.control.paused

    @property
    def stop_requested(self) -> bool:
        """True once a stop was asked for (the run ends after its running batch)."""
        return self.control.stop_requested

    def stop_requested_now(self) -> bool:
        """:attr:`stop_requested` as a callable: the data loader's ``should_stop``."""
        return self.control.stop_requested

    @property
    def networks(self) -> dict[str, torch.nn.Module]:
        """The compiled networks being trained (name → module); empty before :meth:`fit`."""
        return dict(self.loop.networks) if self.loop is not None else {}

    # -- the run ---------------------------------------------------------------------------------
    def fit(self) -> RunSummary:
        """Train to the end (or until stopped); returns the summary also written to summary.json.

        Any failure reaches the callbacks' ``on_exception`` as a one-line
        :class:`~engine.errors.DeepwireError` and is then raised.
        """
        if self._started:
            raise TrainingError("this Trainer has already run: create a new one to train again")
        self._started = True
        threads_before = torch.get_num_threads()
        try:
            self._setup()
            self._set_threads()
            return self._run()
        except Cancelled:  # stopped while the data was loading: a stop, not a failure
            return self._end_stopped_early()
        except Exception as exc:
            err = self._readable(exc)
            if self.dist.is_main:
                if self.files.started:  # a run refused before it began leaves files alone
                    self._finish_files(quiet=True)
                    self.files.write_summary(self._summary(error=str(err)))
                self.callbacks.on_exception(err)
            if err is exc:
                raise
            raise err from exc
        finally:
            if getattr(self, "loop", None) is not None:
                self.loop.close_data()
            self.files.close()
            torch.set_num_threads(threads_before)
            close_distributed(self.dist)

    def _set_threads(self) -> None:
        """Apply the ``threads`` setting: a number, ``"auto"`` (:func:`pick_threads` for this
        network and batch) or None (leave torch's setting alone)."""
        threads = self._threads
        if threads == "auto":
            if self.device.type != "cpu":
                return
            threads = pick_threads(self._macs * self.batch_size)
        if threads is not None:
            torch.set_num_threads(max(1, int(threads)))

    def _finish_files(self, quiet: bool = False) -> None:
        """Write the newest checkpoints and wait for them; ``quiet`` ignores a write failure
        (the run is failing already, and its own error is the one to report)."""
        try:
            self.files.finish()
        except OSError:
            if not quiet:
                raise

    def _setup(self) -> None:
        cfg = self.config
        self.dist = init_distributed(cfg.device)
        ckpt = self._load_resume()
        if ckpt is not None:
            saved = ckpt.trainer_state.get("config", {})
            # the split and preprocessing depend on the seed: keep the checkpoint's
            cfg = cfg.replace(seed=int(saved.get("seed", cfg.seed)))
        self.device = resolve_device(cfg.device, self.dist.local_rank)
        self._check_memory(cfg)
        if self._given_data is not None:
            self.data = self._given_data
        else:
            if not self.design.data:
                raise DataError(
                    "the design has no data section, so there is nothing to train "
                    "on: choose a dataset in the editor's Data panel, or add a "
                    "data section to the file (see docs/data.md)"
                )
            self.data = prepare_data(
                self.design.data, self.base_dir, cfg.seed, should_stop=self.stop_requested_now
            )
        cfg = self._fit_task(cfg, self.data)
        self.config = cfg
        torch.manual_seed(cfg.seed)  # weight initialisation
        self.world = self.dist.world_size
        self.loop = make_loop(
            LoopContext(self.design, cfg, self.data, self.device, self.dist, cfg.epochs)
        )
        self.batch_size = max(1, math.ceil(cfg.batch_size / self.world))
        self.batch_gen = torch.Generator().manual_seed(cfg.seed)
        self.monitor = self._monitor()
        self.best = BestTracker(cfg.early_stopping, self.monitor)
        self.schedulers = {
            name: self._make_scheduler(opt) for name, opt in self.loop.optimizers.items()
        }
        if ckpt is not None:
            self._restore(ckpt)
        else:
            self.loop.fresh_start()

    def _check_memory(self, cfg: TrainConfig) -> None:
        """Refuse, before anything is allocated, a design that cannot fit in the device's free
        memory at this batch size (one line naming the node, or the batch size that fits)."""
        analysis = analyze(self.design)
        if not analysis.valid:
            return  # compiling reports the design's own problems
        self._macs = analysis.totals().macs
        per_rank = max(1, math.ceil(cfg.batch_size / self.dist.world_size))
        estimate = estimate_memory(
            self.design,
            analysis,
            batch_size=per_rank,
            optimizer=cfg.optimizer,
            momentum=cfg.momentum,
            task=cfg.task,
            device=self.device.type,
        )
        problems = memory_problems(estimate)
        if problems:
            raise TrainingError(str(problems[0]))

    def _load_resume(self) -> Checkpoint | None:
        if self._resume is None:
            return None
        ckpt = (
            self._resume if isinstance(self._resume, Checkpoint) else load_checkpoint(self._resume)
        )
        where = self._resume if not isinstance(self._resume, Checkpoint) else "the checkpoint"
        if not ckpt.matches(self.design):
            raise TrainingError(
                f"{where} was saved for a different design (layers, parameters "
                "or wiring differ): resume with the design it came from"
            )
        if not ckpt.trainer_state:
            raise TrainingError(f"{where} has no trainer state to resume from: start a new run")
        if ckpt.epoch >= self.config.epochs:
            raise TrainingError(
                f"{where} already trained {ckpt.epoch} of {self.config.epochs} "
                f"epochs: ask for more epochs (e.g. --epochs {ckpt.epoch + 10})"
            )
        return ckpt

    def _fit_task(self, cfg: TrainConfig, data: PreparedData) -> TrainConfig:
        """Follow the data's task when the training section did not name one."""
        if self._task_given or cfg.task not in ("classification", "regression"):
            return cfg
        if data.task == "forecast" and cfg.task == "regression":
            return cfg.replace(task="forecast")
        if data.task in ("regression", "forecast") and cfg.task == "classification":
            loss = cfg.loss if self._loss_given else TASK_LOSSES[data.task][0]
            return cfg.replace(task=data.task, loss=loss)
        if data.task == "unsupervised":
            raise TrainingError(
                f"the data has no targets ({data.description}): set "
                "training.task to reconstruction, gan or som, or give the data a "
                "target"
            )
        return cfg

    def _monitor(self) -> str | None:
        """The loss that picks the best epoch and drives early stopping and plateau decay."""
        loop, cfg = self.loop, self.config
        monitor = None
        if loop.has_validation_loss:
            monitor = "val_loss" if loop.n_val > 0 else "train_loss"
        if monitor is None and (cfg.early_stopping is not None or cfg.scheduler.type == "plateau"):
            raise TrainingError(
                f"early_stopping and the plateau scheduler need a loss to watch; "
                f"{cfg.task} training has none: remove them"
            )
        return monitor

    def _make_scheduler(self, opt: torch.optim.Optimizer):
        sc = self.config.scheduler
        if sc.type == "step":
            return torch.optim.lr_scheduler.StepLR(opt, step_size=sc.step_size, gamma=sc.gamma)
        if sc.type == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=self.config.epochs, eta_min=sc.min_lr
            )
        if sc.type == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=sc.factor, patience=sc.patience, min_lr=sc.min_lr
            )
        return None

    def _batches_per_epoch(self) -> int:
        n = self.loop.n_train
        per_rank = (n - n % self.world) // self.world
        count = math.ceil(per_rank / self.batch_size)
        if count > 1 and per_rank % self.batch_size == 1:
            count -= 1
        return count

    def _epoch_batches(self) -> list[torch.Tensor]:
        """This process's batches for one epoch: slices of one random permutation."""
        n = self.loop.n_train
        perm = torch.randperm(n, generator=self.batch_gen)
        if self.world > 1:
            perm = perm[: n - n % self.world][self.dist.rank :: self.world]
        batches = list(perm.to(self.device).split(self.batch_size))
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches.pop()  # a batch of one sample breaks BatchNorm; it is seen next epoch
        return batches

    def _end_stopped_early(self) -> RunSummary:
        """Report a run stopped before its first batch: no epochs, a summary saying so."""
        self.stopped = True
        summary = self._summary()
        if self.dist.is_main:
            self.files.write_summary(summary)
            self.callbacks.on_train_end(summary)
        return summary

    def _run(self) -> RunSummary:
        cfg, loop, data = self.config, self.loop, self.data
        main = self.dist.is_main
        if main:
            self.files.start(self.history, self.design, cfg.to_dict())
            self.callbacks.on_train_start(
                TrainStartEvent(
                    task=cfg.task,
                    device=str(self.device),
                    epochs=cfg.epochs,
                    start_epoch=self.start_epoch,
                    batches_per_epoch=self._batches_per_epoch(),
                    n_train=loop.n_train,
                    n_val=loop.n_val,
                    data_description=data.description,
                    loss_names=loop.loss_names,
                    class_names=data.class_names,
                    world_size=self.world,
                    history=copy.deepcopy(self.history),
                )
            )
        loop.wants_samples = self.callbacks.wants_epoch_samples  # no epoch pictures nobody reads
        self._t_start = time.perf_counter()
        self.control.paused_s = 0.0
        self.stopped = self.early_stopped = False
        loop.train_mode()
        for epoch in range(self.start_epoch, cfg.epochs):
            self.epoch = epoch
            loop.on_epoch_start(epoch)
            batches = self._epoch_batches()
            loop.plan_batches(batches)
            t0 = time.perf_counter()
            paused0 = self.control.paused_s
            losses = self._train_epoch(epoch, batches)
            self._train_time += time.perf_counter() - t0 - (self.control.paused_s - paused0)
            self._samples_done += sum(len(b) for b in batches[: len(losses)]) * self.world
            if len(losses) < len(batches) or self.control.stop_requested:
                self.stopped = True
                break
            if self._end_epoch(epoch, batches, losses):
                self.early_stopped = True
                break
        restored = self.best.restore_best(loop.networks, len(self.history))
        if main:
            self._finish_files()
        summary = self._summary(restored_best=restored)
        if main:
            self.files.write_summary(summary)
            self.callbacks.on_train_end(summary)
        return summary

    def _train_epoch(self, epoch: int, batches: list[torch.Tensor]) -> list[torch.Tensor]:
        """The hot loop: one step per batch, events every ``log_every`` steps."""
        step_fn = self.loop.train_step
        sample_every, log_every = self.config.sample_every, self.config.log_every
        step = self.step
        next_sample = -(-step // sample_every) * sample_every
        if not self.callbacks.wants_layer_stats:
            next_sample = -1  # nobody reads layer statistics: never sample
        next_log = step + log_every
        losses: list[torch.Tensor] = []
        emitted = 0
        n_batches = len(batches)
        self._t_log = time.perf_counter()
        control = self.control
        for b, idx in enumerate(batches):
            if control.interrupt and control.interrupted():
                break
            sample = step == next_sample
            if sample:
                next_sample += sample_every
            losses.append(step_fn(idx, sample))
            step += 1
            self.step = step
            if step >= next_log:
                self._emit_batch(epoch, b + 1, n_batches, losses, emitted)
                emitted = len(losses)
                next_log = step + log_every
        if emitted < len(losses):
            self._emit_batch(epoch, len(losses), n_batches, losses, emitted)
        return losses

    def _emit_batch(
        self, epoch: int, batch: int, n_batches: int, losses: list[torch.Tensor], emitted: int
    ) -> None:
        chunk = torch.stack(losses[emitted:]).float().cpu()
        values = chunk.tolist()
        flat = values if chunk.dim() == 1 else [v for row in values for v in row]
        if not all(math.isfinite(v) for v in flat):
            self._nan_error(epoch, "train")
        sampled, self.loop.sampled = self.loop.sampled, None
        if not self.dist.is_main:
            return
        names = self.loop.loss_names
        by_name = (
            {names[0]: values}
            if chunk.dim() == 1
            else {name: [row[i] for row in values] for i, name in enumerate(names)}
        )
        now = time.perf_counter()
        k = len(values)
        rate = k * self.batch_size * self.world / max(now - self._t_log, 1e-9)
        self._t_log = now
        self.callbacks.on_batch_end(
            BatchEvent(
                epoch=epoch,
                step=self.step,
                batch=batch,
                batches_per_epoch=n_batches,
                steps=list(range(self.step - k + 1, self.step + 1)),
                losses=by_name,
                lr=self.loop.current_lr(),
                samples_per_s=rate,
                activation_stats=sampled[0] if sampled else None,
                grad_norms=sampled[1] if sampled else None,
                weight_changes=self.loop.probe.take_weight_changes()
                if sampled and self.loop.probe is not None
                else None,
            )
        )

    def _nan_error(self, epoch: int, what: str) -> None:
        last = ""
        if self.out_dir is not None and self.history and self.dist.is_main:
            self._finish_files(quiet=True)
            saved = self.files.last_saved_epoch
            if saved is not None:
                last = f"; the last good checkpoint is {self.out_dir / 'last.pt'} (epoch {saved})"
        raise TrainingError(
            f"the {what} loss became NaN or infinite in epoch {epoch + 1} (step {self.step}, "
            f"lr {self.loop.current_lr():g}): lower the learning rate, set grad_clip, or check "
            f"the data for extreme values{last}"
        )

    def _end_epoch(
        self, epoch: int, batches: list[torch.Tensor], losses: list[torch.Tensor]
    ) -> bool:
        """Evaluate, schedule, checkpoint and report one epoch; True when early stopping hits."""
        metrics = self._train_means(epoch, batches, losses)
        eval_metrics, samples = self.loop.evaluate()
        metrics.update(eval_metrics)
        if "val_loss" in metrics and not math.isfinite(metrics["val_loss"]):
            self._nan_error(epoch, "validation")
        self._step_schedulers(metrics.get(self.monitor) if self.monitor else None)
        is_best = self.best.update(epoch + 1, metrics, self.loop.networks)
        lr = self.loop.current_lr()
        elapsed = self._elapsed()
        record = {
            "epoch": epoch + 1,
            "train_loss": metrics.pop("train_loss"),
            "val_loss": metrics.pop("val_loss", None),
            **metrics,
            "lr": lr,
            "elapsed_s": round(elapsed, 3),
        }
        self.history.append(record)
        if self.dist.is_main:
            self._report_epoch(record, is_best, samples, elapsed)
        return self.best.should_stop

    def _train_means(
        self, epoch: int, batches: list[torch.Tensor], losses: list[torch.Tensor]
    ) -> dict[str, Any]:
        """The epoch's mean training loss(es), weighted by batch size, over every process."""
        sizes = torch.full((len(losses),), float(self.batch_size), dtype=torch.float64)
        sizes[-1] = len(batches[len(losses) - 1])  # only the last batch may be smaller
        stacked = torch.stack(losses).double().cpu()
        weights = sizes if stacked.dim() == 1 else sizes.unsqueeze(1)
        totals = torch.cat([(stacked * weights).sum(0).reshape(-1), sizes.sum().reshape(1)])
        if self.dist.enabled:
            import torch.distributed as tdist

            totals = totals.to(self.device)
            tdist.all_reduce(totals)
            totals = totals.cpu()
        means = (totals[:-1] / totals[-1]).tolist()
        if not all(math.isfinite(v) for v in means):
            self._nan_error(epoch, "train")
        if len(means) == 1:
            return {"train_loss": means[0]}
        metrics: dict[str, Any] = dict(zip(self.loop.loss_names, means, strict=True))
        metrics["train_loss"] = sum(means)
        return metrics

    def _step_schedulers(self, current: float | None) -> None:
        for sched in self.schedulers.values():
            if sched is None:
                continue
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(current)
            else:
                sched.step()

    def _report_epoch(
        self, record: dict[str, Any], is_best: bool, samples: EpochSample | None, elapsed: float
    ) -> None:
        """Write the epoch's files, then tell the callbacks (main process only)."""
        self._write_epoch(record, is_best)
        self.callbacks.on_epoch_end(
            EpochEvent(
                epoch=record["epoch"],
                epochs=self.config.epochs,
                step=self.step,
                metrics={
                    k: v
                    for k, v in record.items()
                    if k not in ("epoch", "lr", "elapsed_s") and v is not None
                },
                lr=record["lr"],
                elapsed_s=elapsed,
                is_best=is_best,
                samples=samples,
            )
        )

    def _elapsed(self) -> float:
        """Seconds of this run (a resumed run's earlier ones included), pauses left out."""
        if self._t_start is None:
            return self._elapsed_before
        return self._elapsed_before + time.perf_counter() - self._t_start - self.control.paused_s

    # -- checkpoints and files ---------------------------------------------------------------------
    def _trainer_state(self) -> dict[str, Any]:
        """Everything an exact resume needs besides the weights, copied (see
        :func:`~engine.training.checkpoint.detached_copy`); ``best_state_dicts`` is None."""
        rng: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "batches": self.batch_gen.get_state(),
        }
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "config": self._fixed["config"],
            "step": self.step,
            "optimizers": detached_copy(
                {k: o.state_dict() for k, o in self.loop.optimizers.items()}
            ),
            "schedulers": copy.deepcopy(
                {k: s.state_dict() for k, s in self.schedulers.items() if s is not None}
            ),
            "rng": rng,
            "early_stopping": self.best.state(),
            "best_state_dicts": None,
            "history": [dict(record) for record in self.history],
            "loop": detached_copy(self.loop.extra_state()),
            "elapsed_s": self._elapsed(),
            "train_time_s": self._train_time,
            "samples_done": self._samples_done,
        }

    def _restore(self, ckpt: Checkpoint) -> None:
        loop, ts = self.loop, ckpt.trainer_state
        try:
            for name, net in loop.networks.items():
                net.load_state_dict(ckpt.state_dicts[name])
            for name, opt in loop.optimizers.items():
                opt.load_state_dict(ts["optimizers"][name])
            for name, sched in self.schedulers.items():
                if sched is not None and name in ts.get("schedulers", {}):
                    sched.load_state_dict(ts["schedulers"][name])
            torch.set_rng_state(ts["rng"]["torch"])
            self.batch_gen.set_state(ts["rng"]["batches"])
            if "cuda" in ts["rng"] and self.device.type == "cuda":
                torch.cuda.set_rng_state(ts["rng"]["cuda"], self.device)
        except (KeyError, RuntimeError, ValueError) as exc:
            raise TrainingError(
                f"the checkpoint's trainer state does not fit this design and "
                f"settings ({first_line(exc, 120)}): start a new run"
            ) from None
        self.best.load_state(
            ts.get("early_stopping", {}), ts.get("best_state_dicts"), ckpt.epoch, ckpt.state_dicts
        )
        self.history = list(ts.get("history", []))
        self.step = int(ts.get("step", 0))
        self.start_epoch = int(ckpt.epoch)
        self._elapsed_before = float(ts.get("elapsed_s", 0.0))
        self._train_time = float(ts.get("train_time_s", 0.0))
        self._samples_done = int(ts.get("samples_done", 0))
        loop.load_extra_state(ts.get("loop", {}))

    def _checkpoints(
        self, epoch: int, metrics: dict[str, Any], is_best: bool
    ) -> tuple[Checkpoint, Checkpoint | None]:
        """Copies of this epoch's state as ``last.pt`` and, when ``is_best``, ``best.pt`` (the
        two share their tensors). ``last.pt`` keeps the best weights too while they differ from
        its own (early stopping restores them on resume)."""
        if not self._fixed:  # what stays the same all run: worked out once
            data = self.data
            self._fixed = {
                "design_json": dumps(self.design),
                "config": self.config.to_dict(),
                "preprocessor": (
                    data.preprocessor.state_dict() if data.preprocessor.fitted else None
                ),
                "data_info": {
                    "task": self.config.task,
                    "input_shape": list(data.input_shape),
                    "target_shape": list(data.target_shape),
                    "num_classes": data.num_classes,
                    "class_names": data.class_names,
                    "feature_names": data.feature_names,
                },
            }
        fixed = self._fixed
        state = self._trainer_state()
        best = Checkpoint(
            design_json=fixed["design_json"],
            state_dicts=detached_copy({k: m.state_dict() for k, m in self.loop.networks.items()}),
            preprocessor=fixed["preprocessor"],
            data_info=fixed["data_info"],
            epoch=epoch,
            metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
            trainer_state=state,
        )
        with_best = self.best.keeps_weights and not is_best
        last = dataclasses.replace(
            best,
            trainer_state={
                **state,
                "best_state_dicts": self.best.best_state if with_best else None,
            },
        )
        return last, best if is_best else None

    def _write_epoch(self, record: dict[str, Any], is_best: bool) -> None:
        if self.out_dir is None:
            return
        last, best = self._checkpoints(record["epoch"], record, is_best)
        self.files.write_epoch(record, last, best)

    def _summary(self, restored_best: bool = False, error: str | None = None) -> RunSummary:
        history, files, data, loop = self.history, self.files, self.data, self.loop
        best = next((h for h in history if h["epoch"] == self.best.best_epoch), None)
        rate = self._samples_done / self._train_time if self._train_time else 0.0
        best_ckpt, last_ckpt = (
            (files.checkpoint("best"), files.checkpoint("last")) if history else (None, None)
        )
        return RunSummary(
            design=self.design.name,
            task=self.config.task,
            device=str(self.device) if self.device is not None else None,
            world_size=self.dist.world_size,
            epochs=self.config.epochs,
            epochs_completed=len(history),
            stopped=self.stopped,
            early_stopped=self.early_stopped,
            error=error,
            monitor=self.monitor,
            best_epoch=self.best.best_epoch or None,
            best=best,
            final=history[-1] if history else None,
            restored_best=restored_best,
            elapsed_s=round(self._elapsed(), 3) if self._t_start is not None else 0.0,
            train_samples_per_s=round(rate, 1),
            data=data.description if data is not None else None,
            n_train=loop.n_train if loop is not None else 0,
            n_val=loop.n_val if loop is not None else 0,
            best_checkpoint=str(best_ckpt) if best_ckpt is not None else None,
            last_checkpoint=str(last_ckpt) if last_ckpt is not None else None,
            metrics_file=str(files.metrics_file) if files.metrics_file is not None else None,
            config=self.config.to_dict(),
        )

    def _readable(self, exc: Exception) -> DeepwireError:
        """Turn any failure into one line a user can act on."""
        if isinstance(exc, DeepwireError):
            return exc
        where = f" in epoch {self.epoch + 1}" if self.loop is not None else ""
        if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in str(exc).lower():
            bs = self.config.batch_size
            return TrainingError(
                f"out of {self.device} memory{where} at batch size {bs}: lower "
                f"batch_size (try {max(1, bs // 2)}) or use a smaller design or "
                "device cpu"
            )
        return TrainingError(f"training failed{where}: {first_line(exc, 300)}")
