"""The incremental analysis always equals a fresh full one.

:meth:`ShapeAnalysis.update` re-infers only the edited nodes (and what their outputs reach) and
keeps the design-wide checks as per-network counts, so an edit costs the same on a 20-node and a
20,000-node design. These tests replay random edits — parameters (valid and not), nodes and
edges added and removed, a removal undone, networks declared, dropped and given roles —
and after every one compare the incremental result with :func:`analyze` on the same design,
down to each node's info, every design-wide problem and the execution order.
"""

from __future__ import annotations

import random

import networkx as nx
import pytest

from engine.graph import Design, Edge, Node
from engine.shapes import ShapeAnalysis, analyze
from tests.engine.builders import add, chain

TYPES = [
    ("Input", {"shape": [8]}),
    ("Input", {"shape": [4]}),
    ("Input", {"shape": [8], "dtype": "int64"}),
    ("Linear", {"out_features": 8}),
    ("Linear", {"out_features": 4}),
    ("ReLU", {}),
    ("Dropout", {}),
    ("Add", {}),
    ("Output", {}),
    ("Bogus", {}),
]
NETWORKS = ["main", "main", "main", "gen", "disc", "stray"]


def _assert_same(incremental: ShapeAnalysis, design: Design) -> None:
    fresh = analyze(design)
    assert incremental.design_problems == fresh.design_problems
    assert set(incremental.info) == set(fresh.info)
    for node_id, info in fresh.info.items():
        assert incremental.info[node_id] == info, node_id
    assert incremental.problems == fresh.problems
    assert incremental.valid == fresh.valid
    assert incremental.totals() == fresh.totals()
    assert incremental.topological_order() == fresh.topological_order()
    position = {node_id: i for i, node_id in enumerate(n.id for n in design)}
    forward = all(position[e.source] < position[e.target] for e in design.edges)
    assert design.file_order_is_topological == forward
    ids = [n.id for n in design]
    for a, b in zip(ids, ids[::-1]):  # reachability without the networkx graph agrees with it
        assert design.has_path(a, b) == nx.has_path(design.graph, a, b), (a, b)


def _random_edit(rng: random.Random, design: Design, counter: list[int]) -> tuple[set[str], bool]:
    """Apply one random edit to ``design``; returns what an editor passes to ``update``."""
    nodes = [n.id for n in design]
    kind = rng.choice(
        ["add", "add", "remove", "restore", "edge", "unedge", "param", "param", "networks"]
    )
    if kind == "add" or not nodes:
        counter[0] += 1
        type_id, params = rng.choice(TYPES)
        node_id = f"n{counter[0]}"
        index = rng.choice([None, rng.randrange(len(nodes) + 1)])
        node = Node(node_id, type_id, dict(params), network=rng.choice(NETWORKS))
        design.add_node(node, index)
        return {node_id}, True
    if kind == "remove":
        node_id = rng.choice(nodes)
        _, _, removed = design.remove_node(node_id)
        return {e.target for _, e in removed if e.target != node_id}, True
    if kind == "restore":  # remove a node, then put it back as undo does: nothing changes
        node_id = rng.choice(nodes)
        before = (design.nodes, design.edges)
        node, index, removed = design.remove_node(node_id)
        design.add_node(node, index)
        for i, edge in removed:
            design.add_edge(edge, i)
        assert (design.nodes, design.edges) == before
        return {node_id}, True
    if kind == "edge":
        edge = Edge(rng.choice(nodes), rng.choice(nodes), rng.choice([0, 0, 1]))
        if design.has_edge(edge):
            return set(), False
        design.add_edge(edge)
        return {edge.target}, True
    if kind == "unedge":
        if not design.edges:
            return set(), False
        edges = design.edges
        index = rng.randrange(len(edges))
        edge = edges[index]
        assert design.remove_edge(Edge(edge.source, edge.target, edge.port)) == index
        return {edge.target}, True
    if kind == "param":
        node_id = rng.choice(nodes)
        name, value = rng.choice(
            [
                ("out_features", rng.choice([4, 8, 0, "x"])),
                ("out_features", None),
                ("shape", rng.choice([[8], [4], [2, 4]])),
                ("dtype", rng.choice(["int64", "float32"])),
                ("p", 0.5),
            ]
        )
        design.set_param(node_id, name, value)
        return {node_id}, False
    # declare, drop or re-role a network: design-wide, no node changes
    name = rng.choice(["gen", "disc", "stray"])
    if name in design.networks and rng.random() < 0.4:
        del design.networks[name]
    else:
        role = rng.choice(["model", "generator", "discriminator", "bad-role"])
        design.networks[name] = {"role": role}
    return set(), False


@pytest.mark.parametrize("seed", range(6))
def test_random_edits_keep_the_incremental_analysis_equal_to_a_full_one(seed):
    rng = random.Random(seed)
    design = chain(("x", "Input", {"shape": [8]}), ("fc", "Linear", {"out_features": 4}))
    analysis = analyze(design)
    counter = [0]
    for _ in range(150):
        changed, structure = _random_edit(rng, design, counter)
        analysis.update(changed, structure_changed=structure)
        _assert_same(analysis, design)


def test_removing_a_node_forgets_it_and_its_network_problem_comes_back():
    design = chain(("x", "Input", {"shape": [8]}), ("fc", "Linear", {"out_features": 4}))
    analysis = analyze(design)
    assert analysis.valid
    _, _, removed = design.remove_node("fc")
    analysis.update({e.target for _, e in removed if e.target != "fc"}, structure_changed=True)
    assert "fc" not in analysis.info
    assert [p.message for p in analysis.design_problems] == [
        "network 'main' has no layers after its Input"
    ]
    add(design, "fc", "Linear", {"out_features": 4}, ("x",))
    analysis.update({"fc"}, structure_changed=True)
    assert analysis.valid and analysis.info["fc"].output_shape == (4,)


def test_a_removed_then_re_added_id_is_inferred_afresh_even_if_the_caller_omits_it():
    design = chain(("x", "Input", {"shape": [8]}), ("fc", "Linear", {"out_features": 4}))
    analysis = analyze(design)
    design.remove_node("fc")
    add(design, "fc", "ReLU", {}, ("x",))
    analysis.update(set(), structure_changed=True)  # the journal names "fc"
    assert analysis.info["fc"].output_shape == (8,)
    assert [p.message for p in analysis.design_problems] == [
        "network 'main' has no layer with trainable parameters"
    ]
    _assert_same(analysis, design)
