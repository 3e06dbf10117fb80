"""Teaching mode: one training step of a design, stopped at every stage of the loop.

:class:`Stepper` sets a run up exactly as :class:`~engine.training.trainer.Trainer` does (the same
prepared data and preprocessing, the same family loop, the same optimizer and settings), then runs
that loop's own ``train_step`` on one small batch with forward and gradient hooks on the compiled
module's layers. Nothing is computed twice: the values it shows are the ones the step used.

:meth:`Stepper.next_batch` returns the stages of one step as :class:`Stage` records::

    data in → forward (each node, topological order) → error check (outputs, targets, loss)
            → backward (each node's output gradient, reverse order) → update (weight change)

The GAN gives two such passes (the discriminator on real and generated samples, then the
generator); the SOM, which learns without backpropagation, gives data in → distances and best-
matching units → neighbourhood → weight update. Stepping trains a private copy of the design.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.data import PreparedData
from engine.graph import Design
from engine.layers import REGISTRY
from engine.training.config import TrainConfig
from engine.training.loops import FamilyLoop, GanLoop, ReconstructionLoop, SomLoop
from engine.training.trainer import Trainer

#: Samples per step: enough to see a batch, few enough to look at each one.
STEP_BATCH = 8
#: Bins of the weight-change histogram at the update stage.
HIST_BINS = 20

#: How each configured loss is computed, in one sentence.
LOSS_TEXT = {
    "cross_entropy": "Cross-entropy: softmax turns each row of outputs into class probabilities, "
    "and the loss is the mean over the batch of −log(probability given to the true class).",
    "bce_with_logits": "Binary cross-entropy: a sigmoid turns each output into a probability p, "
    "and the loss is the mean of −[y·log p + (1 − y)·log(1 − p)] over every value.",
    "mse": "Mean squared error: the mean over every value of (output − target)².",
    "l1": "Mean absolute error: the mean over every value of |output − target|.",
    "huber": "Huber loss: the squared error where output and target differ by less than 1, the "
    "absolute error beyond that, averaged over every value.",
}
#: What a few kinds of layer do to the numbers passing through (one sentence; default: none).
LAYER_TEXT = {
    "Linear": "Each output is a weighted sum of all inputs plus a bias.",
    "Conv2d": "Each filter slides over the image and gives one feature map.",
    "ConvTranspose2d": "Each filter spreads its input over a larger map (upsampling).",
    "ReLU": "Negative values become zero, positive ones pass unchanged.",
    "LeakyReLU": "Negative values shrink to a small slope, positive ones pass unchanged.",
    "Sigmoid": "Every value is squashed into the range 0 to 1.",
    "Tanh": "Every value is squashed into the range −1 to 1.",
    "Dropout": "In training, a random part of the values is set to zero (the rest scaled up).",
    "BatchNorm2d": "Each channel is normalized with the batch's mean and spread, then rescaled.",
    "BatchNorm1d": "Each feature is normalized with the batch's mean and spread, then rescaled.",
    "MaxPool2d": "Each small window keeps only its largest value.",
    "Flatten": "The values are laid out in one long row.",
    "LSTM": "The sequence is read step by step; gates decide what the memory keeps.",
    "RNN": "The sequence is read step by step, each step mixing the input into a hidden state.",
    "GRU": "The sequence is read step by step; gates decide what the hidden state keeps.",
    "Output": "It passes its input on as the network's output.",
}
#: The GAN's two half-steps, in the order the loop runs them.
GAN_STEPS = ("discriminator step", "generator step")
OPTIMIZER_NAMES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop"}


@dataclass
class Stage:
    """One stop of the step-through: what happens, where, and the numbers it happens to.

    ``kind`` is ``data``, ``forward``, ``error``, ``backward``, ``update`` (and for the SOM
    ``distances``, ``neighbourhood``); ``node`` the design node it is about (None: the whole
    network); ``step`` names the GAN's half-step ("" elsewhere). ``tensors`` hold the values as
    numpy arrays (batch first), ``numbers`` the summary values the caption quotes.
    """

    kind: str
    node: str | None
    caption: str
    tensors: dict[str, np.ndarray] = field(default_factory=dict)
    numbers: dict[str, float] = field(default_factory=dict)
    step: str = ""


@dataclass
class StepRecord:
    """What a step started from, so it can be checked against a plain one: the batch indices,
    torch's random state just before the step, and every network's weights."""

    indices: np.ndarray
    rng_state: torch.Tensor
    weights_before: dict[str, dict[str, torch.Tensor]]


def _array(t: torch.Tensor | None) -> np.ndarray | None:
    return None if t is None else t.detach().float().cpu().numpy().copy()


def _each(shape: tuple[int, ...]) -> str:
    """A sample's shape in words: ``64 values`` or ``1×8×8``."""
    return f"{shape[0]} values" if len(shape) == 1 else "×".join(str(d) for d in shape) or "1 value"


