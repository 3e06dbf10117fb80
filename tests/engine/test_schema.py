"""engine.schema: the one declarative mechanism behind the design file's, the data section's and
the training section's checks, and the exact one-line messages each section gives."""

from __future__ import annotations

import pytest

from engine.data.spec import normalize_spec
from engine.errors import DataError, DesignFormatError, TrainingError
from engine.io import loads
from engine.schema import Choice, Document, Flag, Listing, Number, Rule, Schema, Typed
from engine.training.config import TrainConfig

LISTING = Schema(
    {
        "mode": Choice(default="a", choices=("a", "b")),
        "rate": Number(default=0.5, low=0.0, high=1.0, low_open=True),
        "count": Number(low=1, high=10, integer=True),
        "on": Flag(default=True),
        "pair": Rule(test=lambda v: isinstance(v, list) and len(v) == 2, text="two values"),
    },
    Listing(TrainingError, "section"),
)


def test_fields_read_their_default_and_convert():
    assert LISTING.get({}, "mode") == "a"
    assert LISTING.get({"rate": 1}, "rate") == 1.0 and isinstance(
        LISTING.get({"rate": 1}, "rate"), float
    )
    assert LISTING.get({"count": 3}, "count") == 3
    assert LISTING.get({}, "count", 4) == 4  # a default given where it is read
    assert LISTING.defaults() == {"mode": "a", "rate": 0.5, "on": True}
    assert LISTING.keys == ("mode", "rate", "count", "on", "pair")


@pytest.mark.parametrize(
    ("section", "key", "message"),
    [
        ({"mode": "c"}, "mode", "section: mode is 'c'; allowed: a | b"),
        ({"rate": 0}, "rate", "section: rate is 0; allowed: a number above 0 to 1"),
        ({"rate": True}, "rate", "section: rate is True; allowed: a number above 0 to 1"),
        ({"count": 2.0}, "count", "section: count is 2.0; allowed: an integer from 1 to 10"),
        ({}, "count", "section: count is missing; allowed: an integer from 1 to 10"),
        ({"on": 1}, "on", "section: on is 1; allowed: true | false"),
        ({"pair": [1]}, "pair", "section: pair is [1]; allowed: two values"),
    ],
)
def test_a_listing_names_the_key_the_value_and_what_is_allowed(section, key, message):
    with pytest.raises(TrainingError) as err:
        LISTING.get(section, key)
    assert str(err.value) == message


def test_unknown_keys_list_the_known_ones_in_order():
    with pytest.raises(TrainingError) as err:
        LISTING.check_keys({"mode": "a", "speed": 1})
    assert str(err.value) == (
        "section: 'speed' is not a known key; allowed: mode, rate, count, on, pair"
    )
    nested = Schema(LISTING.fields, LISTING.dialect, path="inner")
    with pytest.raises(TrainingError, match=r"^section: inner\.speed is not a known key"):
        nested.check_keys({"speed": 1})
    with pytest.raises(TrainingError, match=r"^section: inner\.mode is 'c'"):
        nested.get({"mode": "c"}, "mode")


def test_a_document_names_the_place_in_the_file():
    node = Schema(
        {"type": Typed(types=str), "params": Typed(default={}, types=dict)},
        Document(DesignFormatError, "<design>"),
    )
    with pytest.raises(DesignFormatError) as err:
        node.get({"type": True}, "type", where="f.json: nodes[2]")
    assert str(err.value) == 'f.json: nodes[2]: "type" must be a string, got true'
    with pytest.raises(DesignFormatError) as err:
        node.get({"params": []}, "params", where="f.json: node 'a'")
    assert str(err.value) == "f.json: node 'a': \"params\" must be an object, got an array"
    with pytest.raises(DesignFormatError) as err:
        node.check_keys({"colour": 1})
    assert str(err.value) == '<design>: unknown field "colour" (allowed: type, params)'
    assert node.at("x.json").dialect.prefix == "x.json" and node.dialect.prefix == "<design>"


