"""The design file format: round trips, versions, migrations, aliases, atomic saves, bad files."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import io as dio
from engine.errors import DesignFormatError
from engine.graph import Design
from engine.io import dumps, load_design, loads, save_design
from engine.shapes import analyze
from resources import template_path
from tests.engine.builders import chain

MINIMAL = {
    "format": "deepwire.design",
    "version": 1,
    "name": "m",
    "nodes": [
        {"id": "in", "type": "Input", "params": {"shape": [4]}},
        {"id": "fc", "type": "Dense", "params": {"out_features": 2}},
    ],
    "edges": [{"source": "in", "target": "fc"}],
}


def test_minimal_hand_written_file_loads_with_defaults():
    design = loads(json.dumps(MINIMAL))
    assert [n.id for n in design] == ["in", "fc"]
    assert design.node("fc").type == "Linear"  # alias of a renamed type resolves on load
    assert design.networks == {"main": {"role": "model"}}
    assert analyze(design).valid
    again = loads(dumps(design))
    assert dumps(again) == dumps(design)


def test_save_load_round_trip_is_byte_for_byte(tmp_path):
    design = chain(
        ("in", "Input", {"shape": [1, 8, 8]}),
        ("conv", "Conv2d", {"out_channels": 4}),
        ("flat", "Flatten"),
        ("fc", "Linear", {"out_features": 10}),
    )
    design.node("conv").label = 'edge detector "A" — ünïcode'
    design.node("conv").position = (12.125, -3.5)
    design.data = {"source": "builtin", "name": "digits", "form": "image"}
    design.training = {"epochs": 3, "lr": 0.001}
    path = tmp_path / "d.json"
    save_design(design, path)
    first = path.read_bytes()
    save_design(load_design(path), path)
    assert path.read_bytes() == first
    loaded = load_design(path)
    assert loaded.node("conv").label == design.node("conv").label
    assert loaded.training == design.training


def test_newer_version_is_refused_with_a_clear_message():
    doc = dict(MINIMAL, version=99)
    with pytest.raises(DesignFormatError, match=r"version 99 is newer .* update Deepwire"):
        loads(json.dumps(doc), "future.json")


def test_migration_hook_upgrades_old_documents(monkeypatch):
    monkeypatch.setattr(dio, "FORMAT_VERSION", 2)
    monkeypatch.setattr(dio, "PLAIN_VERSION", 2)  # as if every design needed version 2
    monkeypatch.setattr(dio, "MIGRATIONS", {})

    @dio.migration(1)
    def rename_units(doc):
        for node in doc["nodes"]:
            if "units" in node.get("params", {}):
                node["params"]["out_features"] = node["params"].pop("units")
        return doc

    old = json.loads(json.dumps(MINIMAL))
    old["nodes"][1]["params"] = {"units": 7}
    design = loads(json.dumps(old))
    assert design.node("fc").params == {"out_features": 7}
    assert json.loads(dumps(design))["version"] == 2
    with pytest.raises(ValueError, match="exists already"):
        dio.migration(1)(rename_units)


def test_migration_gap_is_reported(monkeypatch):
    monkeypatch.setattr(dio, "FORMAT_VERSION", 3)
    monkeypatch.setattr(dio, "MIGRATIONS", {})
    with pytest.raises(DesignFormatError, match="no migration from format version 1"):
        loads(json.dumps(MINIMAL))


@pytest.mark.parametrize(
    ("text", "expect"),
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON: .* line 1"),
        ("[1, 2]", "must hold a JSON object at the top, got an array"),
        ('"hello"', "must hold a JSON object"),
        ('{"format": "other"}', "not a Deepwire design"),
        ('{"format": "deepwire.design"}', '"version" must be a positive integer'),
        ('{"format": "deepwire.design", "version": "1"}', '"version" must be a positive integer'),
        ('{"format": "deepwire.design", "version": 1, "nodes": {}}', '"nodes"'),
        (
            '{"format": "deepwire.design", "version": 1, "nodes": [{"id": "1x", "type": "ReLU"}]}',
            '"id" must be a name',
        ),
        (
            '{"format": "deepwire.design", "version": 1, "nodes": [{"id": "a", "type": 3}]}',
            '"type"',
        ),
        (
            '{"format": "deepwire.design", "version": 1, "nodes": [{"id": "a", "type": "ReLU"},'
            ' {"id": "a", "type": "ReLU"}]}',
            "used by two nodes",
        ),
        (
            '{"format": "deepwire.design", "version": 1, "nodes": [{"id": "a", "type": "ReLU",'
            ' "position": [1]}]}',
            '"position" must be',
        ),
        (
            '{"format": "deepwire.design", "version": 1, "edges": [{"source": "a", "target": "b"}]}',
            "is not a node id",
        ),
        (
            '{"format": "deepwire.design", "version": 1, "nodes": [{"id": "a", "type": "ReLU",'
            ' "params": {"x": NaN}}]}',
            "NaN is not allowed",
        ),
        ('{"format": "deepwire.design", "version": 1, "colour": "red"}', "colour"),
        ('{"format": "deepwire.design", "version": 1, "networks": {}}', '"networks" is empty'),
    ],
)
def test_malformed_files_give_one_clear_line(text, expect):
    with pytest.raises(DesignFormatError, match=expect) as info:
        loads(text, "broken.json")
    message = str(info.value)
    assert message.startswith("broken.json")
    assert "\n" not in message


def test_unknown_types_and_bad_params_load_and_become_problems():
    doc = json.loads(json.dumps(MINIMAL))
    doc["nodes"][1] = {"id": "fc", "type": "Quantum", "params": {"qubits": 3}}
    design = loads(json.dumps(doc))
    assert not analyze(design).valid
    assert dumps(loads(dumps(design))) == dumps(design)  # kept as written, editable later


def test_file_errors(tmp_path):
    with pytest.raises(DesignFormatError, match="no such file"):
        load_design(tmp_path / "missing.json")
    with pytest.raises(DesignFormatError, match="is a folder"):
        load_design(tmp_path)
    binary = tmp_path / "model.bin"
    binary.write_bytes(b"\x80\x03\xff\xfe")
    with pytest.raises(DesignFormatError, match="not UTF-8"):
        load_design(binary)


def test_loading_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    doc = json.loads(json.dumps(MINIMAL))
    doc["name"] = f"__import__('os').system('touch {marker}')"
    doc["nodes"][1]["label"] = "{{7*7}} ${HOME} `id`"
    design = loads(json.dumps(doc))
    assert design.name.startswith("__import__") and not marker.exists()


def test_failed_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.json"
    save_design(load_design(template_path("mlp")), path)
    good = path.read_bytes()

    def boom(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", boom)
    with pytest.raises(OSError):
        save_design(chain(("in", "Input", {"shape": [3]})), path)
    assert path.read_bytes() == good
    assert [p.name for p in tmp_path.iterdir()] == ["keep.json"]  # no temp file left


def test_save_keeps_permissions(tmp_path):
    path = tmp_path / "perm.json"
    save_design(Design(), path)
    os.chmod(path, 0o640)
    save_design(Design("again"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


# -- fuzzing -------------------------------------------------------------------------------------

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=8,
)
_type_ids = st.sampled_from(
    [
        "Input",
        "Linear",
        "Conv2d",
        "ReLU",
        "Add",
        "LSTM",
        "SOM",
        "Dense",
        "Nope",
        "",
        "Flatten",
        "Concatenate",
    ]
)
_ids = st.one_of(st.sampled_from(["a", "b", "c", "in", "x_1"]), st.text(max_size=5))
_node = st.fixed_dictionaries(
    {"id": _ids, "type": st.one_of(_type_ids, _json)},
    optional={
        "params": st.one_of(
            st.dictionaries(
                st.sampled_from(
                    ["shape", "out_features", "kernel_size", "p", "hidden_size", "rows", "dim"]
                ),
                _json,
                max_size=3,
            ),
            _json,
        ),
        "position": st.one_of(
            st.lists(
                st.floats(allow_nan=False, allow_infinity=False, width=32), min_size=2, max_size=2
            ),
            _json,
        ),
        "label": st.one_of(st.text(max_size=5), _json),
        "network": st.one_of(st.sampled_from(["main", "g"]), _json),
    },
)
_edge = st.fixed_dictionaries(
    {"source": _ids, "target": _ids}, optional={"port": st.one_of(st.integers(-2, 4), _json)}
)
_doc = st.fixed_dictionaries(
    {
        "format": st.sampled_from(["deepwire.design", "deepwire.design", "x"]),
        "version": st.one_of(st.just(1), st.just(1), _json),
    },
    optional={
        "nodes": st.one_of(st.lists(_node, max_size=6), _json),
        "edges": st.one_of(st.lists(_edge, max_size=6), _json),
        "networks": st.one_of(
            st.just({"main": {"role": "model"}}),
            st.dictionaries(st.text(max_size=4), _json, max_size=2),
        ),
        "name": _json,
        "data": _json,
        "training": _json,
    },
)


def _load_or_clear_error(text: str) -> None:
    try:
        design = loads(text, "fuzz.json")
    except DesignFormatError as exc:
        message = str(exc)
        assert message.startswith("fuzz.json") and "\n" not in message and len(message) < 400
        return
    analysis = analyze(design)  # validation never crashes
    for problem in analysis.problems:
        assert problem.message and problem.fix
    assert dumps(loads(dumps(design))) == dumps(design)


@settings(max_examples=1000, deadline=None, suppress_health_check=list(HealthCheck))
@given(_doc)
def test_fuzzed_design_documents_never_crash(doc):
    _load_or_clear_error(json.dumps(doc))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_fuzzed_mutations_of_templates_never_crash(data):
    stem = data.draw(st.sampled_from(["mlp", "cnn", "gan", "lstm"]))
    text = template_path(stem).read_text(encoding="utf-8")
    start = data.draw(st.integers(0, len(text) - 1))
    stop = data.draw(st.integers(start, min(len(text), start + 20)))
    junk = data.draw(st.text(max_size=6))
    _load_or_clear_error(text[:start] + junk + text[stop:])


@pytest.mark.parametrize(
    "doc",
    [
        {"networks": {"A\n": None}},
        {"networks": {"A\n": {"role": "model"}}},
        {"nodes": [{"id": "a\n", "type": "ReLU"}]},
    ],
)
def test_a_name_with_a_trailing_newline_is_refused_in_one_line(doc):
    """``$`` matches before a final newline: names are checked to their very end (found by
    test_fuzzed_design_documents_never_crash)."""
    with pytest.raises(DesignFormatError) as info:
        loads(json.dumps({"format": "deepwire.design", "version": 1, **doc}), "f.json")
    assert "\n" not in str(info.value) and "letters" in str(info.value)
