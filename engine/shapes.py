"""Validation and shape inference: every node's output shape and dtype, parameters, MACs and memory.

:class:`ShapeAnalysis` checks a design before anything runs and keeps, per node, a
:class:`NodeInfo`. Each problem is a :class:`Problem` attached to a node id (or None for
design-wide problems) with a plain message and a fix. After an edit, :meth:`ShapeAnalysis.update`
re-infers only the edited nodes and those downstream whose inputs actually changed.

Element types travel with shapes: each layer spec declares what it ``accepts`` (float, integer
token ids, or any) and what ``output_dtype`` it gives, so an int64 Input wired into a Linear is a
problem on the Linear, and a float wired into an Embedding one on the Embedding.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from engine.blocks import (
    BLOCK_TYPE,
    definition_problems,
    dependents,
    instance_values,
    instantiate,
    path_message,
)
from engine.gc_pause import gc_paused
from engine.graph import NETWORK_ROLES, Design, Node
from engine.layers import REGISTRY, LayerSpec, ParamValueError, Shape, ShapeRuleError, fmt_shape
from engine.layers.spec import DTYPES
from engine.reserved import RESERVED_IDS

BYTES_PER_VALUE = 4  # float32 activations

#: Spec by current type id (aliases go through ``REGISTRY.get``): the per-node hot path.
_SPECS = REGISTRY.by_id

# Shape rules and parameter coercion are pure functions of (type, params, input shapes), and real
# designs repeat the same blocks, so both are memoized process-wide (bounded; see _remember).
_RESOLVE_CACHE: dict[tuple[str, str], tuple[dict[str, Any], list[str]]] = {}
_RULE_CACHE: dict[tuple[str, str, tuple], tuple[Shape, int, int, int] | ShapeRuleError] = {}
_CACHE_LIMIT = 50_000


def clear_caches() -> None:
    """Forget memoized parameter and shape-rule results (benchmarks measure cold passes)."""
    _RESOLVE_CACHE.clear()
    _RULE_CACHE.clear()


def _params_key(params: Mapping[str, Any]) -> str:
    """An exact text key of a node's parameters for the memos (``1``, ``1.0`` and ``True``
    differ): the dict's repr when it has one entry (most nodes), else its sorted items'."""
    return repr(params) if len(params) == 1 else repr(sorted(params.items()))


def _remember(cache: dict, key: Any, value: Any) -> Any:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value
    return value


@dataclass(frozen=True)
class Problem:
    """One validation problem: the node it concerns (or None), what is wrong, how to fix it."""

    node: str | None
    message: str
    fix: str = ""

    def __str__(self) -> str:
        where = f"node '{self.node}': " if self.node else ""
        return where + self.message + (f" — {self.fix}" if self.fix else "")


@dataclass(slots=True)
class NodeInfo:
    """What inference knows about one node."""

    output_shape: Shape | None = None
    input_shapes: tuple[Shape | None, ...] = ()
    output_dtype: str | None = None  # "float32" or "int64", known when output_shape is
    input_dtypes: tuple[str, ...] = ()
    params: int = 0
    macs: int = 0
    activation_bytes: int = 0
    problems: list[Problem] = field(default_factory=list)
    resolved: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Totals:
    """Design-wide sums."""

    params: int
    macs: int
    activation_bytes: int


def resolve_params(spec: LayerSpec, params: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Defaults overlaid with ``params``, each coerced; returns (values, error messages)."""
    values: dict[str, Any] = {}
    errors: list[str] = []
    for ps in spec.params:
        raw = params.get(ps.name, ps.default)
        try:
            values[ps.name] = ps.coerce(raw)
        except ParamValueError as exc:
            errors.append(f"parameter '{ps.name}' {exc}")
            values[ps.name] = ps.coerce(ps.default)
    for name in params:
        if not any(ps.name == name for ps in spec.params):
            known = ", ".join(ps.name for ps in spec.params) or "none"
            errors.append(f"{spec.type_id} has no parameter '{name}' (its parameters: {known})")
    return values, errors


