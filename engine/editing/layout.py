"""Automatic layout: layered left to right by topological depth, one band per network.

Pure Python over an engine design (no Qt): the canvas's Auto-Layout (``gui/canvas/layout.py``
re-exports it) and the PyTorch importer both place nodes with it. Each network is laid
out on its own; a multi-network design (a GAN) gets its networks stacked top to bottom with a gap,
so the canvas groups never overlap. A network deeper than ``max_columns`` wraps into bands of
columns stacked top to bottom, like lines of text, so a long chain stays readable in the view.
"""

from __future__ import annotations

import heapq

from engine.graph import Design

COLUMN_SPACING = 280.0
ROW_SPACING = 120.0
NETWORK_GAP = 200.0
# Extra room between the bands of a wrapped network: the return wire runs through it.
WRAP_GAP = 20.0


def layer_depths(design: Design, node_ids: list[str]) -> dict[str, int]:
    """Longest-path depth of each node from the sources of its network (cycles tolerated)."""
    ids = set(node_ids)
    order_index = {nid: i for i, nid in enumerate(node_ids)}
    indegree = {nid: 0 for nid in node_ids}
    for nid in node_ids:
        for succ in design.graph.successors(nid):  # each neighbour once
            if succ in ids:
                indegree[succ] += 1
    ready = [(order_index[nid], nid) for nid, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    depth: dict[str, int] = {}
    done: set[str] = set()
    scan = 0  # where to look for a cycle breaker
    while len(done) < len(ids):
        if not ready:  # a cycle: break it at the earliest remaining node in file order
            while node_ids[scan] in done:
                scan += 1
            heapq.heappush(ready, (scan, node_ids[scan]))
        _, nid = heapq.heappop(ready)
        if nid in done:
            continue
        done.add(nid)
        preds = [p for p in design.graph.predecessors(nid) if p in depth]
        depth[nid] = max((depth[p] + 1 for p in preds), default=0)
        for succ in design.graph.successors(nid):
            if succ in ids and succ not in done:
                indegree[succ] -= 1
                if indegree[succ] == 0:
                    heapq.heappush(ready, (order_index[succ], succ))
    return depth


def layered_layout(
    design: Design,
    origin: tuple[float, float] = (0.0, 0.0),
    column_spacing: float = COLUMN_SPACING,
    row_spacing: float = ROW_SPACING,
    network_gap: float = NETWORK_GAP,
    max_columns: int | None = None,
) -> dict[str, tuple[float, float]]:
    """Positions ``{node id: (x, y)}``: columns by depth, rows ordered to keep wires short.

    With ``max_columns``, depths beyond it wrap: depth ``d`` goes to column ``d % max_columns``
    of band ``d // max_columns``, each band below the previous one.
    """
    per_band = max(1, max_columns) if max_columns else None
    positions: dict[str, tuple[float, float]] = {}
    networks = list(design.networks) + sorted({n.network for n in design} - set(design.networks))
    top = origin[1]
    for net in networks:
        ids = [n.id for n in design.nodes_in_network(net)]
        if not ids:
            continue
        depth = layer_depths(design, ids)
        order_index = {nid: i for i, nid in enumerate(ids)}
        columns: dict[int, list[str]] = {}
        for nid in ids:
            columns.setdefault(depth[nid], []).append(nid)
        rows: dict[str, float] = {}
        for d in sorted(columns):
            members = columns[d]
            if d > 0:  # barycentre of the predecessors' rows; file order breaks ties
                members.sort(
                    key=lambda nid, rows=rows, order=order_index: (
                        _barycentre(design, nid, rows),
                        order[nid],
                    )
                )
            for i, nid in enumerate(members):
                rows[nid] = i - (len(members) - 1) / 2
        n_bands = 1 if per_band is None else (max(depth.values()) // per_band) + 1
        for band in range(n_bands):
            members = [nid for nid in ids if per_band is None or depth[nid] // per_band == band]
            low = min(rows[nid] for nid in members)
            high = max(rows[nid] for nid in members)
            for nid in members:
                column = depth[nid] if per_band is None else depth[nid] % per_band
                positions[nid] = (
                    origin[0] + column * column_spacing,
                    top + (rows[nid] - low) * row_spacing,
                )
            top += (high - low) * row_spacing
            if band < n_bands - 1:
                top += row_spacing + WRAP_GAP
        top += network_gap
    return positions


def _barycentre(design: Design, node_id: str, rows: dict[str, float]) -> float:
    preds = [rows[p] for p in design.graph.predecessors(node_id) if p in rows]
    return sum(preds) / len(preds) if preds else float("inf")


def apply_layout(design: Design, **kwargs: float | int | None) -> None:
    """Set every node's ``position`` from :func:`layered_layout` (keywords passed on)."""
    for node_id, position in layered_layout(design, **kwargs).items():
        design.node(node_id).position = position
