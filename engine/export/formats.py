"""Write a trained model in the formats other tools load: ONNX, ``.pt2``, safetensors, Python.

:func:`export_model` is the one entry point (the CLI and the GUI's export dialog call it). Every
file is first built in memory, then all files of one export are written to temporary files beside
their targets and moved into place together, so a failed export leaves no partial file behind.
Next to each export lies a sidecar ``OUTPUT.json`` naming the inputs (columns, shape), the outputs,
the class labels and whether preprocessing is folded into the model.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.errors import ExportError
from engine.export.codegen import generate_python, naming, weights_by_code_name
from engine.export.prepare import ExportPlan, prepare_export, sidecar_path, sub_design
from engine.files import atomic_write_files
from engine.graph import Design
from engine.layers import REGISTRY
from engine.shapes import analyze
from engine.training.checkpoint import Checkpoint

#: format id -> (display name, usual file suffix, one-line description for menus and help).
FORMATS: dict[str, tuple[str, str, str]] = {
    "onnx": ("ONNX", ".onnx", "runs in onnxruntime, OpenCV, TensorRT… (dynamic batch size)"),
    "pt2": ("PyTorch program (.pt2)", ".pt2", "torch.export program: torch.export.load(path)"),
    "safetensors": (
        "safetensors weights",
        ".safetensors",
        "the weights only, named like the generated Python code's modules",
    ),
    "python": (
        "PyTorch code (.py)",
        ".py",
        "a readable nn.Module file plus its safetensors weights",
    ),
}
RECURRENT = ("RNN", "LSTM", "GRU")
MAX_BATCH = 1 << 20


@dataclass
class ExportResult:
    """What an export wrote: the main file first, then its companions (weights, sidecar)."""

    format: str
    paths: list[Path]
    sidecar: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for the CLI and the GUI's status bar."""
        side = self.sidecar
        dyn = ""
        if self.format in ("onnx", "pt2"):
            dyn = "dynamic batch" + (
                " and sequence length" if side["dynamic_axes"]["steps"] else ""
            )
        steps = side["preprocessing"]["steps"]
        pre = ""
        if steps:
            pre = (
                f"preprocessing folded in ({', '.join(steps)})"
                if side["preprocessing"]["folded"]
                else f"preprocessing ({', '.join(steps)}) in the sidecar"
            )
        bits = ", ".join(b for b in (FORMATS[self.format][0], dyn, pre) if b)
        return f"wrote {self.paths[0]} ({bits}; {side['part']} of '{side['design']}')" + "".join(
            f" + {p.name}" for p in self.paths[1:]
        )


def export_model(
    design: Design | str | os.PathLike[str],
    checkpoint: Checkpoint | str | os.PathLike[str],
    fmt: str,
    output: str | os.PathLike[str],
    network: str | None = None,
    encoder_only: bool = False,
    encoder_output: str | None = None,
    fold_preprocessing: bool = True,
) -> ExportResult:
    """Export ``checkpoint``'s weights for ``design`` as ``fmt`` to ``output``.

    ``network`` picks the part (see :mod:`engine.export.prepare`): a network name or role, or
    ``"encoder"`` / ``"encoder:NODE"``; ``encoder_only`` (with an optional ``encoder_output``
    node) is the same as ``network="encoder[:NODE]"``. Raises :class:`ExportError` (or
    DesignError / DesignFormatError) with one line for every request it cannot carry out.
    """
    return export_formats(
        design, checkpoint, {fmt: output}, network, encoder_only, encoder_output, fold_preprocessing
    )[0]