class ShapeAnalysis:
    """Validation and inference results for one design, kept up to date incrementally.

    Call :meth:`run` after loading and :meth:`update` with the ids of edited nodes after an edit
    (``structure_changed=True`` when nodes or edges were added or removed).
    """

    def __init__(self, design: Design, *, body: bool = False) -> None:
        self.design = design
        # a block body analysed for one instance: no design-wide checks (it is not a network)
        self._body = body
        #: block instance id → [(concrete body, its analysis)] per repeat (what compile builds)
        self.block_runs: dict[str, list[tuple[Design, ShapeAnalysis]]] = {}
        # (definition, values, input shapes, dtypes) → (definition, concrete body, analysis)
        self._block_memo: dict[tuple, tuple[Any, Design, ShapeAnalysis]] = {}
        self.info: dict[str, NodeInfo] = {}
        self.design_problems: list[Problem] = []
        self._order: dict[str, int] = {}  # node id → a key increasing along execution order
        self._cyclic: set[str] = set()
        # design-level checks kept incrementally: each node's contribution to its network's
        # counts (see _contribution), so an edit re-counts only the nodes it touched
        self._contrib: dict[str, tuple[str, int, int, int, int]] = {}
        self._counts: dict[str, list[int]] = {}
        self._journal_pos = 0
        self.run()

    # -- public API --------------------------------------------------------------------------

    def run(self) -> None:
        """Full pass over the design."""
        self.info = {}
        self.block_runs = {}
        self._block_memo = {}  # a full pass trusts nothing remembered of block bodies
        self._journal_pos = self.design.node_changes(0)[1]
        with gc_paused():  # tens of thousands of new objects, none of them cyclic garbage
            self._refresh_structure()
            nodes, info, infer = self.design._nodes, self.info, self._infer
            if self._order is self.design.file_ranks():
                for node_id, node in nodes.items():  # file order is the execution order
                    info[node_id] = infer(node)
            else:
                for node_id in self._sorted(self._order):
                    info[node_id] = infer(nodes[node_id])
            self._count_all()
        self.design_problems = self._check_design()

    def update(self, changed: Iterable[str], structure_changed: bool = False) -> set[str]:
        """Re-infer ``changed`` nodes and, while outputs change, their successors.

        Returns the ids whose info was recomputed (removed nodes are dropped silently).
        """
        design = self.design
        changed = set(changed)
        touched, self._journal_pos = design.node_changes(self._journal_pos)
        for node_id in set(touched):  # added or removed since the last pass: forget what we had
            self.info.pop(node_id, None)
            self._uncount(node_id)
            if node_id in design:
                changed.add(node_id)
        if structure_changed:
            cyclic_before = bool(self._cyclic)
            self._refresh_structure()
            if cyclic_before or self._cyclic:
                self.run()
                return set(self.info)
        heap = [(self._order[n], n) for n in set(changed) if n in design]
        heapq.heapify(heap)
        queued = {n for _, n in heap}
        updated: set[str] = set()
        while heap:
            _, node_id = heapq.heappop(heap)
            old = self.info.get(node_id)
            new = self._infer(design.node(node_id))
            self.info[node_id] = new
            updated.add(node_id)
            if (
                old is None
                or old.output_shape != new.output_shape
                or old.output_dtype != new.output_dtype
            ):
                for succ in design.successors(node_id):
                    if succ not in queued:
                        queued.add(succ)
                        heapq.heappush(heap, (self._order[succ], succ))
        for node_id in updated:
            self._recount(node_id)
        self.design_problems = self._check_design()
        return updated

    def update_blocks(self, names: Iterable[str]) -> set[str]:
        """Re-infer every instance of the named definitions (and of definitions containing
        them) after their bodies or parameters were edited; returns the re-inferred ids."""
        affected = dependents(self.design.blocks, set(names))
        self._block_memo = {k: v for k, v in self._block_memo.items() if v[0].name not in affected}
        ids = [
            n.id for n in self.design if n.type == BLOCK_TYPE and n.params.get("block") in affected
        ]
        return self.update(ids)

    @property
    def problems(self) -> list[Problem]:
        """Every problem: design-wide first, then per node in file order."""
        out = list(self.design_problems)
        for node in self.design:
            info = self.info.get(node.id)
            if info:
                out.extend(info.problems)
        return out

    @property
    def valid(self) -> bool:
        """True when the design has no problem at all."""
        return not self.design_problems and not any(i.problems for i in self.info.values())

    def totals(self, network: str | None = None) -> Totals:
        """Parameters, MACs and activation bytes per sample, for one network or all."""
        p = m = b = 0
        for node in self.design:
            if network is not None and node.network != network:
                continue
            info = self.info.get(node.id)
            if info:
                p, m, b = p + info.params, m + info.macs, b + info.activation_bytes
        return Totals(p, m, b)

    def topological_order(self, network: str | None = None) -> list[str]:
        """Node ids in execution order (ties broken by file order)."""
        ids = [n.id for n in self.design if network is None or n.network == network]
        return sorted(ids, key=self._order.__getitem__)

    # -- internals ---------------------------------------------------------------------------

    def _contribution(self, node_id: str) -> tuple[str, int, int, int, int]:
        """What one node adds to its network's counts: (network, is an Input, is neither Input
        nor Output, not inferred cleanly yet, has trainable parameters)."""
        node = self.design._nodes[node_id]
        kind = REGISTRY.resolve(node.type)
        info = self.info.get(node_id)
        pending = info is None or bool(info.problems) or info.output_shape is None
        trainable = info is not None and bool(info.params)
        return (
            node.network,
            int(kind == "Input"),
            int(kind not in ("Input", "Output")),
            int(pending),
            int(trainable),
        )

    def _count_all(self) -> None:
        """Every node's contribution and the per-network counts, from scratch (a full pass)."""
        infos = self.info
        contrib = self._contrib = {}
        # one shared tuple per distinct contribution, and how many nodes make each
        shared: dict[tuple[str, str, bool, bool], tuple[str, int, int, int, int]] = {}
        tally: dict[tuple[str, int, int, int, int], int] = {}
        for node_id, node in self.design._nodes.items():
            info = infos.get(node_id)
            pending = info is None or bool(info.problems) or info.output_shape is None
            trainable = info is not None and bool(info.params)
            key = (node.type, node.network, pending, trainable)
            mine = shared.get(key)
            if mine is None:
                resolved = REGISTRY.resolve(node.type)
                mine = shared[key] = (
                    node.network,
                    int(resolved == "Input"),
                    int(resolved not in ("Input", "Output")),
                    int(pending),
                    int(trainable),
                )
                tally.setdefault(mine, 0)  # another type may give the same contribution
            contrib[node_id] = mine
            tally[mine] += 1
        counts = self._counts = {}
        for mine, n in tally.items():
            net = counts.get(mine[0])
            if net is None:
                net = counts[mine[0]] = [0, 0, 0, 0, 0]
            net[0] += n
            for i in range(1, 5):
                net[i] += mine[i] * n

    def _uncount(self, node_id: str) -> None:
        old = self._contrib.pop(node_id, None)
        if old is not None:
            counts = self._counts[old[0]]
            counts[0] -= 1
            for i in range(1, 5):
                counts[i] -= old[i]
            if not counts[0]:
                del self._counts[old[0]]

    def _recount(self, node_id: str) -> None:
        """Replace ``node_id``'s contribution to the per-network counts (nodes, Inputs, layers
        other than Input/Output, nodes not inferred cleanly, nodes with parameters)."""
        self._uncount(node_id)
        new = self._contribution(node_id)
        self._contrib[node_id] = new
        counts = self._counts.setdefault(new[0], [0, 0, 0, 0, 0])
        counts[0] += 1
        for i in range(1, 5):
            counts[i] += new[i]

    def _refresh_structure(self) -> None:
        design = self.design
        self._cyclic = set()
        if design.file_order_is_topological:
            # the design's own live ranks: kept per edit, so a structural edit costs O(1) here
            self._order = design.file_ranks()
            return
        order = _topological_order(design)
        if order is None:
            graph = design.graph
            file_index = {n.id: i for i, n in enumerate(design)}
            for component in nx.strongly_connected_components(graph):
                if len(component) > 1:
                    self._cyclic |= component
            self._cyclic |= {n for n in graph if graph.has_edge(n, n)}
            acyclic = graph.subgraph(n for n in graph if n not in self._cyclic)
            order = list(nx.lexicographical_topological_sort(acyclic, key=file_index.__getitem__))
            order += sorted(self._cyclic, key=file_index.__getitem__)
        self._order = {n: i for i, n in enumerate(order)}

    def _sorted(self, ids: Iterable[str]) -> list[str]:
        return sorted(ids, key=self._order.__getitem__)

    # Long on purpose: runs once per node on every full pass, inlined for 20,000 nodes in 200 ms
    def _infer(self, node: Node) -> NodeInfo:
        """Check ``node`` against its inputs' results and infer its output (runs per node, so
        the common case — a known layer with one edge per port — takes no detours)."""
        node_id = node.id
        spec = _SPECS.get(node.type)
        if spec is None and node.type == BLOCK_TYPE:
            return self._infer_block(node, NodeInfo())
        if spec is None or node_id in RESERVED_IDS or node_id in self._cyclic:
            refused = self._identity_problem(node)
            if refused is not None:
                return NodeInfo(problems=[refused])
            spec = REGISTRY.get(node.type)  # an alias of a renamed type
        params = node.params
        key = _params_key(params) if params else ""
        values, errors = _RESOLVE_CACHE.get((spec.type_id, key)) or _remember(
            _RESOLVE_CACHE, (spec.type_id, key), resolve_params(spec, params)
        )
        info = NodeInfo(resolved=dict(values))
        for message in errors:
            info.problems.append(Problem(node_id, message, "set the parameter to an allowed value"))
        edges = self.design._in[node_id]
        if len(edges) == 1 and spec.inputs == 1 and not spec.variadic and edges[0].port == 0:
            sources = [edges[0].source]  # the usual single wire (its network is checked below)
            if self.design._nodes[sources[0]].network != node.network:
                sources = self._sources(node, spec, info)
        else:
            sources = self._sources(node, spec, info)
        if sources is None or errors:
            return info
        shapes = []
        dtypes = []
        infos = self.info
        for src in sources:
            src_info = infos.get(src)
            if src_info is None or src_info.output_shape is None:
                return info  # upstream problem is reported on the upstream node
            shapes.append(src_info.output_shape)
            dtypes.append(src_info.output_dtype)
        info.input_shapes = input_shapes = tuple(shapes)
        info.input_dtypes = tuple(dtypes)
        accepts = spec.accepts
        if len(dtypes) == 1:  # the usual single input: no generator
            dtypes_ok = accepts == "any" or DTYPES[dtypes[0]] == accepts
        elif accepts == "any":
            dtypes_ok = all(d == dtypes[0] for d in dtypes)
        else:
            dtypes_ok = all(DTYPES[d] == accepts for d in dtypes)
        if not dtypes_ok:
            refused = self._check_dtypes(node, spec, sources, dtypes)
            if refused is not None:
                info.problems.append(refused)
                return info
        result = _RULE_CACHE.get((spec.type_id, key, input_shapes)) or self._apply_rule(
            spec, key, values, shapes
        )
        if isinstance(result, ShapeRuleError):
            info.problems.append(
                Problem(node_id, *explain_shape_error(result, node_id, sources, shapes))
            )
            return info
        info.output_shape, info.params, info.macs, info.activation_bytes = result
        out_dtype = spec.output_dtype
        if out_dtype == "input":
            info.output_dtype = dtypes[0] if dtypes else "float32"
        elif out_dtype in DTYPES:  # a fixed dtype (most layers)
            info.output_dtype = out_dtype
        else:
            info.output_dtype = spec.output_dtype_for(dtypes, values)
        return info

    def _infer_block(self, node: Node, info: NodeInfo) -> NodeInfo:
        """Infer a block instance: each repeat's concrete body analysed on its own, problems
        inside named by their block path (``stage2[1]/conv2: …``), costs summed."""
        node_id = node.id
        self.block_runs.pop(node_id, None)
        if node_id in RESERVED_IDS or node_id in self._cyclic:
            info.problems.append(self._identity_problem(node))
            return info
        defn, repeat = self._block_checks(node, info)
        if defn is None:
            return info
        values = instance_values(node.params)
        count = len(defn.input_ids)
        port_spec = _BlockPorts(f"block '{defn.name}'", count)
        sources = self._sources(node, port_spec, info)  # type: ignore[arg-type]
        if sources is None:
            return info
        shapes, dtypes = [], []
        for src in sources:
            src_info = self.info.get(src)
            if src_info is None or src_info.output_shape is None:
                return info
            shapes.append(src_info.output_shape)
            dtypes.append(src_info.output_dtype)
        info.input_shapes, info.input_dtypes = tuple(shapes), tuple(dtypes)
        runs = []
        out_id = defn.output_ids[0]
        for index in range(repeat):
            key = (id(defn), _params_key(values), tuple(shapes), tuple(dtypes))
            memo = self._block_memo.get(key)
            if memo is None or memo[0] is not defn:
                concrete = instantiate(defn, values, shapes, dtypes, self.design.blocks)
                memo = self._block_memo[key] = (defn, concrete, ShapeAnalysis(concrete, body=True))
            _, concrete, sub = memo
            runs.append((concrete, sub))
            for problem in sub.problems:
                inner = problem.node or ""
                nested = (
                    inner in concrete
                    and concrete.node(inner).type == BLOCK_TYPE
                    and problem.message.startswith(inner + "[")
                )
                message = path_message(node_id, index, inner, problem.message, nested)
                info.problems.append(Problem(node_id, message, problem.fix))
            out = sub.info.get(out_id)
            if info.problems or out is None or out.output_shape is None:
                return info
            for inner_node in concrete:  # the port nodes are wires, not layers: not counted
                if inner_node.type != "Input" and inner_node.type != "Output":
                    inner_info = sub.info[inner_node.id]
                    info.params += inner_info.params
                    info.macs += inner_info.macs
                    info.activation_bytes += inner_info.activation_bytes
            shapes, dtypes = [out.output_shape], [out.output_dtype]
        info.output_shape, info.output_dtype = shapes[0], dtypes[0]
        self.block_runs[node_id] = runs
        return info

    def _block_checks(self, node: Node, info: NodeInfo) -> tuple[Any, int]:
        """(definition, repeat) of an instance, or (None, 0) with its problems in ``info``:
        an unknown block, a bad repeat, a parameter the block does not expose, a bad body."""
        params = node.params
        blocks = self.design.blocks
        name = params.get("block")
        defn = blocks.get(name) if isinstance(name, str) else None
        fix = "set the block's parameters, or make the definition usable"
        if defn is None:
            known = ", ".join(blocks) or "none"
            info.problems.append(
                Problem(
                    node.id,
                    f"uses block {show_value(name)}, which the design does not define "
                    f"(its blocks: {known})",
                    "pick a defined block, or add its definition",
                )
            )
            return None, 0
        repeat = params.get("repeat", 1)
        if type(repeat) is not int or repeat < 1:
            info.problems.append(
                Problem(node.id, f"parameter 'repeat' is {repeat!r}", "set a whole number ≥ 1")
            )
        elif repeat > 1 and len(defn.input_ids) != 1:
            info.problems.append(
                Problem(
                    node.id,
                    f"repeat ×{repeat} chains copies, but block '{name}' has "
                    f"{len(defn.input_ids)} inputs",
                    "set repeat to 1, or give the block one input",
                )
            )
        for exposed in instance_values(params):
            if exposed not in defn.params:
                known = ", ".join(defn.params) or "none"
                info.problems.append(
                    Problem(
                        node.id,
                        f"block '{name}' has no parameter '{exposed}' (its parameters: {known})",
                        "remove it, or expose it in the block",
                    )
                )
        for message in definition_problems(defn):
            info.problems.append(Problem(node.id, message, fix))
        info.resolved = {"block": name, "repeat": repeat}
        for exposed in defn.params:
            info.resolved[exposed] = params.get(exposed, defn.default(exposed))
        return (None, 0) if info.problems else (defn, repeat)

    def _sources(self, node: Node, spec: LayerSpec, info: NodeInfo) -> list[str] | None:
        """The node's input nodes in port order, or None when its edges do not fit its ports
        (the problems are added to ``info``)."""
        edges = self.design._in[node.id]
        count = spec.inputs
        if not spec.variadic and len(edges) == count:
            nodes = self.design._nodes
            network = node.network
            if count == 1:
                edge = edges[0]
                if edge.port == 0 and nodes[edge.source].network == network:
                    return [edge.source]
            elif count == 0:
                return []
            else:
                ordered = sorted(edges, key=lambda e: e.port)
                if all(
                    e.port == i and nodes[e.source].network == network
                    for i, e in enumerate(ordered)
                ):
                    return [e.source for e in ordered]
        by_port: dict[int, list[str]] = {}
        for e in self.design.in_edges(node.id):
            by_port.setdefault(e.port, []).append(e.source)
        if not self._check_ports(node, spec, by_port, info):
            return None
        return [by_port[p][0] for p in sorted(by_port)]

    def _identity_problem(self, node: Node) -> Problem | None:
        """The problem when ``node`` cannot be a layer at all: reserved id, in a cycle, unknown type."""
        if node.id in RESERVED_IDS:
            return Problem(
                node.id,
                f"the id '{node.id}' is a reserved name in PyTorch modules and cannot name a layer",
                f"rename the node, e.g. '{node.id}_1'",
            )
        if node.id in self._cyclic:
            return Problem(
                node.id,
                "is part of a cycle (a layer's output feeds back into its own input)",
                "remove one edge of the loop",
            )
        if node.type not in REGISTRY:
            hint = REGISTRY.suggest(node.type)
            return Problem(
                node.id,
                f"unknown layer type '{node.type}'",
                f"did you mean '{hint}'?" if hint else "use a type listed in docs/design-format.md",
            )
        return None

    @staticmethod
    def _apply_rule(
        spec: LayerSpec, key: str, values: dict[str, Any], shapes: list
    ) -> tuple[Shape, int, int, int] | ShapeRuleError:
        """Run the layer's shape rule and remember its (output shape, parameters, MACs,
        activation bytes), or its error."""
        result: tuple[Shape, int, int, int] | ShapeRuleError
        try:
            out = tuple(spec.infer(shapes, values))
            size = 1
            for d in out:
                size *= d
            result = (
                out,
                spec.count_params(shapes, values),
                spec.count_macs(shapes, values, out),
                size * BYTES_PER_VALUE,
            )
        except ShapeRuleError as exc:
            result = exc
        return _remember(_RULE_CACHE, (spec.type_id, key, tuple(shapes)), result)

    def _check_dtypes(
        self, node: Node, spec: LayerSpec, sources: Sequence[str], dtypes: Sequence[str]
    ) -> Problem | None:
        """The problem when the inputs' element types do not fit what ``spec`` accepts."""
        accepts = spec.accepts
        if accepts == "any":
            for src, dtype in zip(sources[1:], dtypes[1:]):
                if dtype != dtypes[0]:
                    return Problem(
                        node.id,
                        f"{spec.type_id} needs inputs of one dtype, but "
                        f"'{sources[0]}' gives {dtypes[0]} and '{src}' gives {dtype}",
                        "give both branches the same dtype (an Embedding turns "
                        "int64 token ids into float32)",
                    )
            return None
        for src, dtype in zip(sources, dtypes):
            if DTYPES[dtype] == accepts:
                continue
            is_input = REGISTRY.resolve(self.design.node(src).type) == "Input"
            if accepts == "integer":
                fix = (
                    f"set the dtype of '{src}' to int64"
                    if is_input
                    else f"wire '{node.id}' to an Input with dtype int64 (token ids): float "
                    "values cannot index it"
                )
                return Problem(
                    node.id,
                    f"{spec.type_id} expects integer token ids, but '{src}' gives {dtype}",
                    fix,
                )
            if is_input:
                fix = (
                    f"set the dtype of '{src}' to float32, or add an Embedding between "
                    f"'{src}' and '{node.id}'"
                )
            else:
                origin = self._integer_origin(src)
                fix = (
                    f"set the dtype of Input '{origin}' to float32, or add an Embedding "
                    f"before '{node.id}'"
                )
            return Problem(
                node.id, f"{spec.type_id} expects float input, but '{src}' gives {dtype}", fix
            )
        return None

    def _integer_origin(self, node_id: str) -> str:
        """The Input whose int64 values reach ``node_id`` through pass-through layers."""
        seen = set()
        while node_id not in seen and REGISTRY.resolve(self.design.node(node_id).type) != "Input":
            seen.add(node_id)
            ints = [
                p
                for p in self.design.predecessors(node_id)
                if p in self.info and self.info[p].output_dtype == "int64"
            ]
            if not ints:
                break
            node_id = ints[0]
        return node_id

    def _check_ports(
        self, node: Node, spec: LayerSpec, by_port: dict[int, list[str]], info: NodeInfo
    ) -> bool:
        """Check the node's incoming edges against its ports; False when any is wrong."""
        nodes = self.design._nodes
        network = node.network
        if (
            not spec.variadic
            and len(by_port) == spec.inputs
            and all(len(v) == 1 and nodes[v[0]].network == network for v in by_port.values())
            and all(p < spec.inputs for p in by_port)
        ):
            return True  # the common case: every port has its one edge from the same network
        ok = self._check_edges(node, by_port, info)
        return self._check_arity(node, spec, by_port, info) and ok

    def _check_edges(self, node: Node, by_port: dict[int, list[str]], info: NodeInfo) -> bool:
        """Report ports with several edges and edges from another network; False if any."""
        ok = True
        for port, sources in sorted(by_port.items()):
            if len(sources) > 1:
                info.problems.append(
                    Problem(
                        node.id,
                        f"input port {port} has {len(sources)} connections "
                        f"({', '.join(sources)}); a port takes one",
                        "remove the extra edges or use an Add/Concatenate merge",
                    )
                )
                ok = False
            for src in sources:
                if self.design.node(src).network != node.network:
                    info.problems.append(
                        Problem(
                            node.id,
                            f"is connected to '{src}' of network "
                            f"'{self.design.node(src).network}' but belongs to '{node.network}'",
                            "edges must stay within one network; remove the edge",
                        )
                    )
                    ok = False
        return ok

    def _check_arity(
        self, node: Node, spec: LayerSpec, by_port: dict[int, list[str]], info: NodeInfo
    ) -> bool:
        """Report too few, missing or out-of-range input ports for ``spec``; False if any."""
        ok = True
        ports = sorted(by_port)
        if spec.variadic:
            if len(ports) < spec.min_inputs:
                info.problems.append(
                    Problem(
                        node.id,
                        f"{spec.type_id} needs at least {spec.min_inputs} inputs, has {len(ports)}",
                        "connect more layers to it",
                    )
                )
                ok = False
            return ok
        if spec.inputs == 0:
            if ports:
                info.problems.append(
                    Problem(node.id, "an Input takes no incoming edges", "remove the edges into it")
                )
                ok = False
            return ok
        extra = [p for p in ports if p >= spec.inputs]
        if extra:
            info.problems.append(
                Problem(
                    node.id,
                    f"{spec.type_id} has {spec.inputs} input port(s), but an edge targets "
                    f"port {extra[0]}",
                    "reconnect the edge to port 0",
                )
            )
            ok = False
        missing = [p for p in range(spec.inputs) if p not in by_port]
        if missing:
            what = "its input is" if spec.inputs == 1 else f"input port {missing[0]} is"
            info.problems.append(
                Problem(
                    node.id,
                    f"{what} not connected",
                    "wire a layer's output into it, or delete the node",
                )
            )
            ok = False
        return ok

    def _check_design(self) -> list[Problem]:
        """Design-wide problems, from the per-network counts (no pass over the nodes unless a
        problem needs names from them)."""
        design = self.design
        problems: list[Problem] = []
        if self._body:
            return problems
        if len(design) == 0:
            return [Problem(None, "the design is empty", "add an Input and some layers")]
        roles = {}
        for name, meta in design.networks.items():
            role = meta.get("role") if isinstance(meta, dict) else None
            if role not in NETWORK_ROLES:
                problems.append(
                    Problem(
                        None,
                        f"network '{name}' has role {role!r}",
                        "use one of " + ", ".join(NETWORK_ROLES),
                    )
                )
            roles[name] = role
        counts = self._counts
        if any(name not in design.networks for name in counts):
            problems.extend(
                Problem(
                    node.id,
                    f"belongs to network '{node.network}', which the design does not declare",
                    'add it under "networks" or change the node\'s network',
                )
                for node in design
                if node.network not in design.networks
            )
        for name in design.networks:
            count = counts.get(name)
            if not count:
                problems.append(
                    Problem(
                        None,
                        f"network '{name}' has no layers",
                        'add layers to it or remove it from "networks"',
                    )
                )
            elif not count[1]:
                problems.append(
                    Problem(
                        None,
                        f"network '{name}' has no Input layer",
                        "add an Input and wire it to the first layer",
                    )
                )
            else:
                problems.extend(self._check_trainable(name, count))
        if "generator" in roles.values() or "discriminator" in roles.values():
            problems.extend(self._check_gan(roles))
        return problems

    def _check_trainable(self, network: str, count: list[int]) -> list[Problem]:
        """A network must have layers to train: more than Inputs and Outputs, and (once every
        node infers) at least one with learnable parameters."""
        if count[2] and (count[3] or count[4]):
            return []  # the node problems come first, or some layer has parameters
        nodes = self.design.nodes_in_network(network)
        types = [REGISTRY.resolve(n.type) for n in nodes]
        first_input = next(n.id for n, t in zip(nodes, types) if t == "Input")
        if not count[2]:
            marked = [n.id for n, t in zip(nodes, types) if t == "Output"]
            end = f"'{marked[0]}'" if marked else "an Output"
            return [
                Problem(
                    None,
                    f"network '{network}' has no layers after its Input",
                    f"add layers between '{first_input}' and {end}",
                )
            ]
        outputs = network_outputs(self.design, network)
        end = f"'{outputs[0]}'" if outputs else "an Output"
        return [
            Problem(
                None,
                f"network '{network}' has no layer with trainable parameters",
                f"add a Linear, convolution, recurrent or SOM layer between "
                f"'{first_input}' and {end}",
            )
        ]

    def _check_gan(self, roles: dict[str, str | None]) -> list[Problem]:
        gens = [n for n, r in roles.items() if r == "generator"]
        discs = [n for n, r in roles.items() if r == "discriminator"]
        integer = [
            Problem(
                n.id,
                "a GAN reads float noise and float samples, but this Input gives int64",
                "set its dtype to float32",
            )
            for n in self.design
            if n.network in (*gens, *discs)
            and REGISTRY.resolve(n.type) == "Input"
            and self.info.get(n.id) is not None
            and self.info[n.id].output_dtype == "int64"
        ]
        return integer + self._check_gan_shapes(gens, discs)

    def _check_gan_shapes(self, gens: list[str], discs: list[str]) -> list[Problem]:
        if len(gens) != 1 or len(discs) != 1:
            return [
                Problem(
                    None,
                    f"a GAN needs exactly one generator and one discriminator network "
                    f"(has {len(gens)} and {len(discs)})",
                    "set the networks' roles",
                )
            ]
        g_out = self._network_outputs(gens[0])
        d_in = [n.id for n in self.design.nodes_in_network(discs[0]) if n.type == "Input"]
        if len(g_out) != 1 or len(d_in) != 1:
            return [
                Problem(
                    None,
                    "a GAN's generator needs one output and its discriminator one Input",
                    "remove the extra outputs or inputs",
                )
            ]
        g_shape = self.info[g_out[0]].output_shape
        d_shape = self.info[d_in[0]].output_shape
        if g_shape is not None and d_shape is not None and g_shape != d_shape:
            return [
                Problem(
                    d_in[0],
                    f"the discriminator reads {fmt_shape(d_shape)} but the "
                    f"generator's '{g_out[0]}' gives {fmt_shape(g_shape)}",
                    "make the generator's output shape equal the discriminator's Input",
                )
            ]
        return []

    def _network_outputs(self, network: str) -> list[str]:
        return network_outputs(self.design, network)


