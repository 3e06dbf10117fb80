"""Block edits: make a block from a selection, make an instance unique, expand it, repeat it.

Pure functions over an engine :class:`~engine.graph.Design` (no Qt): each returns a
:class:`BlockEdit` holding a *new* design (the input is never changed), so an undo command keeps
the design before and after and swaps them. Every refusal is a :class:`BlockEditError` with one
line saying what is wrong and how to fix it; nothing is changed then.

Editing a definition (:func:`edit_definition`) changes every instance of it, since instances
refer to their definition by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.blocks import BLOCK_TYPE, BlockDef, definition_cycle, instance_values, used_blocks
from engine.graph import NODE_ID_RE, Design, Edge, Node
from engine.io import block_entry
from engine.layers import REGISTRY


class BlockEditError(ValueError):
    """A block edit that cannot be made; the message is one line with the fix."""


@dataclass(frozen=True)
class BlockEdit:
    """The result of a block edit: the new design, the instance it concerns (if any) and a
    short description for the undo menu."""

    design: Design
    instance: str | None
    text: str


def make_block(design: Design, node_ids: list[str], name: str) -> BlockEdit:
    """Turn the selected nodes into block ``name``: a definition whose input ports are where
    wires enter the selection (ordered by the inner node's file order, then port; one port per
    outside source) and whose output is the one inner node that feeds the outside; one instance
    takes their place, wired as they were."""
    selected = _selection(design, node_ids, name)
    inside = set(selected)
    _check_convex(design, inside)
    incoming = [e for n in selected for e in design.in_edges(n) if e.source not in inside]
    outgoing = [e for e in design.edges if e.source in inside and e.target not in inside]
    exits = list(dict.fromkeys(e.source for e in outgoing))
    if len(exits) > 1:
        raise BlockEditError(
            f"a block has one output, but wires leave the selection from "
            f"{', '.join(repr(x) for x in exits)}; select fewer nodes or merge them first"
        )
    if not exits:
        sinks = [n for n in selected if not any(t in inside for t in design.successors(n))]
        if len(sinks) != 1:
            raise BlockEditError(
                "nothing inside the selection feeds one clear output; select a chain that ends "
                "in one layer"
            )
        exits = sinks
    body, sources = _block_body(design, selected, incoming, exits[0], name)

    new = design.copy()
    new.blocks[name] = BlockDef(name, body)
    index = design.node_index(selected[0])
    network = design.node(selected[0]).network
    xs = [design.node(n).position[0] for n in selected]
    ys = [design.node(n).position[1] for n in selected]
    for n in selected:
        new.remove_node(n)
    inst = _fresh(name, set(new._nodes))
    new.add_node(Node(inst, BLOCK_TYPE, {"block": name}, (min(xs), min(ys)), "", network), index)
    for port, src in enumerate(sources):
        new.add_edge(Edge(src, inst, port))
    for e in outgoing:
        new.add_edge(Edge(inst, e.target, e.port))
    return BlockEdit(new, inst, f"Make block '{name}'")


def _block_body(
    design: Design, selected: list[str], incoming: list[Edge], exit_id: str, name: str
) -> tuple[Design, list[str]]:
    """The body of a new block: an Input port per outside source (shape and dtype as inferred),
    copies of the selected nodes, an Output fed by ``exit_id``; and the sources in port order."""
    from engine.shapes import analyze

    inside = set(selected)
    analysis = analyze(design)
    sources = list(dict.fromkeys(e.source for e in incoming))
    body = Design(name)
    port_ids: dict[str, str] = {}
    taken = set(inside)
    for src in sources:
        first = next(e for e in incoming if e.source == src)
        info = analysis.info.get(src)
        if info is None or info.output_shape is None:
            raise BlockEditError(
                f"the shape '{src}' feeds into the selection is not known; fix the problems "
                "upstream first"
            )
        port = _fresh(f"{first.target}_in" + (str(first.port) if first.port else ""), taken)
        port_ids[src] = port
        params: dict[str, Any] = {"shape": list(info.output_shape)}
        if info.output_dtype and info.output_dtype != "float32":
            params["dtype"] = info.output_dtype
        pos = design.node(first.target).position
        body.add_node(Node(port, "Input", params, (pos[0] - 200.0, pos[1]), "", "main"))
    for n in selected:
        body.add_node(design.node(n).copy(network="main"))
    out_id = _fresh(f"{exit_id}_out", taken)
    last = design.node(exit_id).position
    body.add_node(Node(out_id, "Output", {}, (last[0] + 200.0, last[1]), "", "main"))
    for e in design.edges:
        if e.source in inside and e.target in inside:
            body.add_edge(e)
    for e in incoming:
        body.add_edge(Edge(port_ids[e.source], e.target, e.port))
    body.add_edge(Edge(exit_id, out_id, 0))

    return body, sources


def _selection(design: Design, node_ids: list[str], name: str) -> list[str]:
    """The selected ids in file order, after the checks that need no graph walk."""
    if not node_ids:
        raise BlockEditError("the selection is empty; select the layers to make a block of")
    unknown = [n for n in node_ids if n not in design]
    if unknown:
        raise BlockEditError(f"'{unknown[0]}' is not a node of this design")
    if not isinstance(name, str) or not NODE_ID_RE.match(name):
        raise BlockEditError(
            f"block name {name!r} must be letters, digits and _, starting with a letter"
        )
    if name in design.blocks:
        raise BlockEditError(f"a block called '{name}' exists already; choose another name")
    ids = set(node_ids)
    selected = [n.id for n in design if n.id in ids]
    for n in selected:
        kind = REGISTRY.resolve(design.node(n).type)
        if kind in ("Input", "Output"):
            raise BlockEditError(
                f"'{n}' is an {kind}; a block's ports come from the wires that cross the "
                "selection, so leave it out"
            )
    networks = {design.node(n).network for n in selected}
    if len(networks) > 1:
        raise BlockEditError(
            f"the selection spans networks {', '.join(sorted(networks))}; select one network"
        )
    return selected


def _check_convex(design: Design, inside: set[str]) -> None:
    """Refuse a selection a wire leaves and re-enters (the block would feed itself)."""
    stack = [e.target for n in inside for e in design.out_edges(n) if e.target not in inside]
    via: dict[str, str] = {t: t for t in stack}
    while stack:
        node = stack.pop()
        for e in design.out_edges(node):
            if e.target in inside:
                raise BlockEditError(
                    f"the selection is not convex: a wire leaves it and comes back into "
                    f"'{e.target}' through '{via[node]}'; add '{via[node]}' to the selection "
                    "or select fewer nodes"
                )
            if e.target not in via:
                via[e.target] = via[node]
                stack.append(e.target)


def _fresh(base: str, taken: set[str]) -> str:
    """``base``, or ``base_2``, ``base_3``… — the first not in ``taken`` (which it joins)."""
    candidate, i = base[:64], 2
    while candidate in taken:
        candidate = f"{base[:60]}_{i}"
        i += 1
    taken.add(candidate)
    return candidate


def _instance(design: Design, instance_id: str) -> tuple[Node, BlockDef]:
    if instance_id not in design or design.node(instance_id).type != BLOCK_TYPE:
        raise BlockEditError(f"'{instance_id}' is not a block instance of this design")
    node = design.node(instance_id)
    name = node.params.get("block")
    defn = design.blocks.get(name) if isinstance(name, str) else None
    if defn is None:
        raise BlockEditError(f"'{instance_id}' uses block {name!r}, which is not defined")
    return node, defn


def make_unique(design: Design, instance_id: str, name: str | None = None) -> BlockEdit:
    """Give one instance its own copy of its definition (default name ``<block>_2``…), so
    editing it no longer changes the others."""
    node, defn = _instance(design, instance_id)
    if name is None:
        name = _fresh(defn.name, set(design.blocks))
    elif name in design.blocks:
        raise BlockEditError(f"a block called '{name}' exists already; choose another name")
    elif not NODE_ID_RE.match(name):
        raise BlockEditError(f"block name {name!r} must be letters, digits and _")
    new = design.copy()
    new.blocks[name] = defn.copy(name)
    new.set_param(instance_id, "block", name)
    return BlockEdit(new, instance_id, f"Make '{instance_id}' unique")


def set_repeat(design: Design, instance_id: str, n: int) -> BlockEdit:
    """Chain ``n`` copies of the block in the instance (1 = a single one)."""
    _node, defn = _instance(design, instance_id)
    if type(n) is not int or n < 1:
        raise BlockEditError(f"repeat must be a whole number ≥ 1, got {n!r}")
    if n > 1 and len(defn.input_ids) != 1:
        raise BlockEditError(
            f"block '{defn.name}' has {len(defn.input_ids)} inputs; only a one-input block "
            "can be repeated in a chain"
        )
    new = design.copy()
    new.set_param(instance_id, "repeat", n if n > 1 else None)
    return BlockEdit(new, instance_id, f"Repeat '{instance_id}' ×{n}")


def set_block_value(design: Design, instance_id: str, exposed: str, value: Any) -> BlockEdit:
    """Set (``value`` None: clear) one exposed parameter on one instance."""
    _node, defn = _instance(design, instance_id)
    if exposed not in defn.params:
        known = ", ".join(defn.params) or "none"
        raise BlockEditError(
            f"block '{defn.name}' has no parameter '{exposed}' (its parameters: {known})"
        )
    new = design.copy()
    new.set_param(instance_id, exposed, value)
    return BlockEdit(new, instance_id, f"Set {instance_id}.{exposed}")


def edit_definition(
    design: Design,
    name: str,
    body: Design | None = None,
    params: dict[str, list[str]] | None = None,
) -> BlockEdit:
    """Replace a definition's body and/or exposed parameters: every instance changes."""
    defn = design.blocks.get(name)
    if defn is None:
        raise BlockEditError(f"there is no block called '{name}'")
    new = design.copy()
    edited = new.blocks[name]
    if body is not None:
        edited.body = body.copy()
    if params is not None:
        edited.params = {k: list(v) for k, v in params.items()}
    cycle = definition_cycle(new.blocks)
    if cycle:
        raise BlockEditError(
            f"blocks {' → '.join(cycle)} would contain each other; a block cannot contain itself"
        )
    return BlockEdit(new, None, f"Edit block '{name}'")


