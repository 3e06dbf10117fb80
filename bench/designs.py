"""The designs the benchmarks measure, built in one place so that every benchmark of "the
5,000-node design" measures the same graph.

Import from a benchmark script (which puts the repository root on ``sys.path``) as
``from bench.designs import residual_cnn``.
"""

from __future__ import annotations

from engine.graph import Design, Edge, Node

#: Residual blocks in the 5,000-node design (7 nodes each, plus Input, Flatten and Linear).
BLOCKS = 714
#: Nodes per row of the layout.
PER_ROW = 70


def residual_cnn(blocks: int = BLOCKS, per_row: int = PER_ROW) -> Design:
    """A deep residual CNN: ``blocks`` blocks of Conv2d → BatchNorm2d → ReLU → Conv2d →
    BatchNorm2d → Add(skip) → ReLU on (16, 8, 8) tensors, between an Input and Flatten → Linear
    (5,001 nodes and 5,714 edges with the default 714 blocks).

    Nodes are ``image``, ``b<i>_conv1`` … ``b<i>_relu2``, ``flat`` and ``head``, laid out in
    rows of ``per_row`` nodes 260 px apart (every other node 40 px lower, so that the edges
    are not all on one line).
    """
    design = Design("bench: 5,000 nodes")
    count = 0

    def node(node_id: str, type_id: str, params: dict | None = None, *inputs: str) -> str:
        nonlocal count
        pos = ((count % per_row) * 260.0, (count // per_row) * 200.0 + (count % 2) * 40.0)
        count += 1
        design.add_node(Node(node_id, type_id, dict(params or {}), pos))
        for port, src in enumerate(inputs):
            design.add_edge(Edge(src, node_id, port))
        return node_id

    prev = node("image", "Input", {"shape": [16, 8, 8]})
    for b in range(blocks):
        c1 = node(f"b{b}_conv1", "Conv2d", {"out_channels": 16}, prev)
        n1 = node(f"b{b}_bn1", "BatchNorm2d", {}, c1)
        r1 = node(f"b{b}_relu1", "ReLU", {}, n1)
        c2 = node(f"b{b}_conv2", "Conv2d", {"out_channels": 16}, r1)
        n2 = node(f"b{b}_bn2", "BatchNorm2d", {}, c2)
        s = node(f"b{b}_add", "Add", {}, n2, prev)
        prev = node(f"b{b}_relu2", "ReLU", {}, s)
    flat = node("flat", "Flatten", {}, prev)
    node("head", "Linear", {"out_features": 10}, flat)
    return design


def with_training(design: Design, epochs: int, batch_size: int) -> Design:
    """A copy of ``design`` with the training section every training benchmark uses: Adam at
    1e-3, classification on the CPU, seed 0."""
    design = design.copy()
    design.training = {
        "task": "classification",
        "optimizer": "adam",
        "lr": 1e-3,
        "batch_size": batch_size,
        "epochs": epochs,
        "device": "cpu",
        "seed": 0,
    }
    return design
