"""Checkpoints are hostile input: a pickle that runs code is refused by the weights-only loader,
and a file that loads but has the wrong structure (a design that is a number, no design, a list
where state dicts belong, version "1" or -5, ...) is refused by one check in
``engine.training.checkpoint`` with one line naming the file and what is wrong: exit code 2 from
``export --checkpoint``, never a traceback."""

from __future__ import annotations

import functools
import io
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from engine.compile import compile_design
from engine.errors import DesignFormatError
from engine.io import dumps, save_design
from engine.training.checkpoint import checkpoint_from_modules, load_checkpoint, save_checkpoint
from tests.engine.builders import chain
from tests.engine.hostile import RunsCode, fuzz_settings
from tests.helpers import export_argv


def tiny_design():
    return chain(
        ("x", "Input", {"shape": [4]}), ("fc", "Linear", {"out_features": 3}), ("out", "Output")
    )


@functools.cache
def _saved_bytes() -> bytes:
    """What save_checkpoint writes for a tiny MLP after two epochs."""
    design = tiny_design()
    torch.manual_seed(0)
    ckpt = checkpoint_from_modules(
        design,
        {"main": compile_design(design)},
        epoch=2,
        metrics={"val_loss": 0.5},
        data_info={"input_shape": [4]},
    )
    with tempfile.TemporaryDirectory() as folder:
        save_checkpoint(Path(folder) / "c.pt", ckpt)
        return (Path(folder) / "c.pt").read_bytes()


def good_payload() -> dict:
    return torch.load(io.BytesIO(_saved_bytes()), weights_only=True)


def write(path: Path, payload) -> Path:
    torch.save(payload, path)
    return path


def changed(**fields) -> dict:
    payload = good_payload()
    for key, value in fields.items():
        if value is _DROP:
            payload.pop(key)
        else:
            payload[key] = value
    return payload


_DROP = object()

MALFORMED = [
    ("design-is-an-int", {"design_json": 5}, "its design is 5, not design text"),
    ("no-design", {"design_json": _DROP}, "it holds no design"),
    ("design-not-json", {"design_json": "{nope"}, "(its design): not valid JSON"),
    ("design-not-deepwire", {"design_json": "[1, 2]"}, "(its design): a design file must hold"),
    ("state-dicts-list", {"state_dicts": [1, 2]}, '"state_dicts" is a list'),
    ("state-dict-of-lists", {"state_dicts": {"main": [torch.ones(1)]}}, '"state_dicts"'),
    ("state-dict-of-ints", {"state_dicts": {"main": {"w": 1}}}, '"state_dicts"'),
    ("no-state-dicts", {"state_dicts": _DROP}, '"state_dicts" is None'),
    ("unknown-network", {"state_dicts": {"other": {}}}, "network 'other'"),
    ("version-text", {"version": "1"}, "\"version\" is the text '1'"),
    ("version-negative", {"version": -5}, '"version" is -5'),
    ("version-bool", {"version": True}, '"version" is True'),
    ("version-missing", {"version": _DROP}, '"version" is None'),
    ("epoch-text", {"epoch": "3"}, "\"epoch\" is the text '3'"),
    ("epoch-negative", {"epoch": -1}, '"epoch" is -1'),
    ("metrics-list", {"metrics": [1.0]}, '"metrics" is a list'),
    ("metrics-text", {"metrics": {"val_loss": "low"}}, '"metrics"'),
    ("data-info-list", {"data_info": [1]}, '"data_info" is a list'),
    # found by the fuzz test: `value or {}` asked a tensor for its truth and raised
    ("data-info-tensor", {"data_info": torch.ones(2)}, '"data_info"'),
    ("metrics-tensor", {"metrics": torch.ones(2)}, '"metrics"'),
    ("trainer-state-tensor", {"trainer_state": torch.ones(2)}, '"trainer_state"'),
    ("class-names-int", {"data_info": {"class_names": 3}}, '"class_names" is 3'),
    ("input-shape-text", {"data_info": {"input_shape": "4"}}, '"input_shape"'),
    ("preprocessor-list", {"preprocessor": [1]}, '"preprocessor" is a list'),
    ("trainer-state-list", {"trainer_state": [1]}, '"trainer_state" is a list'),
    ("optimizers-list", {"trainer_state": {"optimizers": [1]}}, '"optimizers" is a list'),
    ("step-text", {"trainer_state": {"step": "9"}}, "\"step\" is the text '9'"),
    (
        "early-stopping-text",
        {"trainer_state": {"early_stopping": {"best_epoch": "x"}}},
        '"early_stopping"',
    ),
]


