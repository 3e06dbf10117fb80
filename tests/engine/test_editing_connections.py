"""Connection rules (engine/editing/connections.py) over a design and its analysis, no Qt."""

from __future__ import annotations

import pytest

from engine.editing.connections import can_connect
from engine.graph import Design, Edge
from engine.io import load_design
from engine.shapes import analyze
from resources import template_path
from tests.engine.builders import add, chain


def _mlp() -> Design:
    design = chain(
        ("x", "Input", {"shape": [8]}),
        ("fc1", "Linear", {"out_features": 16}),
        ("act", "ReLU"),
        ("fc2", "Linear", {"out_features": 3}),
    )
    return add(design, "spare", "Linear", {"out_features": 5})


def _ask(design: Design, *args, **kwargs) -> tuple[bool, str]:
    return can_connect(design, analyze(design), *args, **kwargs)


@pytest.mark.parametrize(
    "source,target,port,reason",
    [
        ("fc2", "fc1", 0, "input 1 of 'fc1' is already fed by 'x'; disconnect it first"),
        ("fc2", "x", 0, "'x' is an Input; it takes no incoming edges"),
        ("fc2", "fc2", 0, "a layer cannot feed its own input"),
        ("fc2", "fc1", 1, "Linear has 1 input port(s); port 1 is none"),
        ("fc2", "ghost", 0, "both ends must be layers of this design"),
        ("x", "fc1", 0, "'x' already feeds 'fc1' there"),
    ],
)
def test_refusals_say_why(source, target, port, reason):
    assert _ask(_mlp(), source, target, port) == (False, reason)


def test_a_free_input_with_fitting_shapes_is_allowed():
    assert _ask(_mlp(), "act", "spare", 0) == (True, "")


def test_replace_treats_a_fed_input_as_free_and_judges_the_new_shapes():
    design = _mlp()
    assert _ask(design, "x", "fc2", 0, replace=True) == (True, "")
    assert _ask(design, "x", "fc2", 0)[0] is False  # without replace the input is taken
    assert _ask(design, "x", "fc1", 0, replace=True)[0] is False  # same wire again
    conv = chain(("img", "Input", {"shape": [1, 8, 8]}), ("conv", "Conv2d", {"out_channels": 4}))
    add(conv, "vec", "Input", {"shape": [4]})
    ok, message = _ask(conv, "vec", "conv", 0, replace=True)
    assert not ok and "'vec'" in message


def test_cycles_are_refused_also_with_precomputed_ancestors():
    design = chain(("x", "Input", {"shape": [4]}), ("add", "Add"), ("act", "ReLU"))
    ok, message = _ask(design, "act", "add", 1)
    assert not ok and "would make a cycle" in message
    ok, message = _ask(design, "act", "add", 1, ancestors={"x", "add"})
    assert not ok and "would make a cycle" in message
    assert _ask(design, "x", "add", 1) == (False, "'x' already feeds 'add'")


def test_shape_mismatch_names_the_fix():
    design = chain(
        ("img", "Input", {"shape": [1, 8, 8]}),
        ("conv", "Conv2d", {"out_channels": 4}),
        ("relu", "ReLU"),
    )
    add(design, "dense", "Linear", {"out_features": 10})
    ok, message = _ask(design, "relu", "dense", 0)
    assert not ok and "Flatten" in message and "'relu' gives (N, 4, 8, 8)" in message


def test_a_merge_is_judged_once_it_has_enough_inputs():
    design = chain(("x", "Input", {"shape": [4]}), ("fc", "Linear", {"out_features": 3}))
    add(design, "y", "Input", {"shape": [2, 4]})
    add(design, "cat", "Concatenate", {})
    assert _ask(design, "fc", "cat", 0) == (True, "")  # one input: too early to judge
    design.add_edge(Edge("fc", "cat", 0))
    ok, message = _ask(design, "y", "cat", 1)
    assert not ok and "'y'" in message


def test_networks_stay_apart():
    design = load_design(template_path("gan"))
    ok, message = _ask(design, "g_fc1", "d_act1", 0)
    assert not ok and "edges stay within one network" in message


def test_the_design_is_not_changed():
    design = _mlp()
    before = sorted((e.source, e.target, e.port) for e in design.edges)
    _ask(design, "act", "spare", 0)
    _ask(design, "fc2", "fc1", 0, replace=True)
    assert sorted((e.source, e.target, e.port) for e in design.edges) == before
    assert Edge("act", "spare", 0) not in design.edges
