"""Block definitions (sub-graphs) and their instances: the model, with no Qt and no torch.

A design's ``blocks`` table maps a name to a :class:`BlockDef`: a small design of its own (the
*body*) whose ``Input`` nodes are the block's input ports (in file order; their ``shape`` is an
example, replaced by what an instance is fed) and whose one ``Output`` node is its output port,
plus the parameters the block exposes, each mapped to inner node parameters
(``{"channels": ["conv1.out_channels", "conv2.out_channels"]}``).

An instance is a node of type :data:`BLOCK_TYPE` with parameters ``block`` (the definition's
name), ``repeat`` (N ≥ 1 chained copies) and a value per exposed parameter it sets. Bodies may hold
instances of other definitions; a cycle of definitions is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.graph import Design

#: Node type of a block instance.
BLOCK_TYPE = "Block"
#: Parameters of an instance node that are not exposed block parameters.
INSTANCE_KEYS = ("block", "repeat")


@dataclass
class BlockDef:
    """One block definition: its body design and its exposed parameters.

    ``params`` maps an exposed name to the inner ``"node.param"`` targets it sets.
    """

    name: str
    body: Design
    params: dict[str, list[str]] = field(default_factory=dict)
    description: str = ""

    def copy(self, name: str | None = None) -> BlockDef:
        """An independent copy (its own body), optionally under another name."""
        body = self.body.copy()
        return BlockDef(
            name or self.name,
            body,
            {k: list(v) for k, v in self.params.items()},
            self.description,
        )

    @property
    def input_ids(self) -> list[str]:
        """The body's input port nodes (``Input``), in file order = port order."""
        return [n.id for n in self.body if n.type == "Input"]

    @property
    def output_ids(self) -> list[str]:
        """The body's output port nodes (``Output``), in file order."""
        return [n.id for n in self.body if n.type == "Output"]

    def default(self, exposed: str) -> Any:
        """The value an exposed parameter takes when an instance does not set it: the first
        target's value in the body (None when the body leaves it at the layer default)."""
        node_id, _, param = self.params[exposed][0].partition(".")
        node = self.body.node(node_id) if node_id in self.body else None
        return None if node is None else node.params.get(param)


def instance_values(node_params: dict[str, Any]) -> dict[str, Any]:
    """The exposed-parameter values an instance node sets (its params minus block/repeat)."""
    return {k: v for k, v in node_params.items() if k not in INSTANCE_KEYS}


def definition_problems(defn: BlockDef) -> list[str]:
    """What is wrong with a definition's shape as a block (ports, parameter targets), as
    one-line messages; empty when it is usable."""
    problems = []
    if not defn.input_ids:
        problems.append(f"block '{defn.name}' has no Input port; add an Input node to its body")
    outputs = defn.output_ids
    if len(outputs) != 1:
        problems.append(
            f"block '{defn.name}' needs exactly one Output node in its body (has {len(outputs)})"
        )
    for exposed, targets in defn.params.items():
        if exposed in INSTANCE_KEYS:
            problems.append(f"block '{defn.name}' exposes the reserved name '{exposed}'; rename it")
        if not targets:
            problems.append(f"block '{defn.name}' parameter '{exposed}' sets no inner parameter")
        for target in targets:
            node_id, dot, param = target.partition(".")
            if not dot or not param or node_id not in defn.body:
                problems.append(
                    f"block '{defn.name}' parameter '{exposed}' targets '{target}', which is "
                    "not 'node.param' of a node in its body"
                )
    return problems


def used_blocks(body: Design) -> list[str]:
    """Names of the definitions a design instantiates directly (file order, each once)."""
    names: dict[str, None] = {}
    for node in body:
        if node.type == BLOCK_TYPE and isinstance(node.params.get("block"), str):
            names[node.params["block"]] = None
    return list(names)


