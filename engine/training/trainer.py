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
detected. After every epoch it evaluates, steps the scheduler, applies early stopping, writes
``last.pt`` (and ``best.pt`` when the monitored loss improved) plus a ``metrics.jsonl`` line.
Under torchrun each process trains on its shard of every permutation; only rank 0 writes files and
calls callbacks.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from pathlib import Path
from typing import Any

import torch

from engine.data import PreparedData, prepare_data
from engine.errors import Cancelled, DataError, DeepwireError, TrainingError
from engine.graph import Design
from engine.memory import estimate_memory, memory_problems
from engine.shapes import analyze
from engine.training.checkpoint import (
    Checkpoint,
    checkpoint_from_modules,
    load_checkpoint,
    save_checkpoint,
)
from engine.training.config import TASK_LOSSES, TrainConfig
from engine.training.devices import (
    DistContext,
    close_distributed,
    init_distributed,
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
from engine.training.summary import RunSummary


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


class Trainer:
    """Trains one design; :meth:`fit` runs to the end and returns a :class:`RunSummary`.

    ``config`` defaults to ``TrainConfig.from_design(design)``. ``data`` (a
    :class:`~engine.data.PreparedData`) skips loading the design's ``data`` section; otherwise
    its paths are relative to ``base_dir``. With ``out_dir`` the trainer writes ``best.pt``,
    ``last.pt``, ``metrics.jsonl`` and ``summary.json`` there. ``resume`` (a checkpoint path or
    :class:`Checkpoint` with trainer state) continues that run exactly where it ended; ``epochs``
    then counts the total including the epochs already done.

    :meth:`request_stop`, :meth:`pause` and :meth:`resume` may be called from any thread and take
    effect before the next batch starts.
    """

    def __init__(self, design: Design, config: TrainConfig | None = None,
                 callbacks: list[Callback] | tuple[Callback, ...] = (),
                 base_dir: str | Path | None = None, data: PreparedData | None = None,
                 out_dir: str | Path | None = None,
                 resume: str | Path | Checkpoint | None = None) -> None:
        self.design = design.copy()
        self.config = config if config is not None else TrainConfig.from_design(design)
        self._task_given = isinstance(design.training, dict) and "task" in design.training
        self._loss_given = isinstance(design.training, dict) and "loss" in design.training
        self.callbacks = CallbackList(list(callbacks))
        self.base_dir = Path(base_dir) if base_dir is not None else None
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self._given_data = data
        self._resume = resume
        # cooperative control flags, written by other threads, read once per batch
        self._interrupt = False
        self._stop_requested = False
        self._pause_requested = False
        self._running = threading.Event()
        self._running.set()
        self._started = False
        self._files_started = False
        self.step = 0
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.loop: FamilyLoop | None = None
        self.data: PreparedData | None = None
        self.device: torch.device | None = None
        self.dist = DistContext()
        self._paused_s = 0.0

    # -- control from any thread ------------------------------------------------------------------
    def request_stop(self) -> None:
        """Stop before the next batch (a paused run stops too). Files keep the last full epoch."""
        self._stop_requested = True
        self._interrupt = True
        self._running.set()

    def pause(self) -> None:
        """Hold before the next batch until :meth:`resume` or :meth:`request_stop`."""
        self._pause_requested = True
        self._running.clear()
        self._interrupt = True

    def resume(self) -> None:
        """Continue after :meth:`pause`."""
        self._pause_requested = False
        self._interrupt = self._stop_requested
        self._running.set()

    @property
    def paused(self) -> bool:
        return self._pause_requested and not self._stop_requested

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested

    def stop_requested_now(self) -> bool:
        """:attr:`stop_requested` as a callable: the data loader's ``should_stop``."""
        return self._stop_requested

    @property
    def networks(self) -> dict[str, torch.nn.Module]:
        """The compiled networks being trained (name → module); empty before :meth:`fit`."""
        return dict(self.loop.networks) if self.loop is not None else {}

    def _interrupted(self) -> bool:
        while self._pause_requested and not self._stop_requested:
            t = time.perf_counter()
            self._running.wait(0.1)
            self._paused_s += time.perf_counter() - t
        return self._stop_requested

    # -- the run ---------------------------------------------------------------------------------
    def fit(self) -> RunSummary:
        """Train to the end (or until stopped); returns the summary also written to summary.json.

        Any failure reaches the callbacks' ``on_exception`` as a one-line
        :class:`~engine.errors.DeepwireError` and is then raised.
        """
        if self._started:
            raise TrainingError("this Trainer has already run: create a new one to train again")
        self._started = True
        try:
            self._setup()
            return self._run()
        except Cancelled:  # stopped while the data was loading: a stop, not a failure
            return self._end_stopped_early()
        except Exception as exc:
            err = self._readable(exc)
            if self.dist.is_main:
                if self._files_started:  # a run refused before it began leaves files alone
                    self._write_summary(self._summary(error=str(err)))
                self.callbacks.on_exception(err)
            if err is exc:
                raise
            raise err from exc
        finally:
            close_distributed(self.dist)

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
                raise DataError("the design has no data section, so there is nothing to train "
                                "on: choose a dataset in the editor's Data panel, or add a "
                                "data section to the file (see docs/data.md)")
            self.data = prepare_data(self.design.data, self.base_dir, cfg.seed,
                                     should_stop=self.stop_requested_now)
        cfg = self._fit_task(cfg, self.data)
        self.config = cfg
        torch.manual_seed(cfg.seed)  # weight initialisation
        self.world = self.dist.world_size
        self.loop = make_loop(LoopContext(self.design, cfg, self.data, self.device, self.dist,
                                          cfg.epochs))
        self.batch_size = max(1, math.ceil(cfg.batch_size / self.world))
        self.batch_gen = torch.Generator().manual_seed(cfg.seed)
        self.monitor = self._monitor()
        self.schedulers = {name: self._make_scheduler(opt)
                           for name, opt in self.loop.optimizers.items()}
        self.best_value = math.inf
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_state: dict[str, dict[str, torch.Tensor]] | None = None
        self.start_epoch = 0
        self._elapsed_before = 0.0
        self._train_time = 0.0
        self._samples_done = 0
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
        per_rank = max(1, math.ceil(cfg.batch_size / self.dist.world_size))
        estimate = estimate_memory(self.design, analysis, batch_size=per_rank,
                                   optimizer=cfg.optimizer, momentum=cfg.momentum,
                                   task=cfg.task, device=self.device.type)
        problems = memory_problems(estimate)
        if problems:
            raise TrainingError(str(problems[0]))

    def _load_resume(self) -> Checkpoint | None:
        if self._resume is None:
            return None
        ckpt = self._resume if isinstance(self._resume, Checkpoint) else \
            load_checkpoint(self._resume)
        where = self._resume if not isinstance(self._resume, Checkpoint) else "the checkpoint"
        if not ckpt.matches(self.design):
            raise TrainingError(f"{where} was saved for a different design (layers, parameters "
                                "or wiring differ): resume with the design it came from")
        if not ckpt.trainer_state:
            raise TrainingError(f"{where} has no trainer state to resume from: start a new run")
        if ckpt.epoch >= self.config.epochs:
            raise TrainingError(f"{where} already trained {ckpt.epoch} of {self.config.epochs} "
                                f"epochs: ask for more epochs (e.g. --epochs {ckpt.epoch + 10})")
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
            raise TrainingError(f"the data has no targets ({data.description}): set "
                                "training.task to reconstruction, gan or som, or give the data a "
                                "target")
        return cfg

    def _monitor(self) -> str | None:
        """The loss that picks the best epoch and drives early stopping and plateau decay."""
        loop, cfg = self.loop, self.config
        monitor = None
        if loop.has_validation_loss:
            monitor = "val_loss" if loop.n_val > 0 else "train_loss"
        if monitor is None and (cfg.early_stopping is not None or cfg.scheduler.type == "plateau"):
            raise TrainingError(f"early_stopping and the plateau scheduler need a loss to watch; "
                                f"{cfg.task} training has none: remove them")
        return monitor

    def _make_scheduler(self, opt: torch.optim.Optimizer):
        sc = self.config.scheduler
        if sc.type == "step":
            return torch.optim.lr_scheduler.StepLR(opt, step_size=sc.step_size, gamma=sc.gamma)
        if sc.type == "cosine":
            return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.config.epochs,
                                                              eta_min=sc.min_lr)
        if sc.type == "plateau":
            return torch.optim.lr_scheduler.ReduceLROnPlateau(
                opt, factor=sc.factor, patience=sc.patience, min_lr=sc.min_lr)
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
            perm = perm[:n - n % self.world][self.dist.rank::self.world]
        batches = list(perm.to(self.device).split(self.batch_size))
        if len(batches) > 1 and len(batches[-1]) == 1:
            batches.pop()  # a batch of one sample breaks BatchNorm; it is seen next epoch
        return batches

    def _end_stopped_early(self) -> RunSummary:
        """Report a run stopped before its first batch: no epochs, a summary saying so."""
        self.stopped = True
        summary = self._summary()
        if self.dist.is_main:
            self._write_summary(summary)
            self.callbacks.on_train_end(summary)
        return summary

    def _run(self) -> RunSummary:
        cfg, loop, data = self.config, self.loop, self.data
        main = self.dist.is_main
        if main:
            self._start_files()
            self.callbacks.on_train_start(TrainStartEvent(
                task=cfg.task, device=str(self.device), epochs=cfg.epochs,
                start_epoch=self.start_epoch, batches_per_epoch=self._batches_per_epoch(),
                n_train=loop.n_train, n_val=loop.n_val, data_description=data.description,
                loss_names=loop.loss_names, class_names=data.class_names,
                world_size=self.world, history=copy.deepcopy(self.history)))
        self._t_start = time.perf_counter()
        self._paused_s = 0.0
        self.stopped = self.early_stopped = False
        loop.train_mode()
        for epoch in range(self.start_epoch, cfg.epochs):
            self.epoch = epoch
            loop.on_epoch_start(epoch)
            batches = self._epoch_batches()
            t0 = time.perf_counter()
            paused0 = self._paused_s
            losses = self._train_epoch(epoch, batches)
            self._train_time += time.perf_counter() - t0 - (self._paused_s - paused0)
            self._samples_done += sum(len(b) for b in batches[:len(losses)]) * self.world
            if len(losses) < len(batches) or self._stop_requested:
                self.stopped = True
                break
            if self._end_epoch(epoch, batches, losses):
                self.early_stopped = True
                break
        restored = False
        es = cfg.early_stopping
        if es is not None and es.restore_best and self.best_state is not None \
                and self.best_epoch != len(self.history):
            for name, net in loop.networks.items():
                net.load_state_dict(self.best_state[name])
            restored = True
        summary = self._summary(restored_best=restored)
        if main:
            self._write_summary(summary)
            self.callbacks.on_train_end(summary)
        return summary

    def _train_epoch(self, epoch: int, batches: list[torch.Tensor]) -> list[torch.Tensor]:
        """The hot loop: one step per batch, events every ``log_every`` steps."""
        step_fn = self.loop.train_step
        sample_every, log_every = self.config.sample_every, self.config.log_every
        step = self.step
        next_sample = -(-step // sample_every) * sample_every
        next_log = step + log_every
        losses: list[torch.Tensor] = []
        emitted = 0
        n_batches = len(batches)
        self._t_log = time.perf_counter()
        for b, idx in enumerate(batches):
            if self._interrupt and self._interrupted():
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

    def _emit_batch(self, epoch: int, batch: int, n_batches: int, losses: list[torch.Tensor],
                    emitted: int) -> None:
        chunk = torch.stack(losses[emitted:]).float().cpu()
        values = chunk.tolist()
        flat = values if chunk.dim() == 1 else [v for row in values for v in row]
        if not all(math.isfinite(v) for v in flat):
            self._nan_error(epoch, "train")
        sampled, self.loop.sampled = self.loop.sampled, None
        if not self.dist.is_main:
            return
        names = self.loop.loss_names
        by_name = {names[0]: values} if chunk.dim() == 1 else \
            {name: [row[i] for row in values] for i, name in enumerate(names)}
        now = time.perf_counter()
        k = len(values)
        rate = k * self.batch_size * self.world / max(now - self._t_log, 1e-9)
        self._t_log = now
        self.callbacks.on_batch_end(BatchEvent(
            epoch=epoch, step=self.step, batch=batch, batches_per_epoch=n_batches,
            steps=list(range(self.step - k + 1, self.step + 1)), losses=by_name,
            lr=self.loop.current_lr(), samples_per_s=rate,
            activation_stats=sampled[0] if sampled else None,
            grad_norms=sampled[1] if sampled else None))

    def _nan_error(self, epoch: int, what: str) -> None:
        last = ""
        if self.out_dir is not None and self.history:
            last = f"; the last good checkpoint is {self.out_dir / 'last.pt'} " \
                   f"(epoch {len(self.history)})"
        raise TrainingError(
            f"the {what} loss became NaN or infinite in epoch {epoch + 1} (step {self.step}, "
            f"lr {self.loop.current_lr():g}): lower the learning rate, set grad_clip, or check "
            f"the data for extreme values{last}")

    def _end_epoch(self, epoch: int, batches: list[torch.Tensor],
                   losses: list[torch.Tensor]) -> bool:
        """Evaluate, schedule, checkpoint and report one epoch; True when early stopping hits."""
        cfg, loop = self.config, self.loop
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
        metrics: dict[str, Any] = {}
        if len(means) == 1:
            metrics["train_loss"] = means[0]
        else:
            metrics.update(zip(loop.loss_names, means, strict=True))
            metrics["train_loss"] = sum(means)
        eval_metrics, samples = loop.evaluate()
        metrics.update(eval_metrics)
        if "val_loss" in metrics and not math.isfinite(metrics["val_loss"]):
            self._nan_error(epoch, "validation")
        current = metrics.get(self.monitor) if self.monitor else None
        for sched in self.schedulers.values():
            if sched is None:
                continue
            if isinstance(sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
                sched.step(current)
            else:
                sched.step()
        es = cfg.early_stopping
        min_delta = es.min_delta if es is not None else 0.0
        is_best = current is None or current < self.best_value - min_delta
        if is_best:
            self.best_value = current if current is not None else self.best_value
            self.best_epoch = epoch + 1
            self.bad_epochs = 0
            if es is not None and es.restore_best:
                self.best_state = {name: {k: v.detach().cpu().clone()
                                          for k, v in net.state_dict().items()}
                                   for name, net in loop.networks.items()}
        else:
            self.bad_epochs += 1
        lr = loop.current_lr()
        elapsed = self._elapsed()
        record = {"epoch": epoch + 1, "train_loss": metrics.pop("train_loss"),
                  "val_loss": metrics.pop("val_loss", None), **metrics, "lr": lr,
                  "elapsed_s": round(elapsed, 3)}
        self.history.append(record)
        if self.dist.is_main:
            self._write_epoch(record, is_best)
            self.callbacks.on_epoch_end(EpochEvent(
                epoch=epoch + 1, epochs=cfg.epochs, step=self.step,
                metrics={k: v for k, v in record.items()
                         if k not in ("epoch", "lr", "elapsed_s") and v is not None},
                lr=lr, elapsed_s=elapsed, is_best=is_best, samples=samples))
        return es is not None and self.bad_epochs >= es.patience

    def _elapsed(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._t_start - self._paused_s

    # -- checkpoints and files ---------------------------------------------------------------------
    def _trainer_state(self, with_best: bool) -> dict[str, Any]:
        rng: dict[str, Any] = {"torch": torch.get_rng_state(),
                               "batches": self.batch_gen.get_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "config": self.config.to_dict(),
            "step": self.step,
            "optimizers": {k: o.state_dict() for k, o in self.loop.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()
                           if s is not None},
            "rng": rng,
            "early_stopping": {"best_value": self.best_value, "best_epoch": self.best_epoch,
                               "bad_epochs": self.bad_epochs},
            "best_state_dicts": self.best_state if with_best else None,
            "history": copy.deepcopy(self.history),
            "loop": self.loop.extra_state(),
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
            raise TrainingError(f"the checkpoint's trainer state does not fit this design and "
                                f"settings ({_first_line(exc)[:120]}): start a new run") from None
        es = ts.get("early_stopping", {})
        self.best_value = float(es.get("best_value", math.inf))
        self.best_epoch = int(es.get("best_epoch", 0))
        self.bad_epochs = int(es.get("bad_epochs", 0))
        best = ts.get("best_state_dicts")
        if best is None and self.best_epoch == ckpt.epoch:
            best = {k: {n: t.clone() for n, t in sd.items()} for k, sd in ckpt.state_dicts.items()}
        self.best_state = best
        self.history = list(ts.get("history", []))
        self.step = int(ts.get("step", 0))
        self.start_epoch = int(ckpt.epoch)
        self._elapsed_before = float(ts.get("elapsed_s", 0.0))
        self._train_time = float(ts.get("train_time_s", 0.0))
        self._samples_done = int(ts.get("samples_done", 0))
        loop.load_extra_state(ts.get("loop", {}))

    def _checkpoint(self, epoch: int, metrics: dict[str, Any], with_best: bool) -> Checkpoint:
        data = self.data
        info = {"task": self.config.task, "input_shape": list(data.input_shape),
                "target_shape": list(data.target_shape), "num_classes": data.num_classes,
                "class_names": data.class_names, "feature_names": data.feature_names}
        return checkpoint_from_modules(
            self.design, dict(self.loop.networks),
            preprocessor=data.preprocessor.state_dict() if data.preprocessor.fitted else None,
            data_info=info, epoch=epoch,
            metrics={k: v for k, v in metrics.items() if isinstance(v, int | float)},
            trainer_state=self._trainer_state(with_best))

    def _start_files(self) -> None:
        self._files_started = True
        if self.out_dir is None:
            return
        self.out_dir.mkdir(parents=True, exist_ok=True)
        with open(self.out_dir / "metrics.jsonl", "w", encoding="utf-8") as fh:
            for record in self.history:
                fh.write(json.dumps(record) + "\n")

    def _write_epoch(self, record: dict[str, Any], is_best: bool) -> None:
        if self.out_dir is None:
            return
        epoch = record["epoch"]
        es = self.config.early_stopping
        save_checkpoint(self.out_dir / "last.pt",
                        self._checkpoint(epoch, record, with_best=es is not None
                                         and es.restore_best and not is_best))
        if is_best:
            save_checkpoint(self.out_dir / "best.pt",
                            self._checkpoint(epoch, record, with_best=False))
        with open(self.out_dir / "metrics.jsonl", "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")

    def _summary(self, restored_best: bool = False, error: str | None = None) -> RunSummary:
        history = self.history
        best = next((h for h in history if h["epoch"] == getattr(self, "best_epoch", 0)), None)
        files = self.out_dir is not None
        data = self.data
        rate = self._samples_done / self._train_time if getattr(self, "_train_time", 0) else 0.0
        return RunSummary(
            design=self.design.name,
            task=self.config.task,
            device=str(self.device) if self.device is not None else None,
            world_size=self.dist.world_size,
            epochs=self.config.epochs,
            epochs_completed=len(history),
            stopped=bool(getattr(self, "stopped", False)),
            early_stopped=bool(getattr(self, "early_stopped", False)),
            error=error,
            monitor=getattr(self, "monitor", None),
            best_epoch=getattr(self, "best_epoch", 0) or None,
            best=best,
            final=history[-1] if history else None,
            restored_best=restored_best,
            elapsed_s=round(self._elapsed(), 3) if hasattr(self, "_t_start") else 0.0,
            train_samples_per_s=round(rate, 1),
            data=data.description if data is not None else None,
            n_train=self.loop.n_train if self.loop is not None else 0,
            n_val=self.loop.n_val if self.loop is not None else 0,
            best_checkpoint=str(self.out_dir / "best.pt") if files and history else None,
            last_checkpoint=str(self.out_dir / "last.pt") if files and history else None,
            metrics_file=str(self.out_dir / "metrics.jsonl") if files else None,
            config=self.config.to_dict(),
        )

    def _write_summary(self, summary: RunSummary) -> None:
        if self.out_dir is None:
            return
        try:
            summary.write(self.out_dir)
        except OSError:
            pass  # a summary that cannot be written must not hide the run's own result

    def _readable(self, exc: Exception) -> DeepwireError:
        """Turn any failure into one line a user can act on."""
        if isinstance(exc, DeepwireError):
            return exc
        where = f" in epoch {self.epoch + 1}" if self.loop is not None else ""
        message = _first_line(exc)
        if isinstance(exc, torch.OutOfMemoryError) or "out of memory" in message.lower():
            bs = self.config.batch_size
            return TrainingError(f"out of {self.device} memory{where} at batch size {bs}: lower "
                                 f"batch_size (try {max(1, bs // 2)}) or use a smaller design or "
                                 "device cpu")
        return TrainingError(f"training failed{where}: {type(exc).__name__}: {message}")
