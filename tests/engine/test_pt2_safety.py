"""Importing a ``.pt2`` never runs code hidden in it.

Each hostile archive is a real Deepwire export with one thing added or changed: a pickle whose
loading creates a marker file, compiled code, a symbolic size that sympy would ``eval``, a carriage
return in a stack trace, a graph that calls ``os.system``. Every one is refused with one line that
names the archive member, nothing is written, and the marker never appears. The clean export still
imports.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import ExportError
from engine.importer import import_model
from engine.importer.safe_pt2 import load_program
from tests.engine.hostile import (
    deepwire_pt2,
    evil_pickle,
    evil_torch_save,
    fuzz_settings,
    model_nodes,
    rewrite,
)

MODEL = "models/model.json"
WEIGHTS = "data/weights/model_weights_config.json"
CONSTANTS = "data/constants/model_constants_config.json"


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    return deepwire_pt2(tmp_path_factory.mktemp("clean"))


def _pickled(key: str, path_name: str):
    """An edit of a weights/constants config: entry ``key`` stored as a pickle at
    ``path_name``."""

    def edit(config):
        config["config"][key] = {
            "path_name": path_name,
            "is_param": False,
            "use_pickle": True,
            "tensor_meta": None,
        }
        return config

    return edit


def _sympy_eval(marker: Path):
    payload = f"__import__('builtins').exec(\"open({str(marker)!r}, 'w').close()\")"

    def edit(model):
        text = json.dumps(model)
        old = next(s for s in _strings(model) if s.startswith("Symbol("))
        return json.loads(text.replace(json.dumps(old), json.dumps(f"{payload} or {old}"), 1))

    return edit


def _carriage_return(marker: Path):
    def edit(model):
        for node in model_nodes(model):
            node["metadata"]["stack_trace"] = (
                f'File "a.py", line 1, in f\nx\ropen({str(marker)!r}, "w").close()\n'
            )
        return model

    return edit


def _calls_system(model):
    model_nodes(model)[-1]["target"] = "torch.os.system"
    return model


def _strings(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


# (id, how to build the archive from (clean, marker) → rewrite kwargs, member named in the error)
HOSTILE = [
    (
        "legacy-weights-pickle",
        lambda m: {"extra": {"data/weights/model.pt": evil_torch_save(m)}},
        "data/weights/model.pt",
    ),
    (
        "sample-inputs-pickle",
        lambda m: {
            "replace": {"data/sample_inputs/model.pt": evil_torch_save(m, lambda x: ((x,), {}))}
        },
        "data/sample_inputs/model.pt",
    ),
    (
        "bare-pickle-protocol-0",
        lambda m: {"extra": {"data/weights/model.pt": evil_pickle(m, 0)}},
        "data/weights/model.pt",
    ),
    (
        "pickled-weight",
        lambda m: {
            "extra": {"data/weights/evil_0": evil_torch_save(m)},
            "edit_json": {WEIGHTS: _pickled("net.extra", "evil_0")},
        },
        "data/weights/evil_0",
    ),
    (
        "opaque-constant",
        lambda m: {
            "extra": {"data/constants/opaque_obj_0": evil_pickle(m)},
            "edit_json": {CONSTANTS: _pickled("hidden", "opaque_obj_0")},
        },
        "data/constants/opaque_obj_0",
    ),
    (
        "aotinductor",
        lambda m: {"extra": {"data/aotinductor/model/model.so": b"\x7fELF"}},
        "data/aotinductor/model/model.so",
    ),
    ("sympy-eval", lambda m: {"edit_json": {MODEL: _sympy_eval(m)}}, MODEL),
    ("carriage-return", lambda m: {"edit_json": {MODEL: _carriage_return(m)}}, MODEL),
    ("graph-calls-os-system", lambda m: {"edit_json": {MODEL: _calls_system}}, MODEL),
    (
        "unknown-member",
        lambda m: {"extra": {"notes/readme.bin": evil_pickle(m)}},
        "notes/readme.bin",
    ),
]


@pytest.mark.parametrize("build, member", [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_hostile_archive_is_refused_by_the_import_command(build, member, clean, tmp_path, run_main):
    marker = tmp_path / "code-ran"
    archive = rewrite(clean, tmp_path / "stealth.pt2", **build(marker))
    out = tmp_path / "out" / "net.json"
    out.parent.mkdir()
    code, stdout, err = run_main(["import", str(archive), "--output", str(out)])
    assert not marker.exists(), "loading the archive ran code from it"
    assert code == 1, (stdout, err)
    assert len(err.strip().splitlines()) == 1, err
    assert "refused" in err and f"archive/{member}" in err, err
    assert "Traceback" not in err and list(out.parent.iterdir()) == []


def test_stealth_archive_would_run_code_in_torch_export_load(clean, tmp_path):
    """The threat is real: torch.export.load itself runs the legacy-weights pickle."""
    marker = tmp_path / "code-ran"
    archive = rewrite(
        clean, tmp_path / "stealth.pt2", extra={"data/weights/model.pt": evil_torch_save(marker)}
    )
    try:
        torch.export.load(str(archive))
    except Exception:  # noqa: BLE001 - only whether it ran code matters here
        pass
    assert marker.exists()


def test_deepwire_export_still_imports(clean, tmp_path):
    result = import_model(clean, tmp_path / "back.json")
    assert [n.type for n in result.design] == ["Input", "Linear", "ReLU", "Output"]
    assert result.max_difference <= 1e-6 and result.checkpoint_path.is_file()


def test_torch_export_save_archives_with_pickled_tensors_still_load(tmp_path):
    """torch pickles some tensors (non-contiguous or other special ones); those only need
    tensors and plain values, so the weights-only check accepts them."""
    archive = tmp_path / "clean.pt2"
    model = torch.nn.Sequential(torch.nn.Linear(4, 3)).eval()
    torch.export.save(torch.export.export(model, (torch.randn(2, 4),)), archive)
    honest = evil_torch_save(
        tmp_path / "unused", lambda _: torch.nn.Parameter(torch.arange(12.0).reshape(3, 4))
    )

    def pickled(config):
        assert config["config"]["0.weight"]["path_name"] == "weight_0"
        config["config"]["0.weight"]["use_pickle"] = True
        return config

    rewrite(
        archive,
        tmp_path / "pickled.pt2",
        replace={"data/weights/weight_0": honest},
        edit_json={WEIGHTS: pickled},
    )
    program = load_program(tmp_path / "pickled.pt2")
    assert torch.equal(program.state_dict["0.weight"], torch.arange(12.0).reshape(3, 4))


def test_symbolic_sizes_torch_writes_pass_the_expression_check(tmp_path):
    """A dynamic length through a strided Conv1d gives Add/Mul/Max/FloorDiv sizes: accepted."""
    model = torch.nn.Sequential(
        torch.nn.Conv1d(2, 3, 5, stride=2),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool1d(1),
        torch.nn.Flatten(),
    ).eval()
    dims = {0: torch.export.Dim("b", min=1, max=64), 2: torch.export.Dim("L", min=8, max=512)}
    program = torch.export.export(model, (torch.randn(2, 2, 20),), dynamic_shapes=(dims,))
    torch.export.save(program, tmp_path / "conv.pt2")
    loaded = load_program(tmp_path / "conv.pt2")
    x = torch.randn(3, 2, 33)
    torch.testing.assert_close(loaded.module()(x), model(x))


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "not a .pt2 archive"),
        (b"PK\x05\x06" + b"\0" * 18, "not a .pt2 archive"),
        (b"not a zip at all", "not a .pt2 archive"),
    ],
)
def test_non_archives_get_one_line(data, message, tmp_path):
    path = tmp_path / "x.pt2"
    path.write_bytes(data)
    with pytest.raises(ExportError, match=message) as info:
        load_program(path)
    assert "\n" not in str(info.value) and str(path) in str(info.value)


# -- fuzz: random hostile members, names and symbolic sizes ---------------------------------------

_members = st.sampled_from(
    [
        "data/weights/model.pt",
        "data/sample_inputs/model.pt",
        "data/weights/weight_0",
        "data/constants/model.pt",
        "extra/x",
        "models/model.json",
        "byteorder",
        "data/weights/zz",
        "data/aotinductor/m/x.so",
    ]
)
_payloads = st.one_of(
    st.sampled_from(["torch-save", "pickle-0", "pickle-2", "pickle-5"]), st.binary(max_size=64)
)
_exprs = st.one_of(
    st.text(alphabet="()'\",.=_*+-/[]: abcdefghiklmnoprstuvwxyzSIMFE0123456789\r\n", max_size=60),
    st.sampled_from(
        [
            "__import__('os')",
            "Symbol('s0').__class__",
            "lambda: 1",
            "Integer(9)**99",
            "Symbol('s0', positive=True)[0]",
            "getattr(Symbol, 'x')",
            "exec('1')",
        ]
    ),
)


@fuzz_settings(30)
@given(member=_members, payload=_payloads, expr=st.one_of(st.none(), _exprs))
def test_fuzzed_archives_end_in_one_line_or_load_and_never_run_code(
    clean, tmp_path_factory, member, payload, expr
):
    folder = tmp_path_factory.mktemp("fuzz")
    marker = folder / "code-ran"
    if isinstance(payload, str):
        data = (
            evil_torch_save(marker)
            if payload == "torch-save"
            else evil_pickle(marker, int(payload.split("-")[1]))
        )
    else:
        data = payload
    edits = {}
    if expr is not None:

        def edit(model):
            text = json.dumps(model)
            old = next(s for s in _strings(model) if s.startswith("Symbol("))
            return json.loads(text.replace(json.dumps(old), json.dumps(expr), 1))

        edits[MODEL] = edit
    replace = {member: data} if member != MODEL or expr is None else {}
    archive = rewrite(clean, folder / "fuzz.pt2", replace=replace, edit_json=edits)
    try:
        program = load_program(archive)
    except ExportError as exc:
        assert "\n" not in str(exc).strip() and str(archive) in str(exc)
    else:
        assert isinstance(program, torch.export.ExportedProgram)
    assert not marker.exists()


def test_archive_bytes_are_read_once(clean, tmp_path, monkeypatch):
    """What was checked is what torch loads: the archive goes to torch.export.load as the bytes
    that were checked, never re-read from a path that could have changed in between."""
    seen = []
    real = torch.export.load

    def spy(f, *args, **kwargs):
        seen.append(f)
        return real(f, *args, **kwargs)

    monkeypatch.setattr(torch.export, "load", spy)
    load_program(clean)
    assert len(seen) == 1 and isinstance(seen[0], io.BytesIO)
