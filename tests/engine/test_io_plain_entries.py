"""Loading reads plainly valid node and edge entries on a short path (big designs open fast);
every entry must load, or be refused, exactly as the field-by-field checks do."""

from __future__ import annotations

import json

import pytest

from engine import io
from engine.errors import DesignFormatError

NODES = [
    {"id": "x", "type": "Input", "params": {"shape": [4]}},
    {"id": "x", "type": "Input", "position": [1, 2.5], "label": "in", "network": "main"},
    {"id": "x", "type": "Input", "params": {"a": 1, "b": "s", "c": None, "d": True, "e": 0.5}},
    {"id": "x", "type": "Input", "params": {"deep": [[[1.0]]]}},
    {"id": "x", "type": "Input", "params": {"bad": [float("nan")]}},
    {"id": "x", "type": "Input", "params": {"bad": float("inf")}},
    {"id": "x", "type": "Input", "params": []},
    {"id": "x", "type": "Input", "position": [1, True]},
    {"id": "x", "type": "Input", "position": [1, float("inf")]},
    {"id": "x", "type": "Input", "position": [10**350, 0]},  # valid JSON; no float holds it
    {"id": "x", "type": "Input", "position": [1, 2, 3]},
    {"id": "x", "type": "Input", "position": "1,2"},
    {"id": "x", "type": "Input", "label": 3},
    {"id": "x", "type": "Input", "network": "other"},
    {"id": "x", "type": "Input", "network": 1},
    {"id": "x", "type": 7},
    {"id": "1x", "type": "Input"},
    {"id": "x\n", "type": "Input"},
    {"id": None, "type": "Input"},
    {"type": "Input"},
    {"id": "x", "type": "Input", "colour": "red"},
    {"id": "x", "type": "dense"},
    ["x", "Input"],
    "x",
]
EDGES = [
    {"source": "x", "target": "y"},
    {"source": "x", "target": "y", "port": 1},
    {"source": "x", "target": "y", "port": 1.0},
    {"source": "x", "target": "y", "port": True},
    {"source": "x", "target": "y", "port": -1},
    {"source": "x", "target": "y", "port": 1024},
    {"source": "x", "target": "nowhere"},
    {"source": 3, "target": "y"},
    {"target": "y"},
    {"source": "x", "target": "y", "weight": 2},
    ["x", "y"],
]


def _outcome(text: str) -> str:
    try:
        design = io.loads(text, "f.json")
    except DesignFormatError as exc:
        return "refused: " + str(exc)
    return io.dumps(design)


def _both_ways(monkeypatch, doc: dict) -> tuple[str, str]:
    text = json.dumps(doc, allow_nan=True)
    fast = _outcome(text)
    with monkeypatch.context() as m:  # every entry through the field-by-field checks
        m.setattr(io, "_plain_node", lambda raw, network: None)
        m.setattr(io, "_EDGE_KEYS", frozenset())
        checked = _outcome(text)
    return fast, checked


@pytest.mark.parametrize("entry", NODES, ids=range(len(NODES)))
def test_a_node_entry_loads_or_is_refused_as_the_checks_say(monkeypatch, entry):
    doc = {"format": "deepwire.design", "version": 1, "nodes": [entry]}
    fast, checked = _both_ways(monkeypatch, doc)
    assert fast == checked
    twice = {"format": "deepwire.design", "version": 1, "nodes": [entry, entry]}
    fast, checked = _both_ways(monkeypatch, twice)
    assert fast == checked


@pytest.mark.parametrize("entry", EDGES, ids=range(len(EDGES)))
def test_an_edge_entry_loads_or_is_refused_as_the_checks_say(monkeypatch, entry):
    nodes = [{"id": "x", "type": "Input"}, {"id": "y", "type": "Add"}]
    doc = {"format": "deepwire.design", "version": 1, "nodes": nodes, "edges": [entry]}
    fast, checked = _both_ways(monkeypatch, doc)
    assert fast == checked
    doc["edges"] = [entry, entry]
    fast, checked = _both_ways(monkeypatch, doc)
    assert fast == checked


def test_the_short_path_is_taken_for_plain_entries(monkeypatch):
    calls = []
    monkeypatch.setattr(io, "_checked_node", lambda *a: calls.append(a))
    monkeypatch.setattr(io, "_checked_edge", lambda *a: calls.append(a))
    doc = {
        "format": "deepwire.design",
        "version": 1,
        "nodes": [{"id": "x", "type": "Input"}, {"id": "y", "type": "ReLU"}],
        "edges": [{"source": "x", "target": "y"}],
    }
    design = io.loads(json.dumps(doc))
    assert [n.id for n in design] == ["x", "y"] and len(design.edges) == 1 and not calls
