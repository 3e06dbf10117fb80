"""The ``augment`` object of a data section: the catalogue of steps and their validation.

An augmentation is an ordered list of steps, each ``{"op": <name>, <param>: <value>, …}``::

    "augment": {"steps": [{"op": "crop", "padding": 4}, {"op": "flip", "p": 0.5}]}

Each op applies to some forms of data only (``image`` ``(C, H, W)``, ``sequence`` ``(T, F)``,
``table`` ``(F,)``): :func:`normalize_augment` checks the steps alone (names, keys, ranges) and
fills in defaults; :func:`form_problem` checks them against the samples' shape (a flip on a table,
a cutout larger than the image). Every refusal is one line naming the step and how to fix it.
This module imports no torch: ``check`` and the data panel use it; :mod:`engine.data.augment`
runs the steps.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from engine.errors import DataError
from engine.schema import Listing, Number, Schema

FORMS = ("image", "sequence", "table")
_PREFIX = "data spec: augment"


@dataclass(frozen=True)
class AugmentOp:
    """One kind of step: its title in the panel, the forms it applies to, its parameters (with
    defaults and ranges) and a one-line description."""

    label: str
    forms: tuple[str, ...]
    params: dict[str, Number]
    help: str


def _p(default: float) -> Number:
    return Number(default=default, low=0.0, high=1.0)


#: Every op, in the order the panel offers them.
AUGMENT_OPS: dict[str, AugmentOp] = {
    "crop": AugmentOp(
        "Random crop",
        ("image",),
        {"padding": Number(default=4, low=1, high=256, integer=True)},
        "pad every side with zeros by `padding` pixels, then cut a random window of the "
        "original size",
    ),
    "flip": AugmentOp(
        "Horizontal flip", ("image",), {"p": _p(0.5)}, "mirror left-right with probability `p`"
    ),
    "affine": AugmentOp(
        "Rotate / shift / scale",
        ("image",),
        {
            "degrees": Number(default=10.0, low=0.0, high=180.0),
            "shift": Number(default=0.1, low=0.0, high=0.5),
            "scale": Number(default=0.1, low=0.0, high=0.5),
        },
        "rotate by up to ±`degrees`, shift by up to ±`shift` of the size, zoom by a factor "
        "in 1 ± `scale` (bilinear, zeros outside)",
    ),
    "brightness_contrast": AugmentOp(
        "Brightness / contrast",
        ("image",),
        {
            "brightness": Number(default=0.2, low=0.0, high=10.0),
            "contrast": Number(default=0.2, low=0.0, high=1.0),
        },
        "add an offset in ±`brightness` and scale about the sample's mean by a factor in "
        "1 ± `contrast`",
    ),
    "cutout": AugmentOp(
        "Cutout",
        ("image",),
        {"size": Number(default=8, low=1, high=4096, integer=True), "p": _p(0.5)},
        "with probability `p`, set a random `size`×`size` square to 0",
    ),
    "noise": AugmentOp(
        "Gaussian noise",
        ("image", "table"),
        {"std": Number(default=0.05, low=0.0, high=100.0)},
        "add Gaussian noise of standard deviation `std`",
    ),
    "jitter": AugmentOp(
        "Jitter",
        ("sequence",),
        {"std": Number(default=0.03, low=0.0, high=100.0)},
        "add Gaussian noise of standard deviation `std` to every step",
    ),
    "scaling": AugmentOp(
        "Scaling",
        ("sequence",),
        {"std": Number(default=0.1, low=0.0, high=10.0)},
        "multiply each feature of a sequence by a factor drawn from N(1, `std`²)",
    ),
    "time_shift": AugmentOp(
        "Time shift",
        ("sequence",),
        {"steps": Number(default=2, low=1, high=100_000, integer=True)},
        "move the sequence by up to ±`steps` time steps, repeating the edge values",
    ),
}


def ops_for(form: str | None) -> tuple[str, ...]:
    """The ops that apply to data of ``form`` (every op when the form is unknown)."""
    return tuple(name for name, op in AUGMENT_OPS.items() if form is None or form in op.forms)


def form_of(shape: tuple[int | None, ...] | list[int]) -> str | None:
    """The form of samples of ``shape`` (without the batch axis): ``(F,)`` table, ``(T, F)``
    sequence, ``(C, H, W)`` image; None for any other rank."""
    return {1: "table", 2: "sequence", 3: "image"}.get(len(shape))


def step_name(index: int, op: Any) -> str:
    """How messages name step ``index`` (0-based): ``augment step 2 (flip)``."""
    shown = f" ({op})" if isinstance(op, str) else ""
    return f"augment step {index + 1}{shown}"


def default_step(op: str) -> dict[str, Any]:
    """A new step of ``op`` with every parameter at its default."""
    return {"op": op, **{k: f.default for k, f in AUGMENT_OPS[op].params.items()}}


def normalize_augment(augment: Any) -> dict[str, Any]:
    """Check an ``augment`` object and return a copy with every step's defaults filled in."""
    if not isinstance(augment, dict):
        raise DataError(
            f'{_PREFIX} must be an object like {{"steps": [{{"op": "flip"}}]}}, '
            f"got {type(augment).__name__}"
        )
    for key in augment:
        if key != "steps":
            raise DataError(f"{_PREFIX}: {key!r} is not a known key; allowed: steps")
    steps = augment.get("steps", [])
    if not isinstance(steps, list):
        raise DataError(
            f'{_PREFIX}.steps must be a list of steps like [{{"op": "flip"}}], '
            f"got {type(steps).__name__}"
        )
    return {"steps": [_normalize_step(i, step) for i, step in enumerate(steps)]}


