"""The family loops: what one training step and one evaluation mean for each task.

The :class:`~engine.training.trainer.Trainer` owns epochs, batching, events, checkpoints and
interrupts; a loop owns the networks, optimizers and the maths of one step:

* :class:`SupervisedLoop` — classification, regression, forecasting (MLP, CNN, RNN, LSTM).
* :class:`ReconstructionLoop` — autoencoders: the target is the input, optional denoising noise.
* :class:`GanLoop` — generator and discriminator from one design, alternating steps.
* :class:`SomLoop` — competitive learning of a SOM layer's prototypes, no backpropagation.

A step returns its loss(es) as a detached tensor and never synchronizes with the device, so the
trainer can run many steps before it reads any number back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from engine.compile import DesignModule, compile_design
from engine.data import PreparedData, check_input_shape
from engine.data.augment import Augmenter, training_augmenter
from engine.data.streaming import DeviceStream, is_streamed, workers_for
from engine.errors import DataError, DesignError, TrainingError
from engine.graph import Design
from engine.insight.boundary import decision_boundary, shows_boundary
from engine.layers import REGISTRY, fmt_shape
from engine.shapes import resolve_params
from engine.training.config import TrainConfig
from engine.training.devices import DistContext
from engine.training.events import LayerStats, as_array
from engine.training.metrics import (
    confusion_matrix,
    hit_map,
    image_grid,
    regression_metrics,
    som_quality,
    u_matrix,
)
from engine.training.samples import (
    ConfusionSample,
    EpochSample,
    GanSample,
    PredictionSample,
    ReconstructionSample,
    SomSample,
)
from engine.training.stats import LayerProbe

#: Samples evaluated per forward pass during evaluation (bounds memory on big validation sets).
EVAL_CHUNK = 4096
#: Samples shown in the epoch event: reconstructions, regression scatter, GAN grid.
N_RECONSTRUCTIONS = 8
N_PREDICTIONS = 256
N_GAN_SAMPLES = 64


@dataclass
class LoopContext:
    """What every loop needs: the design, settings, data and where to run."""

    design: Design
    config: TrainConfig
    data: PreparedData
    device: torch.device
    dist: DistContext
    total_epochs: int


def make_optimizer(params: list[nn.Parameter], cfg: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``cfg`` names, over ``params``."""
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=cfg.lr,
            momentum=cfg.momentum,
            nesterov=cfg.nesterov,
            weight_decay=cfg.weight_decay,
        )
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    return torch.optim.RMSprop(
        params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay
    )


