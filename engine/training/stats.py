"""Sampled per-layer activation statistics and gradient norms.

A :class:`LayerProbe` attaches forward hooks only for the one step it samples and removes them
right after, so the steps in between run with no hook at all. Statistics stay on the device until
:meth:`LayerProbe.collect`, which moves them to the CPU in one transfer.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.training.events import LayerStats


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
            self._acts[node_id] = torch.stack([out.mean(), std, (out == 0).float().mean()])

        return hook

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
        return {i: LayerStats(*v) for i, v in zip(ids, values, strict=True)}

    def grad_norms(self, only: set[str] | None = None) -> dict[str, float]:
        """L2 norm of each layer's parameter gradients (call after backward, before the step);
        ``only`` limits it to some node ids."""
        ids, norms = [], []
        for node_id, params in self._params.items():
            if only is not None and node_id not in only:
                continue
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
