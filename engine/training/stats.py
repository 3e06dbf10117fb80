"""Sampled per-layer activation statistics and gradient norms.

A :class:`LayerProbe` attaches forward hooks only for the one step it samples and removes them
right after, so the steps in between run with no hook at all. Statistics stay on the device until
:meth:`LayerProbe.collect`, which moves them to the CPU in one transfer.

Besides mean, std and zeros it measures what the canvas's health strips need (engine.insight):
for ReLU layers the share of units never positive over the last :data:`DEAD_WINDOW` sampled
batches (one bool per unit and batch kept on the device), for Sigmoid / Tanh layers the share of
outputs within :data:`SATURATION_MARGIN` of a bound, and each layer's relative weight change
between sampled steps (:meth:`LayerProbe.take_weight_changes`; a copy of the weights is kept on
the device for it).
"""

from __future__ import annotations

import torch
from torch import nn

from engine.training.events import LayerStats

DEAD_WINDOW = 8  # sampled batches over which a ReLU unit must never be positive to count as dead
SATURATION_MARGIN = 0.01  # a Sigmoid output below 0.01 / above 0.99, a Tanh one beyond ±0.99
_DEAD_TYPES = (nn.ReLU, nn.ReLU6)
_NAN = float("nan")


def _kind(module: nn.Module) -> str:
    """Which extra statistic a layer gets: "dead" (ReLU), "sigmoid", "tanh" or none ("")."""
    if isinstance(module, _DEAD_TYPES):
        return "dead"
    if isinstance(module, nn.Sigmoid):
        return "sigmoid"
    return "tanh" if isinstance(module, nn.Tanh) else ""