def _tensor(a: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    if a is None:
        return None
    return torch.from_numpy(np.ascontiguousarray(a)).to(device)


def _to_device(a: np.ndarray | None, device: torch.device, what: str) -> torch.Tensor | None:
    """Move one data array to the device; running out of GPU memory names the fix."""
    try:
        return _tensor(a, device)
    except torch.OutOfMemoryError:
        mib = a.nbytes / 2**20 if a is not None else 0
        raise TrainingError(
            f"the {what} ({mib:.0f} MiB) does not fit in {device} memory: use "
            "device cpu or a smaller dataset"
        ) from None


def _token_ids(
    design: Design, network: str, in_id: str, *arrays: np.ndarray
) -> tuple[np.ndarray, ...]:
    """``arrays`` as int64 token ids for the int64 Input ``in_id``; DataError unless every value
    is a whole number from 0 to below the ``num_embeddings`` of each Embedding it reaches."""
    values = np.concatenate([np.asarray(a).reshape(-1) for a in arrays])
    fix = "load integer token ids (with preprocess scale 'none') or set its dtype to float32"
    if values.size and not np.all(np.isfinite(values)):
        raise DataError(
            f"Input '{in_id}' has dtype int64 (token ids), but the data has missing "
            f"or infinite values: {fix}"
        )
    frac = values[np.mod(values, 1) != 0] if values.size else values
    if frac.size:
        raise DataError(
            f"Input '{in_id}' has dtype int64 (token ids), but the data holds values "
            f"that are not whole numbers (e.g. {float(frac[0]):g}): {fix}"
        )
    if values.size and values.min() < 0:
        raise DataError(
            f"Input '{in_id}' has dtype int64 (token ids), but the data holds the "
            f"negative id {int(values.min())}: token ids start at 0"
        )
    top = int(values.max()) if values.size else 0
    for node in design.nodes_in_network(network):
        if REGISTRY.resolve(node.type) != "Embedding" or in_id not in nx.ancestors(
            design.graph, node.id
        ):
            continue
        size = resolve_params(REGISTRY.get(node.type), node.params)[0]["num_embeddings"]
        if top >= size:
            raise DataError(
                f"the data holds token ids up to {top}, but Embedding '{node.id}' "
                f"has num_embeddings {size}: set num_embeddings to at least "
                f"{top + 1}"
            )
    return tuple(np.asarray(a).astype(np.int64) for a in arrays)


def _single(ids: list[str], what: str, network: str) -> str:
    if len(ids) != 1:
        raise DesignError(
            f"network '{network}' has {len(ids)} {what}s ({', '.join(ids)}); "
            f"training needs exactly one: remove the extra ones"
        )
    return ids[0]


def _source_of(design: Design, output_id: str) -> str:
    """The layer that feeds an Output node (where a user changes the output size)."""
    if REGISTRY.resolve(design.node(output_id).type) == "Output":
        edges = design.in_edges(output_id)
        if edges:
            return edges[0].source
    return output_id


def _params(modules: list[nn.Module]) -> list[nn.Parameter]:
    return [p for m in modules for p in m.parameters() if p.requires_grad]


class FamilyLoop:
    """Base class: networks, optimizers, one step, one evaluation."""

    loss_names: tuple[str, ...] = ("loss",)
    has_validation_loss = True

    def __init__(self, ctx: LoopContext) -> None:
        self.ctx = ctx
        self.cfg = ctx.config
        self.device = ctx.device
        self.networks: dict[str, DesignModule] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.probe: LayerProbe | None = None
        self.sampled: tuple[dict[str, LayerStats], dict[str, float]] | None = None
        self.x_train: torch.Tensor
        self.augment: Augmenter | None = None  # the data section's augment steps, if any
        self.n_train = 0
        self.n_val = 0
        #: Whether :meth:`evaluate` also computes the epoch's picture (the trainer sets it from
        #: its callbacks' ``wants_epoch_samples``); the metrics are the same either way.
        self.wants_samples = True

    # -- helpers for subclasses ----------------------------------------------------------------
    def _compile(self, network: str | None) -> DesignModule:
        module = compile_design(self.ctx.design, network).to(self.device)
        self.networks[module.network] = module
        return module

    def _wrap(self, module: nn.Module) -> nn.Module:
        """DistributedDataParallel around ``module`` under torchrun, else ``module`` itself."""
        if not self.ctx.dist.enabled or not any(p.requires_grad for p in module.parameters()):
            return module
        from torch.nn.parallel import DistributedDataParallel as DDP

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DDP(module, device_ids=ids)

    def _make_probe(self) -> None:
        layers: dict[str, nn.Module] = {}
        for net in self.networks.values():
            layers.update(dict(net.layers.items()))
        self.probe = LayerProbe(layers)

    def _load_x(self, net: DesignModule | None = None, in_id: str | None = None) -> None:
        """Training and validation inputs on the device; for an int64 Input of ``net`` they are
        checked to be token ids its Embeddings can look up, and converted to int64."""
        data = self.ctx.data
        x_train, x_val = data.x_train, data.x_val
        if is_streamed(x_train):  # larger than memory: batches come from disk
            workers = workers_for(data.spec)
            self.x_train = DeviceStream(x_train, self.device, workers)
            self.x_val = DeviceStream(x_val, self.device, min(workers, 1))
            self.n_train, self.n_val = len(x_train), len(x_val)
            self.augment = training_augmenter(data.spec, self.x_train, self.cfg, self.ctx.dist.rank)
            return
        if net is not None and net.input_dtypes.get(in_id) == "int64":
            x_train, x_val = _token_ids(self.ctx.design, net.network, in_id, x_train, x_val)
        self.x_train = _to_device(x_train, self.device, "training data")
        self.x_val = _to_device(x_val, self.device, "validation data")
        self.n_train, self.n_val = len(data.x_train), len(data.x_val)
        self.augment = training_augmenter(data.spec, self.x_train, self.cfg, self.ctx.dist.rank)

    def _eval_split(self) -> tuple[str, torch.Tensor, torch.Tensor | None]:
        """Validation data when there is some, else the training data (metrics say which)."""
        if self.n_val:
            return "val", self.x_val, getattr(self, "y_val", None)
        return "train", self.x_train, getattr(self, "y_train", None)

    # -- the interface the trainer uses --------------------------------------------------------
    def train_mode(self) -> None:
        """Put every network in training mode (dropout and batch statistics on)."""
        for net in self.networks.values():
            net.train()

    def on_epoch_start(self, epoch: int) -> None:
        """Called before the first batch of each epoch (re-seeds the augmentation)."""
        if self.augment is not None:
            self.augment.start_epoch(epoch)

    def plan_batches(self, batches: list[torch.Tensor]) -> None:
        """The epoch's batches, before the first step: streamed data decodes them ahead."""
        if isinstance(self.x_train, DeviceStream):
            self.x_train.plan(batches)

    def close_data(self) -> None:
        """Stop the streamed data's worker processes (nothing for resident data)."""
        for x in (getattr(self, "x_train", None), getattr(self, "x_val", None)):
            if isinstance(x, DeviceStream):
                x.close()

    def train_step(self, idx: torch.Tensor, sample: bool) -> torch.Tensor:
        """One optimization step on the samples ``idx``; returns detached loss(es)."""
        raise NotImplementedError

    def evaluate(self) -> tuple[dict[str, float], EpochSample | None]:
        """Metrics (e.g. ``val_loss``, ``val_accuracy``) and the family's view after an epoch
        (:mod:`engine.training.samples`; None when there was nothing to evaluate, or when
        :attr:`wants_samples` is off)."""
        raise NotImplementedError

    def current_lr(self) -> float:
        """The learning rate now (the first optimizer's; 0.0 without one)."""
        opt = next(iter(self.optimizers.values()), None)
        return float(opt.param_groups[0]["lr"]) if opt is not None else 0.0

    def extra_state(self) -> dict[str, Any]:
        """Loop state beyond weights and optimizers that an exact resume needs."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state`."""

    def fresh_start(self) -> None:
        """Initialize anything that depends on the data (called unless resuming)."""


# ----------------------------------------------------------------------------------------------
# Supervised and reconstruction


class _BackpropLoop(FamilyLoop):
    """Shared single-network step: forward, loss, backward, clip, optimizer step (AMP on CUDA)."""

    def _setup_backprop(self, net: DesignModule) -> None:
        self.net = net
        self.train_net = self._wrap(net)
        params = _params([net])
        if not params:
            raise DesignError(
                f"network '{net.network}' has no trainable parameters: add a "
                "Linear, convolution or recurrent layer"
            )
        self.params = params
        self.optimizers = {net.network: make_optimizer(params, self.cfg)}
        self.opt = self.optimizers[net.network]
        self.use_amp = self.cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.use_amp else None
        self._make_probe()

    def _loss_and_step(
        self,
        xb: torch.Tensor,
        target: torch.Tensor,
        sample: bool,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        probe, opt, clip = self.probe, self.opt, self.cfg.grad_clip
        if sample:
            probe.attach()
        if self.use_amp:
            with torch.autocast("cuda", dtype=torch.float16):
                out = self.train_net(xb)
                loss = loss_fn(out.float(), target)
        else:
            out = self.train_net(xb)
            loss = loss_fn(out, target)
        if sample:
            acts = probe.collect()
        opt.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if clip is not None or sample:
                self.scaler.unscale_(opt)
        else:
            loss.backward()
        if sample:
            self.sampled = (acts, probe.grad_norms())
        if clip is not None:
            torch.nn.utils.clip_grad_norm_(self.params, clip)
        if self.scaler is not None:
            self.scaler.step(opt)
            self.scaler.update()
        else:
            opt.step()
        return loss.detach()

    def _predict(self, x: torch.Tensor) -> torch.Tensor:
        """Eval-mode outputs for ``x`` in chunks (no gradients)."""
        self.net.eval()
        outs = []
        ctx = (
            torch.autocast("cuda", dtype=torch.float16)
            if self.use_amp
            else contextlib.nullcontext()
        )
        with torch.no_grad(), ctx:
            for start in range(0, len(x), EVAL_CHUNK):
                outs.append(self.net(x[start : start + EVAL_CHUNK]).float())
        self.net.train()
        return torch.cat(outs) if outs else x.new_zeros((0,))

    def extra_state(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state_dict()} if self.scaler is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])