def export_formats(
    design: Design | str | os.PathLike[str],
    checkpoint: Checkpoint | str | os.PathLike[str],
    outputs: dict[str, str | os.PathLike[str]],
    network: str | None = None,
    encoder_only: bool = False,
    encoder_output: str | None = None,
    fold_preprocessing: bool = True,
) -> list[ExportResult]:
    """Export one part in several formats (``{format: output path}``) at once: the request is
    checked once and ONNX and ``.pt2`` share one ``torch.export`` trace."""
    targets = _checked_targets(design, checkpoint, outputs)
    if encoder_only:
        network = "encoder" + (f":{encoder_output}" if encoder_output else "")
    plan = prepare_export(design, checkpoint, network, fold_preprocessing)
    built = [(fmt, _format_files(plan, fmt, output)) for fmt, output in targets.items()]
    results = []
    for fmt, files in built:
        output = targets[fmt]
        side = _format_sidecar(plan, fmt, output)
        files[sidecar_path(output)] = (json.dumps(side, indent=2) + "\n").encode("utf-8")
        notes = [plan.preprocessing_note] if plan.preprocessing_note else []
        results.append(ExportResult(fmt, list(files), side, notes))
    write_files({path: data for _, files in built for path, data in files.items()})
    return results


def _checked_targets(
    design: Design | str | os.PathLike[str],
    checkpoint: Checkpoint | str | os.PathLike[str],
    outputs: dict[str, str | os.PathLike[str]],
) -> dict[str, Path]:
    """``{format: path}`` once every format is known, every target writable and none would
    overwrite the design or checkpoint it is made from (and ONNX is installed when asked)."""
    for fmt in outputs:
        if fmt not in FORMATS:
            raise ExportError(f"unknown export format '{fmt}'; choose one of: {', '.join(FORMATS)}")
    targets = {fmt: Path(path) for fmt, path in outputs.items()}
    inputs = {
        "design": design if isinstance(design, str | os.PathLike) else None,
        "checkpoint": checkpoint if isinstance(checkpoint, str | os.PathLike) else None,
    }
    for fmt, target in targets.items():
        _check_writable(target)
        conflict = output_conflict(fmt, target, inputs)
        if conflict is not None:
            raise ExportError(conflict)
    if "onnx" in targets:
        require_onnx()
    return targets


def _format_files(plan: ExportPlan, fmt: str, output: Path) -> dict[Path, bytes]:
    """The bytes of one format's files (the Python format brings its weights file along)."""
    files: dict[Path, bytes] = {}
    if fmt == "onnx":
        files[output] = onnx_bytes(plan)
    elif fmt == "pt2":
        files[output] = pt2_bytes(plan)
    elif fmt == "safetensors":
        files[output] = safetensors_bytes(plan)
    else:
        weights_path = _weights_path(output)
        files[output] = generate_python(plan, weights_path.name).encode("utf-8")
        files[weights_path] = safetensors_bytes(plan)
    return files


def _format_sidecar(plan: ExportPlan, fmt: str, output: Path) -> dict[str, Any]:
    """The sidecar of one format's export, with what that format adds or changes."""
    side = plan.sidecar(fmt, output.name)
    if fmt == "python":
        side["python_class"] = naming(plan).class_name
        side["weights"] = _weights_path(output).name
    if fmt == "safetensors" and plan.preprocessing is not None:
        side["preprocessing"]["folded"] = False
        side["preprocessing"]["note"] = (
            "weights only: apply y = (clip(impute(x), clip_low, clip_high) - shift) / scale "
            "with the constants below before the model (the generated Python code does)"
        )
    return side


def export_paths(fmt: str, output: str | os.PathLike[str]) -> list[Path]:
    """Every file an export to ``output`` writes: the main file, the Python code's weights, the
    sidecar JSON."""
    out = Path(output)
    companions = [_weights_path(out)] if fmt == "python" else []
    return [out, *companions, sidecar_path(out)]


#: Suffixes of files that are not exports and must not be replaced by one (designs, sidecars,
#: checkpoints, data).
_OTHER_KINDS = {
    ".json": "a design or sidecar JSON file",
    ".pt": "a checkpoint",
    ".pth": "a checkpoint",
    ".csv": "a data file",
    ".npy": "a data file",
    ".npz": "a data file",
}


