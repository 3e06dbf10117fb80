"""Design → ``torch.nn.Module``.

:class:`DesignModule` holds one submodule per layer node, keyed by node id, and runs them in
topological order. It takes one tensor per Input node (in file order) and returns one tensor per
output (a tuple when there are several). A design with several networks (a GAN) compiles one
network at a time.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.blocks import BLOCK_TYPE
from engine.errors import DesignError
from engine.graph import Design
from engine.layers import REGISTRY
from engine.shapes import ShapeAnalysis, analyze, network_inputs, network_outputs


class DesignModule(nn.Module):
    """A compiled network: ``layers[node_id]`` is the node's module; ``forward(*inputs)``."""

    def __init__(self, design: Design, network: str, analysis: ShapeAnalysis) -> None:
        super().__init__()
        self.network = network
        self.input_ids: list[str] = network_inputs(design, network)
        self.output_ids: list[str] = network_outputs(design, network)
        self.layers = nn.ModuleDict()
        self._plan = _build(design, analysis, network, self.layers.__setitem__)
        self.input_shapes = {i: analysis.info[i].output_shape for i in self.input_ids}
        #: "float32" or "int64" per Input, as shape inference carried it (what forward expects)
        self.input_dtypes = {i: analysis.info[i].output_dtype for i in self.input_ids}
        self.output_shapes = {o: analysis.info[o].output_shape for o in self.output_ids}

    def forward(self, *inputs: torch.Tensor):  # noqa: D401 - torch API
        if len(inputs) != len(self.input_ids):
            raise TypeError(
                f"network '{self.network}' takes {len(self.input_ids)} input(s) "
                f"({', '.join(self.input_ids)}), got {len(inputs)}"
            )
        values: dict[str, torch.Tensor] = dict(zip(self.input_ids, inputs))
        for node_id, sources in self._plan:
            values[node_id] = self.layers[node_id](*(values[s] for s in sources))
        if len(self.output_ids) == 1:
            return values[self.output_ids[0]]
        return tuple(values[o] for o in self.output_ids)

    def example_inputs(self, batch: int = 2) -> tuple[torch.Tensor, ...]:
        """Random inputs of the right shapes and dtypes (for tracing and export)."""
        out = []
        for node_id in self.input_ids:
            shape = (batch, *self.input_shapes[node_id])
            dtype = self.input_dtypes[node_id]
            out.append(
                torch.zeros(shape, dtype=torch.long) if dtype == "int64" else torch.randn(shape)
            )
        return tuple(out)


def _build(design: Design, analysis: ShapeAnalysis, network: str | None, add) -> list:
    """Build each layer node's module (``add(node_id, module)``) in execution order; returns
    the plan ``[(node id, source ids in port order)]``. A block instance becomes its
    definition's class, or an ``nn.Sequential`` of one per repeat."""
    plan: list[tuple[str, tuple[str, ...]]] = []
    for node_id in analysis.topological_order(network):
        node = design.node(node_id)
        sources = tuple(e.source for e in design.in_edges(node_id))
        if node.type == BLOCK_TYPE:
            runs = analysis.block_runs[node_id]
            cls = block_class(node.params["block"])
            modules = [cls(concrete, sub) for concrete, sub in runs]
            add(node_id, modules[0] if len(modules) == 1 else nn.Sequential(*modules))
            plan.append((node_id, sources))
            continue
        spec = REGISTRY.get(node.type)
        if spec.inputs == 0 and not spec.variadic:
            continue
        info = analysis.info[node_id]
        add(node_id, spec.build(list(info.input_shapes), info.resolved))
        plan.append((node_id, sources))
    return plan


class BlockModule(nn.Module):
    """One instance of a block definition: its inner layers are its direct submodules (keys
    ``conv2.weight``), run in order; ``forward`` takes one tensor per input port."""

    #: the definition's name (each definition compiles to its own subclass, see block_class)
    block_name = ""

    def __init__(self, body: Design, analysis: ShapeAnalysis) -> None:
        super().__init__()
        self.input_ids = [n.id for n in body if n.type == "Input"]
        self.output_id = next(n.id for n in body if n.type == "Output")
        self._plan = _build(body, analysis, None, self.add_module)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:  # noqa: D401 - torch API
        values: dict[str, torch.Tensor] = dict(zip(self.input_ids, inputs))
        for node_id, sources in self._plan:
            values[node_id] = self._modules[node_id](*(values[s] for s in sources))
        return values[self.output_id]


_BLOCK_CLASSES: dict[str, type[BlockModule]] = {}


def block_class(name: str) -> type[BlockModule]:
    """The ``nn.Module`` class of a block definition (one per name, e.g. ``BasicBlock`` for
    ``basic_block``), a subclass of :class:`BlockModule`."""
    cls = _BLOCK_CLASSES.get(name)
    if cls is None:
        title = "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)
        cls = _BLOCK_CLASSES[name] = type(title or "Block", (BlockModule,), {"block_name": name})
    return cls


def dynamic_batch_shapes(module: DesignModule) -> tuple:
    """``dynamic_shapes`` for ``torch.export`` / ONNX: the batch dimension of every input varies."""
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    return (tuple({0: batch} for _ in module.input_ids),)


def export_program(module: DesignModule, batch: int = 2):
    """``torch.export.export`` of a compiled network with a dynamic batch size (eval mode)."""
    module.eval()
    return torch.export.export(
        module, module.example_inputs(batch), dynamic_shapes=dynamic_batch_shapes(module)
    )


def compile_design(
    design: Design, network: str | None = None, analysis: ShapeAnalysis | None = None
) -> DesignModule:
    """Validate and compile one network of ``design`` (default: its only or ``model`` network).

    Raises :class:`DesignError` naming the first problems when the design is invalid.
    """
    analysis = analysis or analyze(design)
    if not analysis.valid:
        problems = analysis.problems
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise DesignError(f"cannot compile: {problems[0]}{more}")
    if network is None:
        if len(design.networks) == 1:
            network = next(iter(design.networks))
        else:
            network = design.network_of_role("model") or next(iter(design.networks))
    if network not in design.networks:
        raise DesignError(
            f"the design has no network '{network}' (it has: {', '.join(design.networks)})"
        )
    return DesignModule(design, network, analysis)