def expand(design: Design, instance_id: str) -> BlockEdit:
    """Put an instance's layers back in its place (each repeat's copy, exposed values applied);
    the definition is dropped when nothing uses it any more. The inverse of :func:`make_block`
    (inner ids are kept when free, else prefixed with the instance id)."""
    node, defn = _instance(design, instance_id)
    repeat = node.params.get("repeat", 1)
    values = instance_values(node.params)
    in_edges = design.in_edges(instance_id)
    out_edges = design.out_edges(instance_id)
    index = design.node_index(instance_id)
    new = design.copy()
    new.remove_node(instance_id)
    taken = set(new._nodes)
    ports = defn.input_ids
    feeds = {p: None for p in ports}
    for e in in_edges:
        if e.port < len(ports):
            feeds[ports[e.port]] = e.source
    inner = [n for n in defn.body if n.type not in ("Input", "Output")]
    x0 = min((n.position[0] for n in inner), default=0.0)
    y0 = min((n.position[1] for n in inner), default=0.0)
    out_port = defn.output_ids[0]
    result = None
    for r in range(repeat):
        mapping: dict[str, str] = {}
        for n in inner:
            base = n.id if repeat == 1 else f"{instance_id}_{r}_{n.id}"
            if base in taken:
                base = f"{instance_id}_{n.id}"
            new_id = _fresh(base, taken)
            mapping[n.id] = new_id
            x = node.position[0] + n.position[0] - x0 + r * 200.0 * len(inner)
            y = node.position[1] + n.position[1] - y0
            new.add_node(n.copy(id=new_id, position=(x, y), network=node.network), index)
            index += 1
        for exposed, value in values.items():
            for target in defn.params.get(exposed, ()):
                node_id, _, param = target.partition(".")
                if node_id in mapping:
                    new.set_param(mapping[node_id], param, value)

        def resolve(src: str, mapping=mapping, feeds=feeds) -> str | None:
            return feeds.get(src) if src in feeds else mapping.get(src)

        for e in defn.body.edges:
            if e.target == out_port:
                result = resolve(e.source)
            elif e.target in mapping:
                src = resolve(e.source)
                if src is not None:
                    new.add_edge(Edge(src, mapping[e.target], e.port))
        feeds = {ports[0]: result}
    for e in out_edges:
        if result is not None:
            new.add_edge(Edge(result, e.target, e.port))
    if not _still_used(new, defn.name):
        del new.blocks[defn.name]
    return BlockEdit(new, None, f"Expand '{instance_id}'")