def output_conflict(
    fmt: str, output: str | os.PathLike[str], inputs: dict[str, str | os.PathLike[str] | None]
) -> str | None:
    """Why exporting ``fmt`` to ``output`` would destroy a file it should not, or None.

    ``inputs`` names the files the export reads (``{"design": path, "checkpoint": path}``); no
    file the export writes (main file, weights, sidecar) may be one of them, compared by resolved
    path and by identity (hard links). An existing ``output`` of another kind than ``fmt`` (say
    a ``.json`` for ONNX), or a new one whose suffix says it is another kind, is refused too.
    The CLI and the GUI's export dialog both ask this before writing.
    """
    out = Path(output).expanduser()
    title, suffix, _ = FORMATS[fmt]
    stem = out.stem if out.suffix else out.name
    other = f"choose another file name, e.g. {stem}{suffix}"
    for path in export_paths(fmt, out):
        for role, given in inputs.items():
            if given is not None and _same_file(path, Path(given).expanduser()):
                what = (
                    ""
                    if path == out
                    else ("the sidecar " if path.suffix == ".json" else "the weights ")
                )
                return f"{what}{path} would replace the {role} this export reads ({given}): {other}"
    known = {s for _t, s, _d in FORMATS.values()}
    kind = _OTHER_KINDS.get(out.suffix.lower()) or (
        f"another format's file ({out.suffix})" if out.suffix.lower() in known - {suffix} else None
    )
    article = "an" if title[0] in "AEIOU" else "a"
    if out.suffix.lower() != suffix and out.is_file():
        kind = kind or f"a '{out.suffix or 'suffix-less'}' file"
        return f"{out} exists and is {kind}, not {article} {title} file: {other}"
    if kind is not None:
        return f"{out} names {kind}, not {article} {title} file ({suffix}): {other}"
    return None