@dataclass(frozen=True)
class _BlockPorts:
    """What the port checks read of a layer spec, for a block instance's input ports."""

    type_id: str
    inputs: int
    variadic: bool = False
    min_inputs: int = 0


def show_value(value: Any) -> str:
    """A value as a message shows it: strings quoted, others as Python writes them."""
    return f"'{value}'" if isinstance(value, str) else repr(value)


def network_outputs(design: Design, network: str) -> list[str]:
    """Output node ids of one network: its Output layers, else its nodes with no successor."""
    nodes = design.nodes_in_network(network)
    marked = [n.id for n in nodes if REGISTRY.resolve(n.type) == "Output"]
    if marked:
        return marked
    return [
        n.id for n in nodes if not design.out_edges(n.id) and REGISTRY.resolve(n.type) != "Input"
    ]


def network_inputs(design: Design, network: str) -> list[str]:
    """Input node ids of one network, in file order."""
    return [n.id for n in design.nodes_in_network(network) if REGISTRY.resolve(n.type) == "Input"]


def _topological_order(design: Design) -> list[str] | None:
    """Kahn's algorithm, ties broken by file order (stable layouts and messages); None on a cycle.

    Hand-written over the design's plain adjacency lists: networkx's generic version is the
    bottleneck of a full pass on a 5,000-node design.
    """
    file_index = {}
    indegree = {}
    ready = []
    for i, node_id in enumerate(design._nodes):
        file_index[node_id] = i
        d = len(design._in[node_id])
        indegree[node_id] = d
        if d == 0:
            ready.append((i, node_id))
    heapq.heapify(ready)
    order = []
    out = design._out
    while ready:
        _, node_id = heapq.heappop(ready)
        order.append(node_id)
        for edge in out[node_id]:
            target = edge.target
            indegree[target] -= 1
            if indegree[target] == 0:
                heapq.heappush(ready, (file_index[target], target))
    return order if len(order) == len(indegree) else None


def explain_shape_error(
    exc: ShapeRuleError, node_id: str, sources: Sequence[str], shapes: Sequence[Shape]
) -> tuple[str, str]:
    """A shape rule's (message, fix) with its placeholders filled in: ``{self}`` is the node,
    ``{in0}`` "'conv3' gives (N, 16, 4, 4)", ``{src0}`` "'conv3'" for each input in port order."""
    fields = {"self": f"'{node_id}'"}
    for i, (src, shape) in enumerate(zip(sources, shapes)):
        fields[f"in{i}"] = f"'{src}' gives {fmt_shape(shape)}"
        fields[f"src{i}"] = f"'{src}'"

    def fill(text: str) -> str:
        for key, value in fields.items():
            text = text.replace("{" + key + "}", value)
        return text

    return fill(exc.message), fill(exc.fix)


def analyze(design: Design) -> ShapeAnalysis:
    """Validate ``design`` and infer every node's shape."""
    return ShapeAnalysis(design)
