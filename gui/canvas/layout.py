"""Automatic layout: layered left to right by topological depth, one band per network.

Pure Python over an engine design (no Qt), so it is cheap to test and reuse. Each network is laid
out on its own; a multi-network design (a GAN) gets its networks stacked top to bottom with a gap,
so the canvas groups never overlap.
"""

from __future__ import annotations

import heapq

from engine.graph import Design

COLUMN_SPACING = 280.0
ROW_SPACING = 120.0
NETWORK_GAP = 200.0


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


def layered_layout(design: Design, origin: tuple[float, float] = (0.0, 0.0),
                   column_spacing: float = COLUMN_SPACING, row_spacing: float = ROW_SPACING,
                   network_gap: float = NETWORK_GAP) -> dict[str, tuple[float, float]]:
    """Positions ``{node id: (x, y)}``: columns by depth, rows ordered to keep wires short."""
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
                members.sort(key=lambda nid, rows=rows, order=order_index: (
                    _barycentre(design, nid, rows), order[nid]))
            for i, nid in enumerate(members):
                rows[nid] = i - (len(members) - 1) / 2
        low = min(rows.values())
        high = max(rows.values())
        for nid in ids:
            positions[nid] = (origin[0] + depth[nid] * column_spacing,
                              top + (rows[nid] - low) * row_spacing)
        top += (high - low) * row_spacing + network_gap
    return positions


def _barycentre(design: Design, node_id: str, rows: dict[str, float]) -> float:
    preds = [rows[p] for p in design.graph.predecessors(node_id) if p in rows]
    return sum(preds) / len(preds) if preds else float("inf")