def _first_tensor(value: Any) -> torch.Tensor | None:
    """A layer's output tensor (the first one when it returns several)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        return next((v for v in value if isinstance(v, torch.Tensor)), None)
    return None


@dataclass
class _GanTrace:
    """What the GAN's hooked step saw: layer calls, each loss term, network inputs, weights."""

    recorder: _Recorder
    crit_calls: list[tuple[torch.Tensor, torch.Tensor, float]]
    seen: dict[str, list[torch.Tensor]]
    before: dict[str, dict[str, torch.Tensor]]
    d_loss: float
    g_loss: float


class _Recorder:
    """Forward hooks on every layer of some networks: each call's output and, once backward has
    run, the gradient that reached it (``calls[node] = [{"out": …, "grad": …}, …]``)."""

    def __init__(self, layers: dict[str, nn.Module]) -> None:
        self.calls: dict[str, list[dict[str, torch.Tensor | None]]] = {}
        self.handles = [m.register_forward_hook(self._hook(n)) for n, m in layers.items()]

    def _hook(self, node_id: str) -> Callable:
        def hook(_module: nn.Module, _inputs: tuple, output: Any) -> None:
            out = _first_tensor(output)
            if out is None:
                return
            entry: dict[str, torch.Tensor | None] = {"out": out.detach().clone(), "grad": None}
            self.calls.setdefault(node_id, []).append(entry)
            if out.requires_grad:

                def keep(grad: torch.Tensor) -> None:
                    entry["grad"] = grad.detach().clone()

                out.register_hook(keep)

        return hook

    def call(self, node_id: str, index: int = 0) -> dict[str, torch.Tensor | None]:
        calls = self.calls.get(node_id, [])
        return calls[index] if index < len(calls) else {"out": None, "grad": None}

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()


