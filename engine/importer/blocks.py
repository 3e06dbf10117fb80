"""Group an imported flat design into blocks: one definition per repeated submodule class.

The flat import gives one design node per operator and remembers, for each node, the module
instances it was computed in (``layer1`` → ``layer1.0`` (``BasicBlock``) → ``layer1.0.conv1``).
A submodule class with two or more instances that each computed at least two nodes (torchvision's
``BasicBlock``, ``Bottleneck``, ``InvertedResidual``, an ``nn.TransformerEncoderLayer`` that is
not one layer, …; never the plain containers ``Sequential``/``ModuleList``/``ModuleDict``)
becomes a block: each instance's nodes go through :func:`engine.editing.blocks.make_block` (the
window's code path), the instances whose bodies have the same layer types and wiring share one
definition named after the class (a second wiring is ``BasicBlock2``), and a parameter whose value
differs between those instances (channels, stride) is exposed and set per instance. Consecutive
instances of one definition with equal values, wired in a chain, become one instance repeated.

Blocks are one level deep: an instance inside a chosen instance stays part of its body. The
weights follow: ``layers.layer1_0_conv1.weight`` becomes ``layers.layer1.0.conv1.weight``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from engine.blocks import BLOCK_TYPE, INSTANCE_KEYS, BlockDef
from engine.editing.blocks import BlockEditError, make_block
from engine.editing.layout import apply_layout
from engine.graph import NODE_ID_RE, Design, Edge, Node
from engine.layers import REGISTRY

#: Module classes that only hold other modules: never a block of their own.
CONTAINERS = (
    "torch.nn.modules.container.Sequential",
    "torch.nn.modules.container.ModuleList",
    "torch.nn.modules.container.ModuleDict",
)

#: A node's origin: the module instances it was computed in, outermost first, as
#: ``(path, qualified class name)`` (the model itself left out).
Origin = list[tuple[str, str]]


@dataclass
class _Made:
    """One module instance made into a (temporary) block."""

    path: str
    cls: str
    temp: str  # the instance node's id after make_block
    body: Design
    values: dict[str, Any] = field(default_factory=dict)
    definition: str = ""


def short_class(qualified: str) -> str:
    """``torchvision.models.resnet.BasicBlock`` → ``BasicBlock`` (a valid block name)."""
    name = qualified.rsplit(".", 1)[-1]
    return name if NODE_ID_RE.match(name) else "Block"


def group_into_blocks(
    design: Design, weights: dict[str, Any], origins: dict[str, Origin]
) -> tuple[Design, dict[str, Any]]:
    """The design with repeated submodule instances made into blocks, and the weights under the
    compiled module's new keys. Returns the inputs unchanged when nothing repeats."""
    chosen = _choose_instances(design, origins)
    if not chosen:
        return design, weights
    made: list[_Made] = []
    current = design
    for i, (path, cls, ids) in enumerate(chosen):
        try:
            edit = make_block(current, ids, f"imported_block_{i}")
        except BlockEditError:
            continue  # not a clean sub-graph (several outputs, not convex): stays flat
        current = edit.design
        made.append(_Made(path, cls, edit.instance, current.blocks[f"imported_block_{i}"].body))
    if not made:
        return design, weights
    rename = _define(current, made)
    final, keys = _finish(current, made, rename)
    new_weights = {}
    for key, value in weights.items():
        _, node_id, rest = key.split(".", 2)
        new_weights[f"layers.{keys.get(node_id, node_id)}.{rest}"] = value
    return final, new_weights


def _choose_instances(design: Design, origins: dict[str, Origin]) -> list[tuple[str, str, list]]:
    """(path, class, node ids) of the instances to make blocks of, outermost first: at each
    depth, the instances of every class that has two or more there (not inside one chosen
    already)."""
    members: dict[str, list[str]] = defaultdict(list)
    cls_of: dict[str, str] = {}
    depth: dict[str, int] = {}
    for node in design:
        if node.type in ("Input", "Output"):
            continue
        for level, (path, cls) in enumerate(origins.get(node.id, ())):
            members[path].append(node.id)
            cls_of[path] = cls
            depth[path] = level
    paths = [p for p in members if len(members[p]) >= 2 and cls_of[p] not in CONTAINERS]
    chosen: list[str] = []
    for level in sorted({depth[p] for p in paths}):
        here = [
            p for p in paths if depth[p] == level and not any(p.startswith(c + ".") for c in chosen)
        ]
        count = defaultdict(int)
        for p in here:
            count[cls_of[p]] += 1
        chosen += [p for p in here if count[cls_of[p]] >= 2]
    order = {n.id: i for i, n in enumerate(design)}
    chosen.sort(key=lambda p: order[members[p][0]])
    return [(p, cls_of[p], members[p]) for p in chosen]