def _normalize_step(index: int, step: Any) -> dict[str, Any]:
    if not isinstance(step, dict):
        raise DataError(
            f'data spec: {step_name(index, None)} must be an object like {{"op": "flip"}}, '
            f"got {type(step).__name__}"
        )
    op = step.get("op")
    if op not in AUGMENT_OPS:
        problem = "has no 'op'" if op is None else f"has op {op!r}"
        raise DataError(
            f"data spec: {step_name(index, None)} {problem}; allowed: " + " | ".join(AUGMENT_OPS)
        )
    schema = Schema(
        AUGMENT_OPS[op].params, Listing(DataError, f"data spec: {step_name(index, op)}")
    )
    params = {k: v for k, v in step.items() if k != "op"}
    schema.check_keys(params, schema.keys)
    out: dict[str, Any] = {"op": op}
    for key in schema.keys:
        out[key] = schema.get(params, key)
    return out


def form_problem(augment: dict[str, Any] | None, shape: tuple[int | None, ...]) -> str | None:
    """Why the (normalized) ``augment`` cannot apply to samples of ``shape``, or None.

    Sizes given as None or -1 (a free sequence length) are not checked."""
    if not augment:
        return None
    form = form_of(shape)
    if form is None:
        return None
    dims = [d if isinstance(d, int) and d > 0 else None for d in shape]
    for i, step in enumerate(augment["steps"]):
        op = AUGMENT_OPS[step["op"]]
        where = f"data spec: {step_name(i, step['op'])}"
        if form not in op.forms:
            fits = " and ".join(f"{f}s" for f in op.forms)
            shown = "(" + ", ".join("?" if d is None else str(d) for d in dims)
            shown += ",)" if len(dims) == 1 else ")"
            return (
                f"{where} cannot apply to {form} data of shape {shown} ({op.label.lower()} "
                f"works on {fits}): remove the step or use " + ", ".join(ops_for(form))
            )
        if step["op"] == "cutout":
            h, w = dims[1], dims[2]
            if (h is not None and step["size"] > h) or (w is not None and step["size"] > w):
                return (
                    f"{where}: size {step['size']} is larger than the {h}×{w} images: "
                    f"set size to at most {min(d for d in (h, w) if d is not None)}"
                )
        if step["op"] == "time_shift" and dims[0] is not None and step["steps"] >= dims[0]:
            return (
                f"{where}: steps {step['steps']} is not shorter than the {dims[0]}-step "
                f"sequences: set steps to at most {max(dims[0] - 1, 1)}"
            )
    return None


def design_augment_problem(design: Any) -> str | None:
    """Why the design's data ``augment`` cannot apply to what its Input node reads, or None
    (also None when the section or its augment is invalid: :func:`normalize_augment` says why)."""
    data = getattr(design, "data", None)
    if not isinstance(data, dict) or not data.get("augment"):
        return None
    try:
        augment = normalize_augment(data["augment"])
    except DataError:
        return None
    if not augment["steps"]:
        return None
    shape = design_input_shape(design)
    return None if shape is None else form_problem(augment, shape)


def design_input_shape(design: Any) -> tuple[int, ...] | None:
    """The per-sample shape the design's data Input reads (None when there is no single one)."""
    from engine.editing.data_section import data_input

    node_id = data_input(design)
    if node_id is None:
        return None
    shape = design.node(node_id).params.get("shape")
    return tuple(shape) if isinstance(shape, list | tuple) else None


def copy_steps(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps of a data section's ``augment`` as written (a deep copy; [] when absent)."""
    augment = spec.get("augment")
    steps = augment.get("steps") if isinstance(augment, dict) else None
    return copy.deepcopy(steps) if isinstance(steps, list) else []
