"""Small helpers that write designs the way a user wires them on the canvas."""

from __future__ import annotations

from engine.graph import Design, Edge, Node


def chain(
    *layers: tuple[str, str, dict] | tuple[str, str],
    network: str = "main",
    design: Design | None = None,
) -> Design:
    """A straight pipeline: ``chain(("in", "Input", {"shape": [4]}), ("fc", "Linear", {...}))``."""
    design = design or Design("test")
    prev = None
    for i, layer in enumerate(layers):
        node_id, type_id, params = (*layer, {})[:3] if len(layer) == 2 else layer
        design.add_node(Node(node_id, type_id, dict(params), (200.0 * i, 0.0), "", network))
        if prev is not None:
            design.add_edge(Edge(prev, node_id, 0))
        prev = node_id
    return design


def add(
    design: Design,
    node_id: str,
    type_id: str,
    params: dict | None = None,
    inputs: tuple[str, ...] = (),
    network: str = "main",
) -> Design:
    """Add one node wired from ``inputs`` (port i gets inputs[i]; merges get one port each)."""
    design.add_node(Node(node_id, type_id, dict(params or {}), (0.0, 0.0), "", network))
    for port, src in enumerate(inputs):
        design.add_edge(Edge(src, node_id, port))
    return design