def _regression_loss(name: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    return {
        "mse": F.mse_loss,
        "l1": F.l1_loss,
        "huber": F.huber_loss,
        "bce_with_logits": F.binary_cross_entropy_with_logits,
    }[name]


class SupervisedLoop(_BackpropLoop):
    """Classification (cross-entropy or BCE) and regression/forecasting (MSE, L1, Huber)."""

    def __init__(self, ctx: LoopContext) -> None:
        super().__init__(ctx)
        data, cfg = ctx.data, ctx.config
        self.classify = cfg.task == "classification"
        if self.classify and data.task != "classification":
            raise TrainingError(
                f"training task 'classification' needs class labels but the data "
                f"is {data.task} ({data.description}): set training.task to "
                + ("regression" if data.task != "unsupervised" else "reconstruction, gan or som")
            )
        if not self.classify and data.task not in ("regression", "forecast"):
            raise TrainingError(
                f"training task {cfg.task!r} needs numeric targets but the data "
                f"is {data.task} ({data.description}): set training.task to "
                + (
                    "classification"
                    if data.task == "classification"
                    else "reconstruction, gan or som"
                )
            )
        net = self._compile(None)
        in_id = _single(net.input_ids, "Input", net.network)
        out_id = _single(net.output_ids, "output", net.network)
        check_input_shape(data, net.input_shapes[in_id], in_id)
        out_shape = tuple(net.output_shapes[out_id])
        src = _source_of(ctx.design, out_id)
        self._load_x(net, in_id)
        # 2-D points: each evaluation also sends the decision boundary (engine/insight/boundary)
        self.boundary = shows_boundary(
            tuple(net.input_shapes[in_id]), net.input_dtypes[in_id], cfg.task
        )
        if self.classify:
            self._setup_classes(out_shape, src)
        else:
            want = int(np.prod(data.target_shape)) if data.target_shape else 1
            if int(np.prod(out_shape)) != want:
                raise DesignError(
                    f"node '{src}' outputs {fmt_shape(out_shape)} "
                    f"but the data has {want} target value(s) per sample: make "
                    f"'{src}' output {want}"
                )
            self.y_train = (
                _to_device(data.y_train, self.device, "training targets")
                .float()
                .reshape(self.n_train, *out_shape)
            )
            self.y_val = (
                _to_device(data.y_val, self.device, "validation targets")
                .float()
                .reshape(self.n_val, *out_shape)
            )
            self.loss_fn = _regression_loss(cfg.loss)
        self._setup_backprop(net)

    def _setup_classes(self, out_shape: tuple[int, ...], src: str) -> None:
        data, cfg = self.ctx.data, self.cfg
        k = int(data.num_classes)
        self.num_classes = k
        y_train = _to_device(data.y_train, self.device, "training labels").long()
        y_val = _to_device(data.y_val, self.device, "validation labels").long()
        self.labels_train, self.labels_val = y_train, y_val
        if cfg.loss == "cross_entropy":
            if out_shape != (k,):
                raise DesignError(
                    f"node '{src}' outputs {fmt_shape(out_shape)} but "
                    f"the data has {k} classes: give '{src}' {k} outputs "
                    "(e.g. Linear out_features)"
                )
            self.y_train, self.y_val = y_train, y_val
            self.loss_fn = F.cross_entropy
            self.binary = False
        elif out_shape in ((1,), ()) and k == 2:
            self.y_train = y_train.float().reshape(-1, *out_shape)
            self.y_val = y_val.float().reshape(-1, *out_shape)
            self.loss_fn = F.binary_cross_entropy_with_logits
            self.binary = True
        elif out_shape == (k,):  # one logit per class, one-hot targets
            self.y_train = F.one_hot(y_train, k).float()
            self.y_val = F.one_hot(y_val, k).float()
            self.loss_fn = F.binary_cross_entropy_with_logits
            self.binary = False
        else:
            raise DesignError(
                f"node '{src}' outputs {fmt_shape(out_shape)}; with "
                f"bce_with_logits and {k} classes it needs "
                + ("1 output (or 2) " if k == 2 else f"{k} outputs ")
                + f"— change '{src}' or use loss cross_entropy"
            )

    def train_step(self, idx: torch.Tensor, sample: bool) -> torch.Tensor:
        # index_select is ~3× cheaper per call than x[idx] on small batches
        xb = self.x_train.index_select(0, idx)
        if self.augment is not None:
            xb = self.augment(xb)
        return self._loss_and_step(xb, self.y_train.index_select(0, idx), sample, self.loss_fn)

    def evaluate(self) -> tuple[dict[str, float], EpochSample | None]:
        split, x, y = self._eval_split()
        if len(x) == 0:
            return {}, None
        out = self._predict(x)
        metrics: dict[str, float] = {}
        sample: EpochSample | None = None
        if split == "val":
            metrics["val_loss"] = float(self.loss_fn(out, y))
        if self.classify:
            labels = self.labels_val if split == "val" else self.labels_train
            pred = (out.reshape(-1) > 0).long() if self.binary else out.argmax(1)
            metrics[f"{split}_accuracy"] = float((pred == labels).float().mean())
            if self.wants_samples:
                sample = ConfusionSample(confusion_matrix(pred, labels, self.num_classes))
            if self.wants_samples and self.boundary:
                sample.boundary = decision_boundary(
                    self._predict, self.x_train, self.labels_train, self.binary
                )
        else:
            reg = regression_metrics(out, y)
            metrics[f"{split}_r2"] = reg["r2"]
            metrics[f"{split}_mae"] = reg["mae"]
            if self.wants_samples:
                sample = PredictionSample(
                    target=as_array(y[:N_PREDICTIONS]), prediction=as_array(out[:N_PREDICTIONS])
                )
        return metrics, sample


class ReconstructionLoop(_BackpropLoop):
    """Autoencoders: reconstruct the (clean) input, optionally from a noisy copy of it."""

    def __init__(self, ctx: LoopContext) -> None:
        super().__init__(ctx)
        net = self._compile(None)
        in_id = _single(net.input_ids, "Input", net.network)
        out_id = _single(net.output_ids, "output", net.network)
        check_input_shape(ctx.data, net.input_shapes[in_id], in_id)
        if net.input_dtypes[in_id] != "float32":
            raise DesignError(
                f"an autoencoder reconstructs its input as floats, but Input "
                f"'{in_id}' has dtype {net.input_dtypes[in_id]}: set its dtype to "
                "float32 (or train it as a classifier)"
            )
        in_shape = tuple(ctx.data.input_shape)
        out_shape = tuple(net.output_shapes[out_id])
        if int(np.prod(out_shape)) != int(np.prod(in_shape)):
            src = _source_of(ctx.design, out_id)
            raise DesignError(
                f"an autoencoder must output what it reads: node '{src}' gives "
                f"{fmt_shape(out_shape)} but the Input is {fmt_shape(in_shape)}; "
                f"make the decoder end in {fmt_shape(in_shape)}"
            )
        self.out_shape = out_shape
        self._load_x()
        self.noise = self.cfg.denoise_std
        base = _regression_loss(self.cfg.loss)
        shape = out_shape
        self.loss_fn = lambda out, target: base(out, target.reshape(len(target), *shape))
        self._setup_backprop(net)

    def train_step(self, idx: torch.Tensor, sample: bool) -> torch.Tensor:
        xb = self.x_train.index_select(0, idx)
        if self.augment is not None:
            xb = self.augment(xb)
        noisy = xb + self.noise * torch.randn_like(xb) if self.noise > 0 else xb
        return self._loss_and_step(noisy, xb, sample, self.loss_fn)

    def evaluate(self) -> tuple[dict[str, float], EpochSample | None]:
        split, x, _ = self._eval_split()
        if len(x) == 0:
            return {}, None
        out = self._predict(x)
        metrics = {f"{split}_mse": float(F.mse_loss(out.reshape(x.shape), x))}
        if split == "val":
            metrics["val_loss"] = float(self.loss_fn(out, x))
        if not self.wants_samples:
            return metrics, None
        k = min(N_RECONSTRUCTIONS, len(x))
        return metrics, ReconstructionSample(
            inputs=as_array(x[:k]), outputs=as_array(out[:k].reshape(x[:k].shape))
        )


# ----------------------------------------------------------------------------------------------
# GAN


class GanLoop(FamilyLoop):
    """Generator vs discriminator: one discriminator step, then one generator step, per batch.

    The discriminator sees real and generated samples in one forward pass (label 1 and 0); the
    generator is trained to make the discriminator say 1 (the non-saturating loss). ``loss``
    ``mse`` gives the least-squares GAN instead of BCE.
    """

    loss_names = ("d_loss", "g_loss")
    has_validation_loss = False

    def __init__(self, ctx: LoopContext) -> None:
        super().__init__(ctx)
        design = ctx.design
        g_name, d_name = (
            design.network_of_role("generator"),
            design.network_of_role("discriminator"),
        )
        if g_name is None or d_name is None:
            raise DesignError(
                "training task 'gan' needs a network with role 'generator' and one "
                "with role 'discriminator'; set the networks' roles"
            )
        self.gen = self._compile(g_name)
        self.disc = self._compile(d_name)
        z_id = _single(self.gen.input_ids, "Input", g_name)
        d_in = _single(self.disc.input_ids, "Input", d_name)
        _single(self.disc.output_ids, "output", d_name)
        check_input_shape(ctx.data, self.disc.input_shapes[d_in], d_in)
        self.noise_shape = tuple(self.gen.input_shapes[z_id])
        self._load_x()
        self.gen_train = self._wrap(self.gen)
        self.disc_train = self._wrap(self.disc)
        for net in (self.gen, self.disc):
            if not _params([net]):
                raise DesignError(f"network '{net.network}' has no trainable parameters")
        self.optimizers = {
            g_name: make_optimizer(_params([self.gen]), self.cfg),
            d_name: make_optimizer(_params([self.disc]), self.cfg),
        }
        self.opt_g, self.opt_d = self.optimizers[g_name], self.optimizers[d_name]
        self.crit = (
            F.binary_cross_entropy_with_logits
            if self.cfg.loss == "bce_with_logits"
            else (lambda logit, label: F.mse_loss(torch.sigmoid(logit), label))
        )
        gen_cpu = torch.Generator().manual_seed(self.cfg.seed + 1)
        self.fixed_noise = torch.randn((N_GAN_SAMPLES, *self.noise_shape), generator=gen_cpu).to(
            self.device
        )
        self._make_probe()
        self.gen_ids, self.disc_ids = set(self.gen.layers.keys()), set(self.disc.layers.keys())

    def train_step(self, idx: torch.Tensor, sample: bool) -> torch.Tensor:
        real = self.x_train.index_select(0, idx)
        b = len(real)
        if sample:
            self.probe.attach()
        z = torch.randn((b, *self.noise_shape), device=self.device)
        fake = self.gen_train(z)
        logits = self.disc_train(torch.cat([real, fake.detach()])).reshape(2 * b, -1)
        ones = torch.ones_like(logits[:b])
        d_loss = self.crit(logits[:b], ones) + self.crit(logits[b:], torch.zeros_like(ones))
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        if sample:
            d_norms = self.probe.grad_norms(self.disc_ids)
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.disc.parameters(), self.cfg.grad_clip)
        self.opt_d.step()
        # The generator step reads the plain discriminator: its gradients are discarded anyway.
        g_loss = self.crit(self.disc(fake).reshape(b, -1), ones)
        self.opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        if sample:
            self.sampled = (
                self.probe.collect(),
                {**self.probe.grad_norms(self.gen_ids), **d_norms},
            )
        if self.cfg.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.gen.parameters(), self.cfg.grad_clip)
        self.opt_g.step()
        return torch.stack([d_loss.detach(), g_loss.detach()])

    def evaluate(self) -> tuple[dict[str, float], EpochSample | None]:
        self.gen.eval()
        self.disc.eval()
        with torch.no_grad():
            fake = self.gen(self.fixed_noise)
            real = self.x_train[:512]
            d_real = torch.sigmoid(self.disc(real)).mean()
            d_fake = torch.sigmoid(self.disc(fake)).mean()
        self.train_mode()
        # Mean per-pixel spread across the fixed batch: near 0 means the generator collapsed.
        metrics = {
            "d_real": float(d_real),
            "d_fake": float(d_fake),
            "sample_diversity": float(fake.reshape(len(fake), -1).std(0).mean()),
        }
        if not self.wants_samples:
            return metrics, None
        samples = as_array(fake)
        return metrics, GanSample(samples=samples, grid=image_grid(samples))


