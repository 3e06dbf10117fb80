"""The design model: layer nodes and the edges that wire them, on a networkx multigraph.

A :class:`Design` is plain data plus a small set of mutators; it knows nothing about shapes, files or
Qt. The GUI's document object is its only writer in the application; the engine reads it.

A design may hold several networks (a GAN's generator and discriminator share one canvas). Each node
names its network; ``Design.networks`` maps every network name to its role (``model``,
``generator`` or ``discriminator``). Edges never cross networks.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import networkx as nx

NODE_ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z")  # \Z: "$" would accept a final "\n"
NETWORK_ROLES = ("model", "generator", "discriminator")
DEFAULT_NETWORK = "main"


@dataclass
class Node:
    """One layer instance: a stable id, its layer type id, explicitly set parameters and layout.

    ``params`` holds only the values the user set; missing ones take the layer's defaults (see
    :func:`engine.shapes.resolve_params`), so files stay short and round-trip exactly.
    """

    id: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    position: tuple[float, float] = (0.0, 0.0)
    label: str = ""
    network: str = DEFAULT_NETWORK

    @property
    def title(self) -> str:
        """What the canvas and messages call the node: its label, else its id."""
        return self.label or self.id

    def copy(self, **changes: Any) -> Node:
        """An independent copy (its own ``params``); ``changes`` replace fields such as ``id``,
        ``position`` or ``network``."""
        return replace(self, params=copy.deepcopy(self.params), **changes)


@dataclass(frozen=True, order=True)
class Edge:
    """A wire from ``source``'s output to input ``port`` (0-based) of ``target``."""

    source: str
    target: str
    port: int = 0