def _signature(body: Design) -> tuple:
    """Layer types and wiring of a body, by position (ids and parameter values left out)."""
    index = {n.id: i for i, n in enumerate(body)}
    edges = sorted((index[e.source], index[e.target], e.port) for e in body.edges)
    return tuple(n.type for n in body), tuple(edges)


def _effective(node: Node, param: str) -> Any:
    if param in node.params:
        return node.params[param]
    spec = REGISTRY.get(node.type) if node.type in REGISTRY else None
    return next((p.default for p in (spec.params if spec else ()) if p.name == param), None)


def _relative_ids(body: Design, path: str) -> dict[str, str]:
    """Inner ids without the instance's path prefix (``layer1_0_conv1`` → ``conv1``)."""
    prefix = path.replace(".", "_")
    out: dict[str, str] = {}
    taken: set[str] = set()
    for node in body:
        rel = node.id[len(prefix) :].lstrip("_") if node.id.startswith(prefix) else node.id
        if not rel or not NODE_ID_RE.match(rel):
            rel = node.type.lower()
        base, i = rel, 2
        while rel in taken:
            rel, i = f"{base}_{i}", i + 1
        taken.add(rel)
        out[node.id] = rel
    return out


def _define(design: Design, made: list[_Made]) -> dict[str, dict[str, str]]:
    """Group the made instances into shared definitions (set on ``design.blocks``, the temporary
    ones removed) and each instance's values; returns, per temporary instance, the map from its
    body's (flat) ids to the definition's inner ids."""
    groups: dict[tuple, list[_Made]] = {}
    for m in made:
        groups.setdefault((m.cls, _signature(m.body)), []).append(m)
    rels = {key: _relative_ids(g[0].body, g[0].path) for key, g in groups.items()}
    names: dict[tuple, str] = {}
    firsts: dict[str, set[str]] = {}  # class → its smallest wiring's inner components
    taken = set(design.blocks)
    for key in sorted(groups, key=lambda k: len(groups[k][0].body)):  # smallest wiring first
        body = groups[key][0].body
        parts = {r.split("_")[0] for n, r in rels[key].items() if body.node(n).type != "Input"}
        first = firsts.setdefault(key[0], parts)
        names[key] = _variant_name(short_class(key[0]), parts, first, taken)
    rename: dict[str, dict[str, str]] = {}
    for key, group in groups.items():  # definitions in the order they are first used
        first, rel, name = group[0], rels[key], names[key]
        body = Design(name)
        for node in first.body:
            body.add_node(node.copy(id=rel[node.id]))
        for e in first.body.edges:
            body.add_edge(Edge(rel[e.source], rel[e.target], e.port))
        apply_layout(body)
        params = _expose(group, [rel[n.id] for n in first.body])
        design.blocks[name] = BlockDef(name, body, params, f"Imported {short_class(key[0])}")
        for m in group:
            m.definition = name
            rename[m.temp] = {n.id: rel[first.body.nodes[i].id] for i, n in enumerate(m.body)}
    for m in made:
        design.blocks.pop(design.node(m.temp).params["block"], None)
    return rename


def _variant_name(base: str, parts: set[str], first: set[str], taken: set[str]) -> str:
    """``BasicBlock`` for a class's smallest wiring; another is named by an inner module the
    smallest lacks (``BasicBlock_downsample``), else numbered (``InvertedResidual_2``)."""
    extra = sorted(parts - first)
    candidates = [base] if parts is first else []
    candidates += [f"{base}_{e}" for e in extra if NODE_ID_RE.match(f"{base}_{e}")]
    candidates += [f"{base}_{i}" for i in range(2, 1000)]
    name = next(c for c in candidates if c not in taken)
    taken.add(name)
    return name