class Stepper:
    """Steps one small batch at a time through a design's training loop (a private copy).

    ``data``: prepared data to use instead of preparing the design's data section (the training
    panel's cache); ``batch_size``: samples per step (the design's batch size when smaller).
    Raises the trainer's one-line errors when the design cannot train.
    """

    def __init__(
        self,
        design: Design,
        base_dir: str | Path | None = None,
        data: PreparedData | None = None,
        batch_size: int = STEP_BATCH,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        config = TrainConfig.from_design(design)
        config = config.replace(
            device="cpu", amp=False, batch_size=max(2, min(batch_size, config.batch_size))
        )
        self.trainer = Trainer(design, config, base_dir=base_dir, data=data)
        if should_stop is not None:
            self.trainer.stop_requested_now = should_stop  # asked while preparing the data
        self.trainer._setup()  # the same data, loop, optimizers and seeds a run starts with
        self.design = self.trainer.design
        self.config: TrainConfig = self.trainer.config
        self.loop: FamilyLoop = self.trainer.loop
        self.data: PreparedData = self.trainer.data
        self.epoch = 0
        self.batches: list[torch.Tensor] = []
        self.steps = 0
        self.record: StepRecord | None = None

    # -- what the loop trains ----------------------------------------------------------------
    @property
    def networks(self) -> dict[str, nn.Module]:
        """The compiled networks the step trains, by network name."""
        return dict(self.loop.networks)

    def weights(self) -> dict[str, dict[str, torch.Tensor]]:
        """A copy of every network's weights now (``state_dict`` per network)."""
        return {
            name: {k: v.detach().clone() for k, v in net.state_dict().items()}
            for name, net in self.loop.networks.items()
        }

    def optimizer_text(self) -> str:
        """The optimizer and its main settings, e.g. ``Adam (learning rate 0.001)``."""
        cfg = self.config
        name = OPTIMIZER_NAMES.get(cfg.optimizer, cfg.optimizer)
        extra = f", momentum {cfg.momentum:g}" if cfg.optimizer in ("sgd", "rmsprop") else ""
        return f"{name} (learning rate {self.loop.current_lr():g}{extra})"

    def _next_indices(self) -> torch.Tensor:
        """The next batch of the trainer's shuffled epoch (a new epoch when one is used up)."""
        if not self.batches:
            self.epoch += 1
            self.loop.on_epoch_start(self.epoch)
            self.batches = self.trainer._epoch_batches()
        return self.batches.pop(0)

    # -- one step ----------------------------------------------------------------------------
    def next_batch(self) -> list[Stage]:
        """Train one step on the next batch and return its stages in order."""
        idx = self._next_indices()
        self.record = StepRecord(
            indices=idx.cpu().numpy().copy(),
            rng_state=torch.get_rng_state(),
            weights_before=self.weights(),
        )
        self.loop.train_mode()
        if isinstance(self.loop, SomLoop):
            stages = self._som_step(idx)
        elif isinstance(self.loop, GanLoop):
            stages = self._gan_step(idx)
        else:
            stages = self._backprop_step(idx)
        self.steps += 1
        return stages

    def _layer_ids(self, net: nn.Module) -> list[str]:
        return list(net.layers.keys())

    def _node_type(self, node_id: str) -> str:
        return REGISTRY.resolve(self.design.node(node_id).type)

    def _forward_stage(self, node_id: str, out: torch.Tensor | None, step: str = "") -> Stage:
        kind = self._node_type(node_id)
        shape = _each(tuple(out.shape[1:])) if out is not None else "?"
        text = LAYER_TEXT.get(kind, "")
        caption = f"Forward: {node_id} ({kind}) gives {shape} per sample. {text}".strip()
        numbers = {}
        if out is not None:
            o = out.float()
            numbers = {"mean": float(o.mean()), "std": float(o.std()) if o.numel() > 1 else 0.0}
            numbers["zeros"] = float((o == 0).float().mean())
        return Stage("forward", node_id, caption, {"output": _array(out)}, numbers, step)

    def _backward_stage(self, node_id: str, grad: torch.Tensor | None, step: str = "") -> Stage:
        kind = self._node_type(node_id)
        if grad is None:
            caption = (
                f"Backward: no gradient reaches {node_id} ({kind}): nothing before it learns, "
                "so backpropagation stops here."
            )
            return Stage("backward", node_id, caption, {}, {}, step)
        norm = float(grad.float().norm())
        caption = (
            f"Backward: {node_id} ({kind}) receives the gradient of the loss with respect to its "
            f"output (norm {norm:.3g}). It says which way each value should move to lower the "
            "loss, and is passed on to the layers before it."
        )
        return Stage("backward", node_id, caption, {"gradient": _array(grad)}, {"norm": norm}, step)

    def _update_stages(
        self, net: nn.Module, before: dict[str, torch.Tensor], step: str = ""
    ) -> list[Stage]:
        """Per node with weights: how far the optimizer step moved them (norm and histogram)."""
        stages = []
        opt = self.optimizer_text()
        for node_id in reversed(self._layer_ids(net)):
            module = net.layers[node_id]
            names = [n for n, p in module.named_parameters() if p.requires_grad]
            if not names:
                continue
            deltas, grads = [], []
            for name in names:
                param = dict(module.named_parameters())[name]
                deltas.append((param.detach() - before[f"layers.{node_id}.{name}"]).reshape(-1))
                if param.grad is not None:
                    grads.append(param.grad.detach().reshape(-1))
            delta = torch.cat(deltas)
            counts, edges = np.histogram(_array(delta), bins=HIST_BINS)
            norm = float(delta.norm())
            numbers = {"change_norm": norm, "weights": float(delta.numel())}
            if grads:
                numbers["weight_grad_norm"] = float(torch.cat(grads).norm())
            caption = (
                f"Update: {opt} moves the {delta.numel():,} weights of {node_id} against their "
                f"gradients; the change has norm {norm:.3g}."
            )
            tensors = {"change": _array(delta), "hist_counts": counts, "hist_edges": edges}
            stages.append(Stage("update", node_id, caption, tensors, numbers, step))
        return stages

    # -- supervised and reconstruction -------------------------------------------------------
    def _backprop_step(self, idx: torch.Tensor) -> list[Stage]:
        loop = self.loop
        net = loop.net
        seen: dict[str, torch.Tensor] = {}

        def keep_input(_module: nn.Module, inputs: tuple) -> None:
            seen.setdefault("x", inputs[0].detach().clone())

        pre = net.register_forward_pre_hook(keep_input)
        original = loop.loss_fn

        def loss_fn(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            seen["out"], seen["target"] = out.detach().clone(), target.detach().clone()
            return original(out, target)

        recorder = _Recorder(dict(net.layers.items()))
        loop.loss_fn = loss_fn
        before = self.weights()[net.network]
        try:
            loss = float(loop.train_step(idx, sample=False))
        finally:
            loop.loss_fn = original
            pre.remove()
            recorder.remove()
        layers = self._layer_ids(net)
        stages = [self._data_stage(net.input_ids[0], seen["x"], seen["target"])]
        stages += [self._forward_stage(n, recorder.call(n)["out"]) for n in layers]
        stages.append(self._error_stage(net.output_ids[0], seen["out"], seen["target"], loss))
        stages += [self._backward_stage(n, recorder.call(n)["grad"]) for n in reversed(layers)]
        stages += self._update_stages(net, before)
        return stages

    def _data_stage(self, node_id: str, x: torch.Tensor, target: torch.Tensor | None) -> Stage:
        n = len(x)
        what = f"{n} samples of {_each(tuple(x.shape[1:]))}"
        if isinstance(self.loop, ReconstructionLoop):
            noise = " with noise added (the clean input is the target)" if self.loop.noise else ""
            caption = (
                f"Data in: {what} enter at {node_id}{noise}, after the same preprocessing as "
                "training. An autoencoder's target is its own input."
            )
        else:
            caption = (
                f"Data in: {what} enter at {node_id}, after the same preprocessing as training "
                "(scaling, missing values). Each sample comes with the target the network "
                "should predict."
            )
        tensors = {"input": _array(x)}
        if target is not None:
            tensors["target"] = _array(target)
        return Stage("data", node_id, caption, tensors, {"samples": float(n)})

    def _error_stage(
        self, node_id: str, out: torch.Tensor, target: torch.Tensor, loss: float
    ) -> Stage:
        loop = self.loop
        how = LOSS_TEXT.get(self.config.loss, "")
        numbers = {"loss": loss}
        tensors = {"output": _array(out), "target": _array(target)}
        what = (
            "the reconstruction is compared with the input"
            if isinstance(loop, ReconstructionLoop)
            else "the outputs are compared with the targets"
        )
        if getattr(loop, "classify", False):
            if getattr(loop, "binary", False):
                pred = (out.reshape(-1) > 0).long()
                labels = target.reshape(-1).long()
            else:
                pred = out.argmax(1)
                labels = target if target.ndim == 1 else target.argmax(1)
            numbers["correct"] = float((pred == labels).sum())
            tensors["prediction"] = _array(pred)
            what += f" ({int(numbers['correct'])} of {len(out)} predicted right)"
        caption = f"Error check: {what}; the loss is {loss:.4g}. {how}"
        return Stage("error", node_id, caption, tensors, numbers)

    # -- GAN ---------------------------------------------------------------------------------
    def _gan_step(self, idx: torch.Tensor) -> list[Stage]:
        trace = self._gan_run(idx)
        return self._gan_discriminator_stages(trace, len(idx)) + self._gan_generator_stages(trace)

    def _gan_run(self, idx: torch.Tensor) -> _GanTrace:
        """The GAN loop's own step with hooks: every layer call, each loss term, the inputs."""
        loop: GanLoop = self.loop
        gen, disc = loop.gen, loop.disc
        crit_calls: list[tuple[torch.Tensor, torch.Tensor, float]] = []
        original = loop.crit

        def crit(logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
            value = original(logit, label)
            crit_calls.append(
                (logit.detach().clone(), label.detach().clone(), float(value.detach()))
            )
            return value

        seen: dict[str, list[torch.Tensor]] = {"gen": [], "disc": []}
        pres = [
            net.register_forward_pre_hook(
                lambda _m, inputs, key=key: seen[key].append(inputs[0].detach().clone())
            )
            for key, net in (("gen", gen), ("disc", disc))
        ]
        recorder = _Recorder({**dict(gen.layers.items()), **dict(disc.layers.items())})
        before = self.weights()
        loop.crit = crit
        try:
            losses = loop.train_step(idx, sample=False)
        finally:
            loop.crit = original
            for handle in pres:
                handle.remove()
            recorder.remove()
        return _GanTrace(recorder, crit_calls, seen, before, float(losses[0]), float(losses[1]))

    def _gan_discriminator_stages(self, trace: _GanTrace, b: int) -> list[Stage]:
        """Noise → generator → real and fake samples → discriminator → its loss and update."""
        loop: GanLoop = self.loop
        gen, disc, recorder, seen = loop.gen, loop.disc, trace.recorder, trace.seen
        crit_calls, d_loss = trace.crit_calls, trace.d_loss
        g_ids, d_ids = self._layer_ids(gen), self._layer_ids(disc)
        z_id, d_in = gen.input_ids[0], disc.input_ids[0]
        d_step = GAN_STEPS[0]
        stages = [
            Stage(
                "data",
                z_id,
                f"Data in: {b} random noise vectors enter the generator at {z_id}; it turns "
                "each into a fake sample.",
                {"input": _array(seen["gen"][0])},
                {"samples": float(b)},
                d_step,
            )
        ]
        stages += [self._forward_stage(n, recorder.call(n, 0)["out"], d_step) for n in g_ids]
        both = seen["disc"][0]
        stages.append(
            Stage(
                "data",
                d_in,
                f"Data in: the discriminator reads {b} real samples (after the same "
                f"preprocessing as training) and the {b} fakes, at {d_in}. Real ones should "
                "score 1, fakes 0.",
                {"input": _array(both), "target": np.r_[np.ones(b), np.zeros(b)]},
                {"samples": float(2 * b)},
                d_step,
            )
        )
        stages += [self._forward_stage(n, recorder.call(n, 0)["out"], d_step) for n in d_ids]
        logits = torch.cat([crit_calls[0][0], crit_calls[1][0]])
        labels = torch.cat([crit_calls[0][1], crit_calls[1][1]])
        how = LOSS_TEXT.get(self.config.loss, "")
        stages.append(
            Stage(
                "error",
                disc.output_ids[0],
                f"Error check (discriminator): its loss on real (label 1) plus fake (label 0) "
                f"samples is {d_loss:.4g}. {how}",
                {"output": _array(logits), "target": _array(labels)},
                {"loss": d_loss, "loss_real": crit_calls[0][2], "loss_fake": crit_calls[1][2]},
                d_step,
            )
        )
        stages += [
            self._backward_stage(n, recorder.call(n, 0)["grad"], d_step) for n in reversed(d_ids)
        ]
        stages += self._update_stages(disc, trace.before[disc.network], d_step)
        return stages

    def _gan_generator_stages(self, trace: _GanTrace) -> list[Stage]:
        """The updated discriminator on the fakes → the generator's loss, backward, update."""
        loop: GanLoop = self.loop
        gen, disc, recorder, crit_calls = loop.gen, loop.disc, trace.recorder, trace.crit_calls
        g_ids, d_ids = self._layer_ids(gen), self._layer_ids(disc)
        g_step, g_loss = GAN_STEPS[1], trace.g_loss
        how = LOSS_TEXT.get(self.config.loss, "")
        stages = [self._forward_stage(n, recorder.call(n, 1)["out"], g_step) for n in d_ids]
        stages.append(
            Stage(
                "error",
                disc.output_ids[0],
                f"Error check (generator): the updated discriminator scores the same fakes; the "
                f"generator wants them called real (label 1), and its loss is {g_loss:.4g}. {how}",
                {"output": _array(crit_calls[2][0]), "target": _array(crit_calls[2][1])},
                {"loss": g_loss},
                g_step,
            )
        )
        stages += [
            self._backward_stage(n, recorder.call(n, 1)["grad"], g_step) for n in reversed(d_ids)
        ]
        stages += [
            self._backward_stage(n, recorder.call(n, 0)["grad"], g_step) for n in reversed(g_ids)
        ]
        stages += self._update_stages(gen, trace.before[gen.network], g_step)
        return stages

    # -- SOM ---------------------------------------------------------------------------------
    def _som_step(self, idx: torch.Tensor) -> list[Stage]:
        loop: SomLoop = self.loop
        net, som_id = loop.net, loop.som_id
        x = loop.x_train.index_select(0, idx)
        decay = 1.0 / (1.0 + loop.seen / (loop.total / 2.0))  # SomLoop's schedule at this step
        before = loop.som.weight.detach().clone()
        recorder = _Recorder({k: m for k, m in net.layers.items() if k != som_id})
        try:
            with torch.no_grad():
                feats, dist = loop._distances(x)  # the compiled network up to the SOM layer
            error = float(loop.train_step(idx, sample=False))
        finally:
            recorder.remove()
        in_id, n = net.input_ids[0], len(idx)
        stages = [
            Stage(
                "data",
                in_id,
                f"Data in: {n} samples of {_each(tuple(x.shape[1:]))} enter at {in_id}, after "
                "the same preprocessing as training. A SOM has no targets: it learns the data's "
                "layout.",
                {"input": _array(x)},
                {"samples": float(n)},
            )
        ]
        stages += [
            self._forward_stage(k, recorder.call(k)["out"])
            for k in self._layer_ids(net)
            if k in recorder.calls  # layers before the SOM (the forward pass stops there)
        ]
        return stages + self._som_map_stages(feats, dist, before, error, decay)

    def _som_map_stages(
        self,
        feats: torch.Tensor,
        dist: torch.Tensor,
        before: torch.Tensor,
        error: float,
        decay: float,
    ) -> list[Stage]:
        """Distances and best-matching units, the neighbourhood, the prototypes' move."""
        loop: SomLoop = self.loop
        som_id, rows, cols, n = loop.som_id, loop.rows, loop.cols, len(dist)
        lr, sigma = loop.lr0 * decay, loop.sigma0 * decay
        best, bmu = dist.min(dim=1)
        d2 = (loop.grid[bmu].unsqueeze(1) - loop.grid.unsqueeze(0)).pow(2).sum(-1)
        h = torch.exp(-d2 / (2.0 * sigma * sigma))
        stages = []
        bmu_rc = np.stack([_array(bmu) // cols, _array(bmu) % cols], axis=1)
        stages.append(
            Stage(
                "distances",
                som_id,
                f"Distances: each of the {rows}×{cols} units holds a prototype; {som_id} measures "
                "how far every sample is from each one. The closest unit is the sample's best-"
                f"matching unit (mean distance {error:.3g}).",
                {
                    "distances": _array(dist.reshape(n, rows, cols)),
                    "bmu": bmu_rc,
                    "features": _array(feats),
                },
                {"quantization_error": error, "best_mean": float(best.mean())},
            )
        )
        stages.append(
            Stage(
                "neighbourhood",
                som_id,
                f"Neighbourhood: units near a best-matching unit on the grid learn too, weighted "
                f"by a Gaussian of radius {sigma:.3g} (it shrinks as training goes on).",
                {"neighbourhood": _array(h.reshape(n, rows, cols))},
                {"sigma": sigma, "learning_rate": lr},
            )
        )
        return stages + [self._som_update_stage(before, lr, sigma)]

    def _som_update_stage(self, before: torch.Tensor, lr: float, sigma: float) -> Stage:
        """How far each prototype moved (the SOM's rule, applied by the loop)."""
        loop: SomLoop = self.loop
        som_id, rows, cols = loop.som_id, loop.rows, loop.cols
        delta = loop.som.weight.detach() - before
        per_unit = delta.norm(dim=1)
        counts, edges = np.histogram(_array(delta).reshape(-1), bins=HIST_BINS)
        norm = float(delta.norm())
        return Stage(
            "update",
            som_id,
            f"Update: every unit moves toward the samples it won or neighbours, by learning "
            f"rate {lr:.3g} times its neighbourhood weight (no backpropagation, no "
            f"optimizer); the change has norm {norm:.3g}.",
            {
                "change": _array(delta).reshape(-1),
                "unit_change": _array(per_unit.reshape(rows, cols)),
                "hist_counts": counts,
                "hist_edges": edges,
            },
            {"change_norm": norm, "learning_rate": lr, "sigma": sigma},
        )