# ----------------------------------------------------------------------------------------------
# SOM


class SomLoop(FamilyLoop):
    """Competitive learning of a SOM layer, in mini-batches.

    For each batch: find every sample's best-matching unit (BMU), weight each unit by a Gaussian of
    its grid distance to that BMU, and move the unit toward the samples:
    ``w_u += lr · Σ_b h_bu (x_b − w_u) / max(1, Σ_b h_bu)`` — for a batch of one this is the
    classic online rule. Radius and learning rate shrink as ``value / (1 + t / (T/2))`` over the
    T samples of the whole run (MiniSom's asymptotic decay). Prototypes start as random training
    samples. No backpropagation and no optimizer.
    """

    has_validation_loss = True

    def __init__(self, ctx: LoopContext) -> None:
        super().__init__(ctx)
        net = self._compile(None)
        in_id = _single(net.input_ids, "Input", net.network)
        check_input_shape(ctx.data, net.input_shapes[in_id], in_id)
        soms = [
            n for n in ctx.design.nodes_in_network(net.network) if REGISTRY.resolve(n.type) == "SOM"
        ]
        som_id = _single([n.id for n in soms], "SOM layer", net.network)
        trained = [
            nid
            for nid, m in net.layers.items()
            if nid != som_id and any(p.requires_grad for p in m.parameters())
        ]
        if trained:
            raise DesignError(
                f"SOM training learns only the SOM layer, but '{trained[0]}' has "
                "weights too: remove it (use a separate design to learn features)"
            )
        self.net = net
        self.som = net.layers[som_id]
        self.som_id = som_id
        resolved, _ = resolve_params(REGISTRY.get("SOM"), ctx.design.node(som_id).params)
        rows, cols = self.som.rows, self.som.cols
        self.rows, self.cols = rows, cols
        self.sigma0 = float(resolved["sigma"]) or max(rows, cols) / 2.0
        self.lr0 = float(resolved["learning_rate"])
        self.grid = self.som.grid.to(self.device)
        self._load_x()
        world = ctx.dist.world_size
        self.total = float(max(1, ctx.total_epochs * (self.n_train // world) * world))
        self.seen = 0.0
        self.som.register_forward_pre_hook(self._capture)
        self._make_probe()
        self.probe.layers.pop(som_id, None)  # train_step reports the SOM's distances itself

    @staticmethod
    def _capture(_module: nn.Module, inputs: tuple) -> None:
        raise _SomInput(inputs[0])

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """What the SOM layer reads for ``x``: the network runs up to the SOM and stops there."""
        try:
            self.net(x)
        except _SomInput as captured:
            return captured.value.reshape(len(x), -1)
        raise DesignError(
            f"the SOM layer '{self.som_id}' is not on the path from the Input: "
            "wire the Input into it"
        )

    def _distances(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """SOM inputs and each unit's Euclidean distance to them (what the SOM layer outputs)."""
        feats = self._features(x)
        return feats, torch.cdist(feats, self.som.weight)

    def current_lr(self) -> float:
        return self.lr0 / (1.0 + self.seen / (self.total / 2.0))

    def fresh_start(self) -> None:
        gen = torch.Generator().manual_seed(self.cfg.seed + 2)
        pick = torch.randint(0, self.n_train, (self.rows * self.cols,), generator=gen)
        with torch.no_grad():
            self.net.eval()
            self.som.weight.copy_(self._features(self.x_train[pick.to(self.device)]))
            self.net.train()

    def train_step(self, idx: torch.Tensor, sample: bool) -> torch.Tensor:
        if sample:
            self.probe.attach()
        with torch.no_grad():
            feats, dist = self._distances(self.x_train.index_select(0, idx))
            if sample:
                acts = self.probe.collect()
                values = torch.stack([dist.mean(), dist.std(), (dist == 0).float().mean()])
                acts[self.som_id] = LayerStats(*values.tolist())
                self.sampled = (acts, {})
            best, bmu = dist.min(dim=1)
            decay = 1.0 / (1.0 + self.seen / (self.total / 2.0))
            sigma, lr = self.sigma0 * decay, self.lr0 * decay
            d2 = (self.grid[bmu].unsqueeze(1) - self.grid.unsqueeze(0)).pow(2).sum(-1)
            h = torch.exp(-d2 / (2.0 * sigma * sigma))  # (batch, units)
            mass = h.sum(0)
            pull = h.t() @ feats - mass.unsqueeze(1) * self.som.weight
            n = len(idx)
            if self.ctx.dist.enabled:
                import torch.distributed as tdist

                tdist.all_reduce(pull)
                tdist.all_reduce(mass)
                n *= self.ctx.dist.world_size
            self.som.weight.add_(lr * pull / mass.clamp_min(1.0).unsqueeze(1))
            self.seen += n
            return best.mean()

    def evaluate(self) -> tuple[dict[str, float], EpochSample | None]:
        split, x, _ = self._eval_split()
        self.net.eval()
        dists = []
        with torch.no_grad():
            for start in range(0, len(x), EVAL_CHUNK):
                dists.append(self._distances(x[start : start + EVAL_CHUNK])[1])
        self.net.train()
        dist = torch.cat(dists)
        qe, te, bmu = som_quality(dist, self.grid)
        metrics = {f"{split}_quantization_error": qe, f"{split}_topographic_error": te}
        if split == "val":
            metrics["val_loss"] = qe
        if not self.wants_samples:
            return metrics, None
        return metrics, SomSample(
            u_matrix=u_matrix(self.som.weight, self.rows, self.cols),
            hit_map=hit_map(bmu, self.rows, self.cols),
        )

    def extra_state(self) -> dict[str, Any]:
        return {"seen": self.seen}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.seen = float(state.get("seen", 0.0))


class _SomInput(Exception):
    """Carries the SOM layer's input out of a forward pass that need not go further."""

    def __init__(self, value: torch.Tensor) -> None:
        super().__init__("SOM input")
        self.value = value


def make_loop(ctx: LoopContext) -> FamilyLoop:
    """The loop for ``ctx.config.task``."""
    task = ctx.config.task
    if task in ("classification", "regression", "forecast"):
        return SupervisedLoop(ctx)
    if task == "reconstruction":
        return ReconstructionLoop(ctx)
    if task == "gan":
        return GanLoop(ctx)
    return SomLoop(ctx)