def _expose(group: list[_Made], rel_ids: list[str]) -> dict[str, list[str]]:
    """The parameters whose values differ between the instances of one definition, exposed
    (one name for targets that always take the same value); each instance's values set."""
    vectors: dict[str, list[str]] = {}  # repr of the values → targets
    values: dict[str, tuple] = {}
    for i, rel in enumerate(rel_ids):
        nodes = [m.body.nodes[i] for m in group]
        if nodes[0].type in ("Input", "Output"):
            continue
        for param in sorted({k for n in nodes for k in n.params}):
            column = tuple(_effective(n, param) for n in nodes)
            if all(v == column[0] for v in column):
                continue
            vectors.setdefault(repr(column), []).append(f"{rel}.{param}")
            values[repr(column)] = column
    params: dict[str, list[str]] = {}
    for key, targets in vectors.items():
        param = targets[0].partition(".")[2]
        name = param
        if (
            name in params
            or name in INSTANCE_KEYS
            or any(
                t.partition(".")[2] == param for k, ts in vectors.items() if k != key for t in ts
            )
        ):
            name = targets[0].replace(".", "_")
        params[name] = targets
        column = values[key]
        for m, value in zip(group, column):
            if value != column[0]:
                m.values[name] = value
    return params


def _finish(
    design: Design, made: list[_Made], rename: dict[str, dict[str, str]]
) -> tuple[Design, dict[str, str]]:
    """Instances named after their module path, equal neighbours chained into one repeated
    instance; returns the design and, per flat node id, its new key path."""
    final = design.copy()
    ids: dict[str, str] = {}
    taken = {n.id for n in final} - {m.temp for m in made}
    for m in made:
        ids[m.temp] = _fresh_id(m.path.replace(".", "_"), taken)
        params = {"block": m.definition, **m.values}
        _replace(final, m.temp, ids[m.temp], params)
    by_id = {ids[m.temp]: m for m in made}
    keys: dict[str, str] = {}
    for run in _runs(final, by_id):
        head = run[0]
        name = _run_name(final, run, by_id, taken)
        for r, inst in enumerate(run):
            for flat, rel in rename[by_id[inst].temp].items():
                keys[flat] = f"{name}.{r}.{rel}" if len(run) > 1 else f"{name}.{rel}"
        if len(run) == 1:
            continue
        last_out = final.out_edges(run[-1])
        for inst in run[1:]:
            final.remove_node(inst)
        for e in last_out:
            final.add_edge(Edge(head, e.target, e.port))
        final.set_param(head, "repeat", len(run))
        if name != head:
            _replace(final, head, name, dict(final.node(head).params))
    return final, keys


def _runs(design: Design, by_id: dict[str, _Made]) -> list[list[str]]:
    """Instances in file order, consecutive chained equal ones (same definition and values,
    one input, wired only to each other) together."""
    runs: list[list[str]] = []
    seen: set[str] = set()
    for node in list(design):
        if node.id not in by_id or node.id in seen:
            continue
        run = [node.id]
        seen.add(node.id)
        while True:
            outs = design.out_edges(run[-1])
            if len(outs) != 1 or outs[0].port != 0:
                break
            nxt = outs[0].target
            if (
                nxt not in by_id
                or nxt in seen
                or len(design.in_edges(nxt)) != 1
                or len(design.blocks[by_id[nxt].definition].input_ids) != 1
                or design.node(nxt).params != design.node(run[0]).params
            ):
                break
            run.append(nxt)
            seen.add(nxt)
        runs.append(run)
    return runs


def _run_name(design: Design, run: list[str], by_id: dict[str, _Made], taken: set[str]) -> str:
    """A repeated run covering every module of one container (``layer1.0``, ``layer1.1``) is
    named after the container (``layer1``); otherwise the first instance's id."""
    if len(run) == 1:
        return run[0]
    parents = {by_id[i].path.rpartition(".")[0] for i in run}
    parent = parents.pop() if len(parents) == 1 else ""
    siblings = [m for m in by_id.values() if m.path.rpartition(".")[0] == parent]
    if not parent or len(siblings) != len(run):
        return run[0]
    name = parent.replace(".", "_")
    if name in design or not NODE_ID_RE.match(name):
        return run[0]
    taken.add(name)
    return name


def _fresh_id(base: str, taken: set[str]) -> str:
    base = base if NODE_ID_RE.match(base) else f"block_{base}"
    name, i = base, 2
    while name in taken or not NODE_ID_RE.match(name):
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _replace(design: Design, old: str, new: str, params: dict[str, Any]) -> None:
    """Give node ``old`` the id ``new`` and ``params`` (type Block), wires kept."""
    node = design.node(old)
    ins, outs = design.in_edges(old), design.out_edges(old)
    index = design.node_index(old)
    design.remove_node(old)
    design.add_node(Node(new, BLOCK_TYPE, params, node.position, node.label, node.network), index)
    for e in ins:
        design.add_edge(Edge(e.source, new, e.port))
    for e in outs:
        design.add_edge(Edge(new, e.target, e.port))