def _same_file(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file: same resolved path, or (both existing) the same
    inode, which also catches hard links."""
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a == b


def _weights_path(output: Path) -> Path:
    return (
        output.with_suffix(".safetensors")
        if output.suffix == ".py"
        else output.with_name(output.name + ".safetensors")
    )


def _check_writable(output: Path) -> None:
    parent = output.parent if str(output.parent) else Path(".")
    if output.is_dir():
        raise ExportError(f"{output} is a folder; give a file name for --output")
    if not parent.exists():
        raise ExportError(
            f"cannot write {output}: the folder {parent} does not exist; create it "
            "or choose another --output"
        )
    if not parent.is_dir():
        raise ExportError(
            f"cannot write {output}: {parent} is a file, not a folder; choose another --output"
        )
    if not os.access(parent, os.W_OK):
        raise ExportError(
            f"cannot write {output}: no permission to write in {parent}; choose another --output"
        )


def write_files(files: dict[Path, bytes]) -> None:
    """Write every file atomically (main file, listed first, moved into place last).

    If anything fails, no target is touched and no temporary file is left
    (:func:`engine.files.atomic_write_files`).
    """
    try:
        atomic_write_files(files)
    except OSError as exc:
        raise ExportError(
            f"cannot write {exc.filename or next(iter(files))}: "
            f"{exc.strerror or exc}; choose another --output"
        ) from None


# ------------------------------------------------------------------------------------------
# torch.export, shared by pt2 and ONNX


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Silence torch.export / ONNX exporter chatter (warnings and log lines) during an export."""
    loggers = [
        logging.getLogger(n)
        for n in (
            "torch.onnx",
            "torch.export",
            "torch._export",
            "torch.fx.experimental.symbolic_shapes",
        )
    ]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _steps_may_vary(plan: ExportPlan) -> bool:
    """Whether the design stays valid, with the same weights, for another sequence length."""
    seq = [i for i, s in zip(plan.input_ids, plan.input_shapes) if len(s) == 2]
    if len(seq) != 1 or len(plan.input_ids) != 1:
        return False
    if any(REGISTRY.resolve(n.type) in RECURRENT for n in plan.design):
        return False  # torch.export fixes the length of nn.RNN / LSTM / GRU inputs
    other = sub_design(plan.design, plan.network)
    shape = list(plan.input_shapes[0])
    other.set_param(seq[0], "shape", [shape[0] + 3, shape[1]])
    analysis = analyze(other)
    if not analysis.valid or any(
        analysis.info[n].params != info.params for n, info in plan.analysis.info.items()
    ):
        return False
    for node_id in plan.module.net.output_ids:  # which output dims follow the length
        base, moved = plan.analysis.info[node_id].output_shape, analysis.info[node_id].output_shape
        plan.step_dims[node_id] = [i for i, (a, b) in enumerate(zip(base, moved)) if a != b]
    return True


def exported_program(plan: ExportPlan) -> torch.export.ExportedProgram:
    """``torch.export`` of the plan's module with a dynamic batch (and sequence length if the
    design and torch allow it; recurrent layers fix the length: torch.export specializes it).

    The program is traced once per plan and reused by every format.
    """
    if plan.program is not None:
        return plan.program
    batch = torch.export.Dim("batch", min=1, max=MAX_BATCH)
    attempts = []
    if _steps_may_vary(plan):
        steps = torch.export.Dim("steps", min=2, max=MAX_BATCH)
        attempts.append((({0: batch, 1: steps},), True))
    attempts.append((tuple({0: batch} for _ in plan.input_ids), False))
    last: Exception | None = None
    for dynamic, varies in attempts:
        try:
            with _quiet(), torch.no_grad():
                ep = torch.export.export(
                    plan.module, plan.example_inputs(2), dynamic_shapes=(dynamic,)
                )
        except Exception as exc:  # torch raises many error types while tracing
            last = exc
            continue
        plan.dynamic_steps = varies
        plan.program = ep
        return ep
    first = str(last).strip().splitlines()[0] if last and str(last).strip() else repr(last)
    raise ExportError(f"torch.export could not trace network '{plan.network}': {first[:200]}")


def pt2_bytes(plan: ExportPlan) -> bytes:
    """The ``.pt2`` archive (``torch.export.save``) of the plan's module."""
    buf = io.BytesIO()
    torch.export.save(exported_program(plan), buf)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------
# ONNX


def require_onnx() -> None:
    """Raise a clear ExportError when the ONNX exporter's packages are missing."""
    missing = [m for m in ("onnx", "onnxscript") if _find_spec(m) is None]
    if missing:
        # they are Deepwire dependencies: this environment was set up without them
        raise ExportError(
            f"ONNX export needs the {' and '.join(missing)} package"
            f"{'s' if len(missing) > 1 else ''}, which Deepwire depends on: "
            f"pip install {' '.join(missing)}"
        )


def _find_spec(name: str):
    try:
        return importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None


def onnx_bytes(plan: ExportPlan) -> bytes:
    """The ONNX model (opset chosen by torch) with named inputs/outputs and dynamic axes."""
    require_onnx()
    ep = exported_program(plan)
    try:
        with _quiet():
            program = torch.onnx.export(
                ep,
                (),
                dynamo=True,
                verbose=False,
                input_names=list(plan.input_names),
                output_names=list(plan.output_names),
            )
    except Exception as exc:  # the exporter raises many types for unsupported operators
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise ExportError(
            f"ONNX export of network '{plan.network}' failed: {first[:200]}; try --format pt2"
        ) from None
    proto = program.model_proto
    _name_dynamic_axes(proto, plan)
    return proto.SerializeToString()


def _name_dynamic_axes(proto: Any, plan: ExportPlan) -> None:
    """Rename the exporter's symbolic dimensions (``s21``) to ``batch`` and ``steps``."""
    rename: dict[str, str] = {}
    for value in proto.graph.input:
        dims = value.type.tensor_type.shape.dim
        if len(dims) and dims[0].dim_param:
            rename[dims[0].dim_param] = "batch"
        if plan.dynamic_steps and len(dims) == 3 and dims[1].dim_param:
            rename[dims[1].dim_param] = "steps"
    for value in (*proto.graph.input, *proto.graph.output, *proto.graph.value_info):
        for dim in value.type.tensor_type.shape.dim:
            if dim.dim_param in rename:
                dim.dim_param = rename[dim.dim_param]


# ------------------------------------------------------------------------------------------
# safetensors


def safetensors_bytes(plan: ExportPlan) -> bytes:
    """The weights, named like the generated code's attributes (``hidden1.weight``)."""
    from safetensors.torch import save

    tensors = {k: v.detach().cpu().contiguous() for k, v in weights_by_code_name(plan).items()}
    meta = {
        "format": "pt",
        "deepwire_design": plan.info.get("design_name") or "",
        "deepwire_network": plan.network,
        "deepwire_part": plan.part,
    }
    return save(tensors, metadata=meta)