@pytest.mark.parametrize(
    "fields, message", [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_checkpoint_is_one_line_naming_the_file(fields, message, tmp_path):
    path = write(tmp_path / "bad.pt", changed(**fields))
    with pytest.raises(DesignFormatError) as info:
        load_checkpoint(path)
    text = str(info.value)
    assert "\n" not in text and str(path) in text and message in text, text


@pytest.mark.parametrize(
    "fields, message", [m[1:] for m in MALFORMED[:12]], ids=[m[0] for m in MALFORMED[:12]]
)
def test_export_of_a_malformed_checkpoint_exits_2_with_one_line(
    fields, message, tmp_path, run_main
):
    save_design(tiny_design(), tmp_path / "tiny.json")
    ckpt = write(tmp_path / "bad.pt", changed(**fields))
    code, out, err = run_main(export_argv(tmp_path / "tiny.json", ckpt, "pt2", tmp_path / "m.pt2"))
    assert code == 2, (out, err)
    assert len(err.strip().splitlines()) == 1 and message in err and "bad.pt" in err, err
    assert "Traceback" not in err and not (tmp_path / "m.pt2").exists()


def test_good_checkpoint_still_loads(tmp_path):
    ckpt = load_checkpoint(write(tmp_path / "good.pt", good_payload()))
    assert ckpt.epoch == 2 and ckpt.metrics == {"val_loss": 0.5}
    assert ckpt.matches(tiny_design()) and set(ckpt.state_dicts) == {"main"}


def test_checkpoint_whose_pickle_runs_code_is_refused(tmp_path):
    marker = tmp_path / "code-ran"
    path = write(tmp_path / "evil.pt", {**good_payload(), "metrics": RunsCode(marker)})
    with pytest.raises(DesignFormatError, match="not a readable Deepwire checkpoint") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value) and not marker.exists()


# -- fuzz: random values in every field, hostile objects, truncated files ----------------------

_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10**12),
    st.floats(),
    st.text(max_size=6),
    st.just(torch.ones(2)),
)
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.text(max_size=5), inner, max_size=3),
        st.dictionaries(st.integers(0, 3), inner, max_size=2),
    ),
    max_leaves=8,
)
_fields = st.sampled_from(
    [
        "format",
        "version",
        "design_json",
        "state_dicts",
        "preprocessor",
        "data_info",
        "epoch",
        "metrics",
        "trainer_state",
    ]
)


@fuzz_settings(40)
@given(
    edits=st.dictionaries(
        _fields, st.one_of(_value, st.just("hostile"), st.just(dumps(tiny_design()))), max_size=3
    ),
    cut=st.one_of(st.none(), st.integers(0, 400)),
)
def test_fuzzed_checkpoints_load_or_end_in_one_line_and_never_run_code(
    edits, cut, tmp_path_factory
):
    folder = tmp_path_factory.mktemp("fuzz")
    marker = folder / "code-ran"
    payload = good_payload()
    for key, value in edits.items():
        payload[key] = RunsCode(marker) if value == "hostile" else value
    buf = io.BytesIO()
    torch.save(payload, buf)
    data = buf.getvalue()
    path = folder / "f.pt"
    path.write_bytes(data[:cut] if cut is not None else data)
    try:
        ckpt = load_checkpoint(path)
    except DesignFormatError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
    else:  # what loads is usable by every consumer
        assert isinstance(ckpt.epoch, int) and ckpt.design is not None
        ckpt.matches(tiny_design())
        assert all(
            isinstance(t, torch.Tensor) for sd in ckpt.state_dicts.values() for t in sd.values()
        )
    assert not marker.exists()
