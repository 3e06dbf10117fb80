"""The one layered layout (engine/editing/layout.py), used by the canvas and the importer."""

from __future__ import annotations

from engine.editing.layout import COLUMN_SPACING, ROW_SPACING, apply_layout, layered_layout
from engine.graph import Design, Node
from tests.engine.builders import add, chain


def _branchy() -> Design:
    design = chain(("x", "Input", {"shape": [4]}), ("a", "Linear", {"out_features": 4}))
    add(design, "b", "Linear", {"out_features": 4}, ("x",))
    add(design, "sum", "Add", {}, ("a", "b"))
    return design


def test_columns_follow_the_longest_path_and_rows_never_overlap():
    pos = layered_layout(_branchy())
    assert pos["x"][0] == 0 and pos["a"][0] == pos["b"][0] == COLUMN_SPACING
    assert pos["sum"][0] == 2 * COLUMN_SPACING
    assert abs(pos["a"][1] - pos["b"][1]) == ROW_SPACING


def test_networks_are_stacked_and_long_chains_wrap():
    design = chain(
        *[
            (f"n{i}", "Input" if i == 0 else "ReLU", {"shape": [4]} if i == 0 else {})
            for i in range(7)
        ]
    )
    design.add_node(Node("z", "Input", {"shape": [4]}, (0.0, 0.0), "", "other"))
    pos = layered_layout(design, max_columns=3)
    assert [pos[f"n{i}"][0] / COLUMN_SPACING for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    bands = [pos[f"n{i}"][1] for i in range(7)]
    assert bands == sorted(bands) and len(set(bands)) == 3
    assert pos["z"][1] > max(bands)  # the second network below the first


def test_a_cycle_does_not_hang_the_layout():
    design = _branchy()
    design.graph.add_edge("sum", "x")  # a stray cycle (a broken file): still laid out
    assert set(layered_layout(design)) == {"x", "a", "b", "sum"}


def test_apply_layout_writes_the_positions_into_the_design():
    design = _branchy()
    apply_layout(design, column_spacing=100.0)
    assert design.node("sum").position[0] == 200.0
    assert {n.id: n.position for n in design} == layered_layout(design, column_spacing=100.0)