def definition_cycle(blocks: dict[str, BlockDef]) -> list[str] | None:
    """A cycle of definitions (``[a, b, a]``: a contains b contains a), or None."""
    state: dict[str, int] = {}  # 1 visiting, 2 done

    for start in blocks:
        if state.get(start):
            continue
        stack: list[tuple[str, list[str]]] = [(start, used_blocks(blocks[start].body))]
        path = [start]
        state[start] = 1
        while stack:
            name, todo = stack[-1]
            if not todo:
                state[name] = 2
                stack.pop()
                path.pop()
                continue
            child = todo.pop(0)
            if child not in blocks or state.get(child) == 2:
                continue
            if state.get(child) == 1:
                return path[path.index(child) :] + [child]
            state[child] = 1
            path.append(child)
            stack.append((child, used_blocks(blocks[child].body)))
    return None


def dependencies(blocks: dict[str, BlockDef], defn: BlockDef) -> list[str]:
    """Names of the definitions ``defn`` uses, directly or nested (first use first)."""
    out: dict[str, None] = {}
    todo = used_blocks(defn.body)
    while todo:
        name = todo.pop(0)
        if name in out or name not in blocks or name == defn.name:
            continue
        out[name] = None
        todo.extend(used_blocks(blocks[name].body))
    return list(out)


def dependents(blocks: dict[str, BlockDef], names: set[str]) -> set[str]:
    """``names`` and every definition that contains one of them, directly or nested."""
    out = set(names)
    grew = True
    while grew:
        grew = False
        for name, defn in blocks.items():
            if name not in out and any(u in out for u in used_blocks(defn.body)):
                out.add(name)
                grew = True
    return out


def instantiate(
    defn: BlockDef,
    values: dict[str, Any],
    input_shapes: list[tuple[int, ...]],
    input_dtypes: list[str],
    blocks: dict[str, BlockDef],
) -> Design:
    """The concrete body of one instance: a copy of the body with the exposed values set on
    their targets and each input port's shape and dtype set to what the instance is fed."""
    concrete = defn.body.copy()
    concrete.blocks = blocks
    for exposed, value in values.items():
        for target in defn.params.get(exposed, ()):
            node_id, _, param = target.partition(".")
            if node_id in concrete:
                concrete.set_param(node_id, param, value)
    for node_id, shape, dtype in zip(defn.input_ids, input_shapes, input_dtypes):
        concrete.set_param(node_id, "shape", list(shape))
        concrete.set_param(node_id, "dtype", None if dtype == "float32" else dtype)
    return concrete


def path_message(instance: str, index: int, inner: str, message: str, nested: bool) -> str:
    """A problem inside an instance, named by its block path: ``stage2[1]/conv2: message``
    (``nested``: ``message`` already starts with the inner instance's path)."""
    if nested:
        return f"{instance}[{index}]/{message}"
    return f"{instance}[{index}]/{inner}: {message}"


@dataclass
class BlockCost:
    """What one definition costs in a design: copies run (instances × repeats, nested ones
    included), and their parameters and MACs (per sample) summed."""

    uses: int = 0
    params: int = 0
    macs: int = 0


def block_costs(analysis: Any) -> dict[str, BlockCost]:
    """Cost figures per block definition from a :class:`engine.shapes.ShapeAnalysis` (the
    per-instance figures are the instance node's ``info.params`` / ``info.macs``)."""
    out: dict[str, BlockCost] = {}

    def visit(design: Design, sub: Any, factor: int) -> None:
        for node in design:
            runs = sub.block_runs.get(node.id) if node.type == BLOCK_TYPE else None
            if not runs:
                continue
            cost = out.setdefault(node.params["block"], BlockCost())
            info = sub.info[node.id]
            cost.uses += len(runs) * factor
            cost.params += info.params * factor
            cost.macs += info.macs * factor
            for concrete, inner in runs:
                visit(concrete, inner, factor)

    visit(analysis.design, analysis, 1)
    return out