class LayerProbe:
    """Collects mean, std and zero fraction of each layer's output, and per-layer grad norms.

    ``layers`` maps node id → module (a compiled design's ``layers`` ModuleDicts, merged). A
    block instance is one layer; with ``expand_blocks`` its inner layers are too, named by their
    block path (see :func:`block_layers`).
    """

    def __init__(self, layers: dict[str, nn.Module], expand_blocks: bool = False) -> None:
        self.layers = block_layers(layers) if expand_blocks else layers
        self._handles: list[torch.utils.hooks.RemovableHandle] = []
        self._acts: dict[str, torch.Tensor] = {}
        self._params = {
            nid: [p for p in m.parameters() if p.requires_grad] for nid, m in self.layers.items()
        }
        self._params = {nid: ps for nid, ps in self._params.items() if ps}
        self._kind = {nid: _kind(m) for nid, m in self.layers.items()}
        self._alive: dict[str, tuple[torch.Tensor, list[int]]] = {}  # ring of "was positive"
        self._before: dict[str, list[torch.Tensor]] = {}  # weights at the last sampled step
        self._changes: dict[str, torch.Tensor] = {}

    def attach(self) -> None:
        """Hook every layer for the next forward pass."""
        self._acts = {}
        for node_id, module in self.layers.items():
            self._handles.append(module.register_forward_hook(self._hook(node_id)))

    def _hook(self, node_id: str):
        def hook(_module: nn.Module, _inputs: tuple, output: object) -> None:
            if (
                node_id in self._acts
                or not isinstance(output, torch.Tensor)
                or not output.is_floating_point()
                or output.numel() == 0
            ):
                return
            out = output.detach().float()
            std = out.std() if out.numel() > 1 else out.new_zeros(())
            nan = out.new_full((), _NAN)
            dead = saturated = nan
            kind = self._kind.get(node_id)
            if kind == "dead" and out.dim() >= 1 and out.shape[0] > 0:
                dead = self._dead_share(node_id, out)
            elif kind == "sigmoid":
                m = SATURATION_MARGIN
                saturated = ((out < m) | (out > 1.0 - m)).float().mean()
            elif kind == "tanh":
                saturated = (out.abs() > 1.0 - SATURATION_MARGIN).float().mean()
            self._acts[node_id] = torch.stack(
                [out.mean(), std, (out == 0).float().mean(), dead, saturated]
            )

        return hook

    def _dead_share(self, node_id: str, out: torch.Tensor) -> torch.Tensor:
        """Share of units (output values per sample) not positive in any of the last
        :data:`DEAD_WINDOW` sampled batches, this one included."""
        positive = (out.reshape(out.shape[0], -1) > 0).any(0)
        ring, state = self._alive.get(node_id, (None, [0, 0]))
        if ring is None or ring.shape[1] != positive.numel():  # first time, or a new shape
            ring = positive.new_zeros((DEAD_WINDOW, positive.numel()))
            state = [0, 0]  # next row, rows filled
        ring[state[0]] = positive
        state = [(state[0] + 1) % DEAD_WINDOW, min(state[1] + 1, DEAD_WINDOW)]
        self._alive[node_id] = (ring, state)
        return 1.0 - ring[: state[1]].any(0).float().mean()

    def detach(self) -> None:
        """Remove the hooks (the statistics stay until :meth:`collect`)."""
        for handle in self._handles:
            handle.remove()
        self._handles.clear()

    def collect(self) -> dict[str, LayerStats]:
        """The statistics gathered since :meth:`attach`, as plain floats."""
        self.detach()
        if not self._acts:
            return {}
        ids = list(self._acts)
        values = torch.stack([self._acts[i] for i in ids]).cpu().tolist()
        self._acts = {}
        return {
            i: LayerStats(*v[:3], *(None if x != x else x for x in v[3:]))  # NaN: not measured
            for i, v in zip(ids, values, strict=True)
        }

    def grad_norms(self, only: set[str] | None = None) -> dict[str, float]:
        """L2 norm of each layer's parameter gradients (call after backward, before the step);
        ``only`` limits it to some node ids."""
        ids, norms = [], []
        for node_id, params in self._params.items():
            if only is not None and node_id not in only:
                continue
            self._weight_change(node_id, params)
            grads = [p.grad for p in params if p.grad is not None]
            if grads:
                ids.append(node_id)
                norms.append(
                    torch.linalg.vector_norm(
                        torch.stack([torch.linalg.vector_norm(g.detach().float()) for g in grads])
                    )
                )
        if not ids:
            return {}
        return dict(zip(ids, torch.stack(norms).cpu().tolist(), strict=True))

    def _weight_change(self, node_id: str, params: list[torch.Tensor]) -> None:
        """‖w − w_before‖ / ‖w_before‖ against the copy kept at the previous sampled step."""
        now = [p.detach() for p in params]
        before = self._before.get(node_id)
        if before is not None and len(before) == len(now):
            pairs = zip(now, before, strict=True)
            diff = torch.stack([torch.linalg.vector_norm((a - b).float()) for a, b in pairs])
            base = torch.stack([torch.linalg.vector_norm(b.float()) for b in before])
            size = torch.linalg.vector_norm(base)
            self._changes[node_id] = torch.linalg.vector_norm(diff) / size.clamp_min(1e-12)
        self._before[node_id] = [p.clone() for p in now]

    def take_weight_changes(self) -> dict[str, float]:
        """The relative weight changes measured since the last call (one transfer), by node id."""
        if not self._changes:
            return {}
        ids = list(self._changes)
        values = torch.stack([self._changes[i] for i in ids]).cpu().tolist()
        self._changes = {}
        return dict(zip(ids, values, strict=True))


def block_layers(layers: dict[str, nn.Module]) -> dict[str, nn.Module]:
    """``layers`` and, inside every block instance, each inner layer named by its block path:
    ``stage2`` (the instance), ``stage2[1]/conv2`` (layer conv2 of its second repeat), nested
    blocks recursively (``outer[0]/stage2[1]/conv2``)."""
    from engine.compile import BlockModule

    out: dict[str, nn.Module] = {}
    for name, module in layers.items():
        out[name] = module
        if isinstance(module, BlockModule):
            runs = [module]
        elif isinstance(module, nn.Sequential) and all(isinstance(m, BlockModule) for m in module):
            runs = list(module)
        else:
            continue
        for index, block in enumerate(runs):
            inner = {node_id: block.get_submodule(node_id) for node_id, _ in block._plan}
            for path, sub in block_layers(inner).items():
                out[f"{name}[{index}]/{path}"] = sub
    return out
