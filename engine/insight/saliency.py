"""Why a model predicted what it did, for one sample: attributions and feature maps.

::

    explainer = Explainer(Predictor(design, "runs/cnn/best.pt"))
    result = explainer.explain(raw_sample, "grad_cam")   # target: the predicted class
    result.map          # H×W for a picture, one value per feature for a table
    maps = explainer.feature_maps(raw_sample)             # conv node id → C×H×W

The sample goes through the checkpoint's saved preprocessing (the :class:`~engine.evaluate.
Predictor`'s, as "Try it" predicts it), or is given already preprocessed (a sample of an evaluated
split, ``prepared=True``). The attributions come from Captum (an optional extra: ``pip install
"deepwire[insight]"``): Saliency (|∂ score / ∂ input|), Integrated Gradients from an all-zero
baseline in preprocessed space (the features' training mean after standard scaling), and Grad-CAM
on a Conv2d layer (the last one unless chosen), upsampled to the input's size. A picture's map
sums |attribution| over the channels; a table's keeps one signed value per (preprocessed) feature,
named. Feature maps are every Conv2d layer's output for the sample, read with forward hooks on the
compiled module. Every problem is one line (a :class:`~engine.errors.DataError`). Qt-free.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from engine.errors import DataError, first_line

SALIENCY, INTEGRATED_GRADIENTS, GRAD_CAM = "saliency", "integrated_gradients", "grad_cam"
#: The methods, as :meth:`Explainer.explain` names them, with the words the window shows.
METHODS: dict[str, str] = {
    SALIENCY: "Saliency",
    INTEGRATED_GRADIENTS: "Integrated Gradients",
    GRAD_CAM: "Grad-CAM",
}
IG_STEPS = 32  # Integrated Gradients' default number of steps along the path
INSTALL_HINT = 'Captum is not installed: pip install "deepwire[insight]" (or pip install captum)'


def captum_missing() -> str | None:
    """The one line that says how to install Captum, or None when it is importable."""
    try:
        import captum.attr  # noqa: F401
    except ImportError:
        return INSTALL_HINT
    return None


@dataclass
class Attribution:
    """What :meth:`Explainer.explain` computed for one sample.

    ``values`` is the attribution shaped like the preprocessed sample; ``map`` is what to show:
    H×W for a picture (|attribution| summed over channels; Grad-CAM upsampled, non-negative),
    one value per feature for a flat input (``names`` says which), else ``values`` itself."""

    method: str
    target: int  # the class (or output) explained
    target_name: str
    values: np.ndarray
    map: np.ndarray
    names: list[str] | None = None
    layer: str | None = None  # Grad-CAM's conv layer (node id)
    probabilities: list[float] | None = None  # the model's class probabilities for the sample


class _Scores(nn.Module):
    """The network's outputs as one score per class (``N × K``): one logit of a binary
    classifier becomes (−z, z), so class 0 and class 1 each have a score to explain."""

    def __init__(self, net: nn.Module, binary: bool) -> None:
        super().__init__()
        self.net = net
        self.binary = binary

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D401 - torch API
        out = self.net(x)
        if isinstance(out, tuple):
            out = out[0]
        out = out.float().reshape(len(out), -1)
        return torch.cat([-out, out], dim=1) if self.binary else out


class Explainer:
    """Attributions and feature maps of one loaded checkpoint (a :class:`Predictor`)."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor
        # a copy: hooks and gradients here never touch the model another thread predicts with
        self.net: nn.Module = copy.deepcopy(predictor.net).eval()
        names = predictor.class_names
        classification = predictor.config.task == "classification" and bool(names)
        out_shape = next(iter(self.net.output_shapes.values()))
        width = int(np.prod(out_shape)) if out_shape else 1
        self.binary = classification and width == 1 and len(names) == 2
        self.class_names: list[str] | None = list(names) if classification else None
        self.scores = _Scores(self.net, self.binary).eval()
        self.input_id = self.net.input_ids[0]

    # -- what can be explained ------------------------------------------------------------------

    @property
    def conv_layers(self) -> list[str]:
        """Node ids of the Conv2d layers, in execution order."""
        return [nid for nid, mod in self.net.layers.items() if isinstance(mod, nn.Conv2d)]

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """``(C, H, W)`` of a picture input, else None."""
        return self.predictor.image_shape

    def grad_cam_problem(self) -> str | None:
        """Why Grad-CAM cannot run for this model (one line), or None."""
        if not self.conv_layers:
            return "Grad-CAM needs a Conv2d layer and this design has none: use Saliency or Integrated Gradients"
        if self.image_shape is None:
            return "Grad-CAM needs a picture input (C×H×W); this model reads another kind of sample"
        return None

    def problem(self) -> str | None:
        """Why nothing can be explained (one line), or None."""
        if self.net.input_dtypes.get(self.input_id) == "int64":
            return (
                "the model reads whole-number token ids, which have no gradient: attributions "
                "need a model with a float input"
            )
        return captum_missing()

    # -- the sample -----------------------------------------------------------------------------

    def prepare(self, sample: np.ndarray, prepared: bool = False) -> torch.Tensor:
        """``(1, *input)`` float tensor of one sample: a raw sample (the checkpoint's
        preprocessing applied, as :meth:`Predictor.prepare` does) or an already preprocessed one."""
        x = np.asarray(sample)
        if not prepared:
            if x.ndim == len(self.predictor.raw_shape):
                x = x[None]
            x = self.predictor.prepare(x)
        else:
            expected = tuple(int(d) for d in self.net.input_shapes[self.input_id])
            if x.ndim == len(expected):
                x = x[None]
            if tuple(x.shape[1:]) != expected:
                raise DataError(
                    f"the sample has shape {tuple(x.shape[1:])}, but the model expects {expected}"
                )
        if len(x) != 1:
            raise DataError(f"explain one sample at a time, not {len(x)}")
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    # -- attributions -----------------------------------------------------------------------------

    def explain(
        self,
        sample: np.ndarray,
        method: str = SALIENCY,
        target: int | None = None,
        n_steps: int = IG_STEPS,
        layer: str | None = None,
        prepared: bool = False,
    ) -> Attribution:
        """The ``method``'s attribution for ``target`` (None: the predicted class; output 0 of a
        regression) on one sample; see the module doc."""
        if method not in METHODS:
            raise DataError(f"unknown method {method!r}: choose one of {', '.join(METHODS)}")
        problem = self.problem() or (self.grad_cam_problem() if method == GRAD_CAM else None)
        if problem:
            raise DataError(problem)
        x = self.prepare(sample, prepared)
        with torch.no_grad():
            scores = self.scores(x)
        target = self._target(scores, target)
        try:
            values, layer = self._attribute(x, method, target, n_steps, layer)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001 - a model Captum cannot run
            raise DataError(
                f"{METHODS[method]} failed on this model: {first_line(exc, 160)}"
            ) from None
        probs = None
        if self.class_names is not None:
            p = torch.sigmoid(scores[:, 1]) if self.binary else torch.softmax(scores, dim=1)[0]
            probs = [1 - float(p), float(p)] if self.binary else p.tolist()
        return Attribution(
            method,
            target,
            self.class_names[target] if self.class_names else f"output {target}",
            values,
            self._map(values, method),
            self._names(values),
            layer,
            probs,
        )

    def _target(self, scores: torch.Tensor, target: int | None) -> int:
        k = scores.shape[1]
        if target is None:
            return int(scores[0].argmax()) if self.class_names is not None else 0
        if not 0 <= int(target) < k:
            raise DataError(
                f"target {target} is out of range: the model has {k} outputs (0–{k - 1})"
            )
        return int(target)

    def _attribute(
        self, x: torch.Tensor, method: str, target: int, n_steps: int, layer: str | None
    ) -> tuple[np.ndarray, str | None]:
        from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Saliency

        x = x.clone().requires_grad_(True)
        if method == SALIENCY:
            attr = Saliency(self.scores).attribute(x, target=target, abs=True)
            return attr.detach()[0].numpy(), None
        if method == INTEGRATED_GRADIENTS:
            if n_steps < 2:
                raise DataError(f"Integrated Gradients needs at least 2 steps, not {n_steps}")
            ig = IntegratedGradients(self.scores)
            attr = ig.attribute(x, baselines=torch.zeros_like(x), target=target, n_steps=n_steps)
            return attr.detach()[0].numpy(), None
        layer = layer or self.conv_layers[-1]
        if layer not in self.conv_layers:
            raise DataError(
                f"{layer!r} is not a Conv2d layer of the design; choose one of "
                + ", ".join(self.conv_layers)
            )
        _, height, width = self.image_shape
        cam = LayerGradCam(self.scores, self.net.layers[layer])
        attr = cam.attribute(x, target=target, relu_attributions=True)
        up = LayerAttribution.interpolate(attr, (height, width), interpolate_mode="bilinear")
        return up.detach()[0, 0].clamp_min(0).numpy(), layer

    def _map(self, values: np.ndarray, method: str) -> np.ndarray:
        if method == GRAD_CAM:
            return values
        picture = self.image_shape
        if picture is not None and values.size == int(np.prod(picture)):
            return np.abs(values.reshape(picture)).sum(axis=0)
        return values.reshape(-1) if values.ndim == 1 else values

    def _names(self, values: np.ndarray) -> list[str] | None:
        if self.image_shape is not None or values.ndim != 1:
            return None
        pre = self.predictor.pre
        names = pre.feature_names if pre is not None else None
        if names and len(names) == values.size:
            return list(names)
        return [f"x{i}" for i in range(values.size)]

    # -- feature maps ---------------------------------------------------------------------------

    def feature_maps(
        self, sample: np.ndarray, node_id: str | None = None, prepared: bool = False
    ) -> dict[str, np.ndarray]:
        """Each Conv2d layer's output for one sample (node id → ``C × H × W``), or only
        ``node_id``'s; read with forward hooks during one forward pass."""
        layers = self.conv_layers
        if not layers:
            raise DataError("the design has no Conv2d layer, so there are no feature maps to show")
        if node_id is not None:
            if node_id not in layers:
                raise DataError(
                    f"{node_id!r} is not a Conv2d layer of the design; choose one of "
                    + ", ".join(layers)
                )
            layers = [node_id]
        x = self.prepare(sample, prepared)
        maps: dict[str, np.ndarray] = {}
        hooks = [
            self.net.layers[nid].register_forward_hook(
                lambda _m, _i, out, nid=nid: maps.__setitem__(nid, out.detach()[0].float().numpy())
            )
            for nid in layers
        ]
        try:
            with torch.no_grad():
                self.net(x)
        finally:
            for hook in hooks:
                hook.remove()
        return {nid: maps[nid].copy() for nid in layers}


__all__ = [
    "GRAD_CAM",
    "IG_STEPS",
    "INSTALL_HINT",
    "INTEGRATED_GRADIENTS",
    "METHODS",
    "SALIENCY",
    "Attribution",
    "Explainer",
    "captum_missing",
]