class Design:
    """Nodes, edges, networks and the free-form ``data`` / ``training`` / ``search`` sections of
    one design."""

    def __init__(self, name: str = "Untitled", description: str = "") -> None:
        self.name = name
        self.description = description
        self.networks: dict[str, dict[str, Any]] = {DEFAULT_NETWORK: {"role": "model"}}
        self.data: dict[str, Any] = {}
        self.training: dict[str, Any] = {}
        self.search: dict[str, Any] = {}  # the search space (engine/search_space.py)
        self.blocks: dict[str, Any] = {}  # block name → engine.blocks.BlockDef
        self._graph: nx.MultiDiGraph | None = None  # built on first use (see ``graph``)
        self._nodes: dict[str, Node] = {}
        self._edges: list[Edge] = []
        # plain adjacency mirrors of ``graph`` for the hot paths (shape inference on big designs)
        self._in: dict[str, list[Edge]] = {}
        self._out: dict[str, list[Edge]] = {}
        # ids of nodes added or removed, in order: readers that keep per-node results (the shape
        # analysis) catch up from their own position instead of rescanning every node
        self._node_journal: list[str] = []
        # file-order ranks (increasing along the file, not necessarily consecutive) and the number
        # of edges running backward in them: while none does, file order is the topological
        # order, kept up to date per edit (an add, remove or wire never renumbers the rest)
        self._rank: dict[str, int] = {}
        self._next_rank = 0
        self._backward = 0

    # -- reading -----------------------------------------------------------------------------

    @property
    def graph(self) -> nx.MultiDiGraph:
        """The design as a networkx multigraph (edge keys are :class:`Edge`), for graph
        algorithms. Built on first use, then kept in step by the mutators: loading a big design
        and checking it never needs it."""
        if self._graph is None:
            graph = nx.MultiDiGraph()
            graph.add_nodes_from(self._nodes)
            graph.add_edges_from((e.source, e.target, e) for e in self._edges)
            self._graph = graph
        return self._graph

    @property
    def nodes(self) -> list[Node]:
        """Nodes in file order."""
        return list(self._nodes.values())

    @property
    def edges(self) -> list[Edge]:
        """Edges in file order."""
        return list(self._edges)

    def node(self, node_id: str) -> Node:
        """The node called ``node_id`` (KeyError if absent)."""
        return self._nodes[node_id]

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node]:
        return iter(self._nodes.values())

    def node_index(self, node_id: str) -> int:
        """Position of the node in file order."""
        return list(self._nodes).index(node_id)

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into ``node_id``, sorted by port."""
        edges = self._in[node_id]
        if len(edges) < 2:
            return list(edges)
        return sorted(edges, key=lambda e: (e.port, e.source))

    def out_edges(self, node_id: str) -> list[Edge]:
        """Edges out of ``node_id``."""
        return list(self._out[node_id])

    def predecessors(self, node_id: str) -> list[str]:
        """Ids of the nodes wired into ``node_id`` (one per edge)."""
        return [e.source for e in self._in[node_id]]

    def successors(self, node_id: str) -> list[str]:
        """Ids of the nodes ``node_id`` feeds (one per edge)."""
        return [e.target for e in self._out[node_id]]

    def has_path(self, source: str, target: str) -> bool:
        """Whether ``target`` is reachable from ``source`` along edges (a node reaches itself),
        as ``networkx.has_path`` on :attr:`graph` but without building it: while file order is
        the topological order, a node never reaches an earlier one; else a search from
        ``source``."""
        if source == target:
            return True
        rank = self._rank
        if self._backward == 0 and rank[target] < rank[source]:
            return False
        seen = {source}
        stack = [source]
        out = self._out
        while stack:
            for edge in out[stack.pop()]:
                nxt = edge.target
                if nxt == target:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False

    def nodes_in_network(self, network: str) -> list[Node]:
        """Nodes of one network, in file order."""
        return [n for n in self._nodes.values() if n.network == network]

    def network_of_role(self, role: str) -> str | None:
        """Name of the first network with ``role``, or None."""
        for name, info in self.networks.items():
            if info.get("role") == role:
                return name
        return None

    @property
    def file_order_is_topological(self) -> bool:
        """True when every edge runs forward in file order (no cycle; as in most saved designs):
        then file order itself is the tie-broken topological order. Kept per edit, O(1)."""
        return self._backward == 0

    def file_ranks(self) -> dict[str, int]:
        """Node id → a number that increases along file order (the design's own, live table:
        read it, never change it). Ranks are not consecutive after removals."""
        return self._rank

    def node_changes(self, since: int) -> tuple[list[str], int]:
        """Ids of nodes added or removed since journal position ``since`` (an id may repeat) and
        the position to pass next time."""
        journal = self._node_journal
        return journal[since:], len(journal)

    def new_node_id(self, type_id: str) -> str:
        """A fresh id derived from the layer type, e.g. ``conv2d_3``."""
        base = re.sub(r"[^A-Za-z0-9_]", "_", type_id).lower() or "node"
        if not base[0].isalpha() and base[0] != "_":
            base = "n_" + base
        i = 1
        while f"{base}_{i}" in self._nodes:
            i += 1
        return f"{base}_{i}"

    # -- mutating ----------------------------------------------------------------------------

    def add_node(self, node: Node, index: int | None = None) -> None:
        """Insert ``node`` (at ``index`` in file order, default last); its id must be new."""
        if node.id in self._nodes:
            raise ValueError(f"a node called {node.id!r} already exists")
        if index is None or index >= len(self._nodes):
            self._nodes[node.id] = node
            self._rank[node.id] = self._next_rank
            self._next_rank += 1
        else:
            items = list(self._nodes.items())
            items.insert(index, (node.id, node))
            self._nodes = dict(items)
            rank = self._rank  # renumbered in place: the relative order of the others is kept
            for i, node_id in enumerate(self._nodes):
                rank[node_id] = i
            self._next_rank = len(items)
        if self._graph is not None:
            self._graph.add_node(node.id)
        self._in[node.id] = []
        self._out[node.id] = []
        self._node_journal.append(node.id)

    def remove_node(self, node_id: str) -> tuple[Node, int, list[tuple[int, Edge]]]:
        """Remove a node and its edges; returns what undo needs: node, index, (index, edge) pairs."""
        node = self._nodes[node_id]
        index = self.node_index(node_id)
        # its edges, each once (a self-loop is in both lists), found by identity: no edge scan
        touching = {id(e): e for e in (*self._in[node_id], *self._out[node_id])}
        removed = self._edge_positions(touching.values())
        for i, edge in reversed(removed):
            self._remove_edge_at(i, edge)
        del self._nodes[node_id]
        del self._in[node_id], self._out[node_id], self._rank[node_id]
        if self._graph is not None:
            self._graph.remove_node(node_id)
        self._node_journal.append(node_id)
        return node, index, removed

    def add_edge(self, edge: Edge, index: int | None = None) -> None:
        """Insert ``edge``; both ends must exist and the same edge must not exist yet."""
        for end in (edge.source, edge.target):
            if end not in self._nodes:
                raise KeyError(f"edge {edge}: no node called {end!r}")
        if self.has_edge(edge):
            raise ValueError(f"edge {edge.source} → {edge.target}:{edge.port} already exists")
        if index is None:
            self._edges.append(edge)
        else:
            self._edges.insert(index, edge)
        if self._graph is not None:
            self._graph.add_edge(edge.source, edge.target, key=edge)
        self._in[edge.target].append(edge)
        self._out[edge.source].append(edge)
        if self._rank[edge.source] >= self._rank[edge.target]:
            self._backward += 1

    def remove_edge(self, edge: Edge) -> int:
        """Remove ``edge``; returns its former index (for undo). ValueError if absent."""
        stored = next((e for e in self._out.get(edge.source, ()) if e == edge), None)
        if stored is None:
            raise ValueError(f"edge {edge.source} → {edge.target}:{edge.port} does not exist")
        ((index, _),) = self._edge_positions((stored,))
        self._remove_edge_at(index, stored)
        return index

    def _edge_positions(self, stored: Iterable[Edge]) -> list[tuple[int, Edge]]:
        """(index in file order, edge) of edges held by this design, by index: found by identity
        (the most recent edge first), so no edge is compared field by field."""
        stored = list(stored)
        if not stored:
            return []
        edges = self._edges
        if len(stored) == 1 and edges[-1] is stored[0]:
            return [(len(edges) - 1, stored[0])]
        ids = list(map(id, edges))
        return sorted((ids.index(id(e)), e) for e in stored)

    def _remove_edge_at(self, index: int, edge: Edge) -> None:
        del self._edges[index]
        if self._graph is not None:
            self._graph.remove_edge(edge.source, edge.target, key=edge)
        self._in[edge.target].remove(edge)
        self._out[edge.source].remove(edge)
        if self._rank[edge.source] >= self._rank[edge.target]:
            self._backward -= 1

    def has_edge(self, edge: Edge) -> bool:
        """Whether exactly this edge exists."""
        return edge in self._out.get(edge.source, ())

    def set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set (or with ``value`` None, clear back to default) one parameter; returns the old value."""
        params = self._nodes[node_id].params
        old = params.get(name)
        if value is None:
            params.pop(name, None)
        else:
            params[name] = value
        return old

    def copy(self) -> Design:
        """A deep, independent copy (used to snapshot the design for training threads)."""
        other = Design(self.name, self.description)
        other.networks = copy.deepcopy(self.networks)
        other.data = copy.deepcopy(self.data)
        other.training = copy.deepcopy(self.training)
        other.search = copy.deepcopy(self.search)
        other.blocks = {name: defn.copy() for name, defn in self.blocks.items()}
        for node in self._nodes.values():
            other.add_node(node.copy())
        for edge in self._edges:
            other.add_edge(edge)
        return other

    def subgraph_ids(self, node_ids: Iterable[str]) -> tuple[list[Node], list[Edge]]:
        """Nodes with these ids and the edges among them (for copy/paste)."""
        ids = set(node_ids)
        nodes = [n for n in self._nodes.values() if n.id in ids]
        edges = [e for e in self._edges if e.source in ids and e.target in ids]
        return nodes, edges