# The exact messages of the three sections (as they were before they shared the mechanism).
@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"optimizer": "adamx"},
            "training: optimizer is 'adamx'; allowed: sgd | adam | adamw | rmsprop",
        ),
        ({"lr": 0}, "training: lr is 0; allowed: a number above 0 to 10"),
        ({"seed": -1}, "training: seed is -1; allowed: an integer from 0 to 4.29497e+09"),
        ({"grad_clip": 0}, "training: grad_clip is 0; allowed: a number above 0 to 1e+06 or null"),
        (
            {"scheduler": {"type": "step", "gama": 0.5}},
            "training: scheduler.gama is not a known key; "
            "allowed: type, step_size, gamma, patience, factor, min_lr",
        ),
        (
            {"early_stopping": {"patience": 0}},
            "training: early_stopping.patience is 0; allowed: an integer from 1 to 1e+06",
        ),
        (
            {"early_stopping": 3},
            "training: early_stopping is 3; allowed: null or an object like "
            '{"patience": 10, "restore_best": true}',
        ),
        (
            {"betas": [0.9, 1]},
            "training: betas is [0.9, 1]; allowed: two numbers in [0, 1), e.g. [0.9, 0.999]",
        ),
        (
            {"loss": "mse", "task": "classification"},
            "training: loss 'mse' does not fit task 'classification'; allowed: cross_entropy | "
            "bce_with_logits",
        ),
    ],
)
def test_training_messages(section, message):
    with pytest.raises(TrainingError) as err:
        TrainConfig.from_dict(section)
    assert str(err.value) == message


BUILTIN = {"source": "builtin", "name": "iris"}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"source": "sql"},
            "data spec: 'source' is 'sql'; allowed: builtin | csv | npy | npz | image_folder",
        ),
        (
            {**BUILTIN, "colour": 1},
            "data spec: 'colour' is not a known key; allowed: source, task, "
            "split, preprocess, augment, name, form, options",
        ),
        (
            {"source": "builtin"},
            "data spec: 'name' is missing; allowed: a builtin dataset name (see BUILTIN_DATASETS)",
        ),
        (
            {**BUILTIN, "split": {"val": True}},
            "data spec: split.val is True; allowed: a number from 0 to 0.9",
        ),
        (
            {**BUILTIN, "preprocess": {"smooth_window": 2.5}},
            "data spec: preprocess.smooth_window is 2.5; allowed: an integer from 0 to 1000",
        ),
        (
            {"source": "csv", "path": "a.csv", "task": "regression"},
            "data spec: 'target' is missing; allowed: the name of the column to predict",
        ),
        (
            {"source": "csv", "path": ""},
            "data spec: 'path' is ''; allowed: a file or folder path relative to the design file",
        ),
        (
            {"source": "npy", "path": "x.npy", "target": "first"},
            "data spec: 'target' is 'first'; allowed: none | last",
        ),
        (
            {"source": "image_folder", "path": "d", "size": [0, 3]},
            "data spec: 'size' is [0, 3]; allowed: [height, width] in pixels, e.g. [28, 28]",
        ),
    ],
)
def test_data_messages(spec, message):
    with pytest.raises(DataError) as err:
        normalize_spec(spec)
    assert str(err.value) == message


def test_data_defaults_are_filled_in():
    spec = normalize_spec({"source": "npz", "path": "a.npz"})
    assert (spec["x_key"], spec["y_key"], spec["task"]) == ("x", "y", None)
    assert spec["split"] == {"val": 0.2, "test": 0.0, "stratify": True}
    assert spec["preprocess"]["outlier_threshold"] == 3.0


HEAD = '{"format": "deepwire.design", "version": 1'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"format": "deepwire.design", "version": true}',
            'f.json: "version" must be a positive integer, got true',
        ),
        (HEAD + ', "name": 3}', 'f.json: "name" must be a string, got a number'),
        (HEAD + ', "nodes": {}}', 'f.json: "nodes" must be an array [...], got an object'),
        (HEAD + ', "nodes": [3]}', "f.json: nodes[0]: a node must be an object, got a number"),
        (
            HEAD + ', "nodes": [{"id": "a", "type": "ReLU", "x": 1}]}',
            "f.json: nodes[0]: unknown "
            'field "x" (allowed: id, type, label, network, position, params)',
        ),
        (
            HEAD + ', "nodes": [{"id": "a"}]}',
            "f.json: node 'a': \"type\" must be a string, got null",
        ),
        (
            HEAD + ', "nodes": [{"id": "a", "type": "ReLU", "position": [1, true]}]}',
            "f.json: node 'a': \"position\" must be [x, y] numbers, got [1, true]",
        ),
        (
            HEAD + ', "edges": [{"source": "a", "target": "b", "port": 1024}]}',
            'f.json: edges[0]: "port" must be an integer from 0 to 1023, got 1024',
        ),
        (
            HEAD + ', "networks": {"a": {"rol": 1}}}',
            'f.json: networks.a: unknown field "rol" (allowed: role)',
        ),
    ],
)
def test_design_file_messages(text, message):
    with pytest.raises(DesignFormatError) as err:
        loads(text, "f.json")
    assert str(err.value) == message
