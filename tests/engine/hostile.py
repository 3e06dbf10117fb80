"""Hostile files for the load-safety tests: pickles whose loading runs code (it creates a marker
file), ``.pt2`` archives with such members added to a real export, malformed checkpoints."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, settings


class RunsCode:
    """Unpickling this runs ``open(marker, 'w')``: the marker existing proves code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


def evil_torch_save(marker: Path, wrap: Callable[[Any], Any] = lambda x: {"w": x}) -> bytes:
    """A ``torch.save`` file (zip format) whose pickle runs code."""
    buf = io.BytesIO()
    torch.save(wrap(RunsCode(marker)), buf)
    return buf.getvalue()


def evil_pickle(marker: Path, protocol: int = 2) -> bytes:
    """A bare pickle that runs code."""
    import pickle

    return pickle.dumps({"w": RunsCode(marker)}, protocol=protocol)


def deepwire_pt2(folder: Path) -> Path:
    """A clean ``.pt2`` from Deepwire's own export of a tiny MLP (dynamic batch)."""
    from engine.compile import compile_design
    from engine.export import export_formats
    from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint
    from tests.engine.builders import chain

    design = chain(
        ("x", "Input", {"shape": [4]}),
        ("fc", "Linear", {"out_features": 3}),
        ("act", "ReLU"),
        ("out", "Output"),
    )
    torch.manual_seed(0)
    net = compile_design(design).eval()
    save_checkpoint(folder / "tiny.pt", checkpoint_from_modules(design, {"main": net}))
    export_formats(design, folder / "tiny.pt", {"pt2": folder / "tiny.pt2"})
    return folder / "tiny.pt2"


def archive_root(path: Path) -> str:
    """The folder every member of the archive lives in (``tiny/``)."""
    with zipfile.ZipFile(path) as archive:
        return archive.namelist()[0].split("/", 1)[0] + "/"


def rewrite(
    src: Path,
    dst: Path,
    *,
    extra: dict[str, bytes] | None = None,
    replace: dict[str, bytes] | None = None,
    edit_json: dict[str, Callable[[Any], Any]] | None = None,
    drop: tuple[str, ...] = (),
) -> Path:
    """Copy the archive ``src`` to ``dst`` with members (names relative to its folder) added,
    replaced, dropped, or JSON members edited by a function of their parsed value."""
    root = archive_root(src)
    extra, replace, edit_json = dict(extra or {}), dict(replace or {}), dict(edit_json or {})
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            rel = info.filename[len(root) :]
            if rel in drop:
                continue
            data = zin.read(info.filename)
            if rel in replace:
                data = replace.pop(rel)
            elif rel in edit_json:
                data = json.dumps(edit_json[rel](json.loads(data))).encode()
            zout.writestr(info, data)
        for rel, data in {**extra, **replace}.items():
            zout.writestr(root + rel, data)
    return dst


def model_nodes(model: dict) -> list[dict]:
    """The serialized graph's nodes (of ``models/model.json``)."""
    return model["graph_module"]["graph"]["nodes"]


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings of the hostile-file fuzz tests: ``max_examples`` files, no deadline
    (a load may take a while on a busy box), function-scoped fixtures and slow data allowed."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