def insert_block(
    design: Design,
    defn: BlockDef,
    used: dict[str, BlockDef] | None = None,
    position: tuple[float, float] = (0.0, 0.0),
    network: str | None = None,
) -> BlockEdit:
    """Add one unwired instance of ``defn`` (from the library: with the definitions it uses),
    copying the definitions into the design; a design definition of the same name must be the
    same definition (else rename one: the refusal says so)."""
    new = design.copy()
    for item in [*(used or {}).values(), defn]:
        have = new.blocks.get(item.name)
        if have is None:
            new.blocks[item.name] = item.copy()
        elif block_entry(have) != block_entry(item):
            raise BlockEditError(
                f"the design already has a different block called '{item.name}'; rename one "
                "of them first"
            )
    cycle = definition_cycle(new.blocks)
    if cycle:
        raise BlockEditError(f"blocks {' → '.join(cycle)} would contain each other")
    network = network or next(iter(design.networks))
    inst = _fresh(defn.name, set(new._nodes))
    new.add_node(Node(inst, BLOCK_TYPE, {"block": defn.name}, position, "", network))
    return BlockEdit(new, inst, f"Add block '{defn.name}'")


def _still_used(design: Design, name: str) -> bool:
    if any(n.type == BLOCK_TYPE and n.params.get("block") == name for n in design):
        return True
    return any(name in used_blocks(d.body) for d in design.blocks.values() if d.name != name)
