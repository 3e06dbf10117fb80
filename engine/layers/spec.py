"""Declarative layer specifications.

A :class:`LayerSpec` is everything Deepwire knows about one layer type: its stable type id, how it
looks in the palette, its ports, its parameter schema, how it transforms shapes, how many parameters
and multiply-accumulates it costs, and how to build the torch module. Specs are immutable; the one
registry (:mod:`engine.layers.registry`) holds them all.

Shapes never include the batch dimension: an image batch ``(N, 1, 8, 8)`` has the shape ``(1, 8, 8)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Shape = tuple[int, ...]
Params = Mapping[str, Any]

PARAM_KINDS = ("int", "float", "bool", "choice", "shape")

#: Element types a tensor between layers can have, and the kind each belongs to.
DTYPES: dict[str, str] = {"float32": "float", "int64": "integer"}
#: What a layer's input ports take: ``float`` (features, images), ``integer`` (token ids, for
#: Embedding) or ``any`` (pass-through and merge layers; all inputs then share one dtype).
ACCEPTS = ("float", "integer", "any")


class ShapeRuleError(ValueError):
    """Raised by a shape rule when its inputs do not fit; carries a plain message and a fix."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix


class ParamValueError(ValueError):
    """Raised when a parameter value has the wrong type or lies outside its allowed range."""


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a layer: name, kind, default, allowed values and a one-line help text.

    ``kind`` is one of ``int``, ``float``, ``bool``, ``choice`` (one of ``choices``) or ``shape``
    (a list of positive ints; ``allow_minus_one`` admits one ``-1`` as in ``reshape``).
    """

    name: str
    kind: str
    default: Any
    help: str = ""
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    allow_minus_one: bool = False
    exclusive_maximum: bool = False

    def __post_init__(self) -> None:
        if self.kind not in PARAM_KINDS:
            raise ValueError(f"parameter {self.name!r}: unknown kind {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"parameter {self.name!r}: default not among its choices")

    def describe_range(self) -> str:
        """Human-readable allowed range, e.g. ``an integer from 1 to 4096``."""
        if self.kind == "bool":
            return "true or false"
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "shape":
            if self.minimum is not None:
                return f"a list of integers ≥ {_fmt(self.minimum)}"
            return "a list of positive integers" + (
                " (one may be -1)" if self.allow_minus_one else ""
            )
        noun = "an integer" if self.kind == "int" else "a number"
        lo, hi = self.minimum, self.maximum
        if lo is not None and hi is not None:
            upper = "below" if self.exclusive_maximum else "to"
            return f"{noun} from {_fmt(lo)} {upper} {_fmt(hi)}"
        if lo is not None:
            return f"{noun} ≥ {_fmt(lo)}"
        if hi is not None:
            return f"{noun} ≤ {_fmt(hi)}"
        return noun

    def coerce(self, value: Any) -> Any:
        """Return ``value`` in this parameter's canonical Python type, or raise ParamValueError."""
        kind = self.kind
        if kind == "bool":
            if isinstance(value, bool):
                return value
            raise ParamValueError(f"expects true or false, got {_show(value)}")
        if kind == "choice":
            if isinstance(value, str) and value in self.choices:
                return value
            raise ParamValueError(f"expects {self.describe_range()}, got {_show(value)}")
        if kind == "shape":
            if not isinstance(value, (list, tuple)) or not value:
                raise ParamValueError(f"expects {self.describe_range()}, got {_show(value)}")
            dims = []
            for d in value:
                if isinstance(d, bool) or not isinstance(d, int):
                    raise ParamValueError(f"expects {self.describe_range()}, got {_show(value)}")
                lowest = 1 if self.minimum is None else self.minimum
                if d < lowest and not (self.allow_minus_one and d == -1):
                    raise ParamValueError(f"expects {self.describe_range()}, got {_show(value)}")
                dims.append(d)
            if dims.count(-1) > 1:
                raise ParamValueError(f"allows at most one -1, got {_show(value)}")
            return tuple(dims)
        # numbers
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamValueError(f"expects {self.describe_range()}, got {_show(value)}")
        if kind == "int":
            if isinstance(value, float):
                if not value.is_integer():
                    raise ParamValueError(f"expects {self.describe_range()}, got {_show(value)}")
                value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise ParamValueError(f"expects {self.describe_range()}, got {_show(value)}")
        too_low = self.minimum is not None and value < self.minimum
        too_high = self.maximum is not None and (
            value >= self.maximum if self.exclusive_maximum else value > self.maximum
        )
        if too_low or too_high:
            raise ParamValueError(f"expects {self.describe_range()}, got {_show(value)}")
        return value


@dataclass(frozen=True)
class LayerSpec:
    """The complete, immutable description of one layer type.

    * ``infer(input_shapes, params) -> Shape`` raises :class:`ShapeRuleError` on bad inputs.
    * ``build(input_shapes, params) -> nn.Module`` whose ``forward`` takes one tensor per input port.
    * ``count_params(input_shapes, params)`` and ``count_macs(input_shapes, params, output_shape)``
      give the trainable parameter count (equal to ``sum(p.numel())`` of the built module) and the
      multiply-accumulates per sample.
    * ``inputs`` is the fixed number of input ports; ``variadic`` layers (merges) take
      ``min_inputs`` or more, in port order.
    * ``replaces`` lists older type ids that now load as this type.
    * ``accepts`` is the element kind the input ports take (see :data:`ACCEPTS`);
      ``output_dtype`` is what the layer gives: a dtype from :data:`DTYPES`, ``"input"`` (the
      dtype of its inputs) or ``"param:NAME"`` (the value of the parameter ``NAME``).
    """

    type_id: str
    display_name: str
    category: str
    help: str
    infer: Callable[[Sequence[Shape], Params], Shape]
    build: Callable[[Sequence[Shape], Params], Any]
    params: tuple[ParamSpec, ...] = ()
    inputs: int = 1
    variadic: bool = False
    min_inputs: int = 1
    count_params: Callable[[Sequence[Shape], Params], int] = field(default=lambda shapes, p: 0)
    count_macs: Callable[[Sequence[Shape], Params, Shape], int] = field(
        default=lambda shapes, p, out: 0
    )
    replaces: tuple[str, ...] = ()
    learning: str = "backprop"  # or "competitive" (SOM) or "none" (Input/Output)
    accepts: str = "float"
    output_dtype: str = "float32"

    def __post_init__(self) -> None:
        if self.accepts not in ACCEPTS:
            raise ValueError(f"layer {self.type_id!r}: accepts must be one of {ACCEPTS}")
        out = self.output_dtype
        if out.startswith("param:"):
            if not any(
                p.name == out[6:] and p.kind == "choice" and set(p.choices) <= set(DTYPES)
                for p in self.params
            ):
                raise ValueError(
                    f"layer {self.type_id!r}: output_dtype {out!r} names no dtype choice parameter"
                )
        elif out not in DTYPES and out != "input":
            raise ValueError(f"layer {self.type_id!r}: unknown output_dtype {out!r}")

    def output_dtype_for(self, input_dtypes: Sequence[str], params: Params) -> str:
        """The dtype this layer gives for inputs of ``input_dtypes`` and resolved ``params``."""
        out = self.output_dtype
        if out == "input":
            return input_dtypes[0] if input_dtypes else "float32"
        if out.startswith("param:"):
            return params[out[6:]]
        return out

    def describe_dtypes(self) -> str:
        """One line for the docs: what the layer takes and gives."""
        takes = {"float": "float32", "integer": "int64 token ids", "any": "float32 or int64"}[
            self.accepts
        ]
        if self.accepts == "any" and self.variadic:
            takes += " (all inputs of one dtype)"
        out = self.output_dtype
        gives = (
            "the same dtype"
            if out == "input"
            else f"the dtype its '{out[6:]}' parameter sets"
            if out.startswith("param:")
            else out
        )
        if self.inputs == 0 and not self.variadic:
            return f"gives {gives}"
        return f"takes {takes}; gives {gives}"

    def param(self, name: str) -> ParamSpec:
        """The parameter spec called ``name`` (KeyError if the layer has none)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def defaults(self) -> dict[str, Any]:
        """Default value of every parameter, in schema order."""
        return {p.name: p.default for p in self.params}

    def port_names(self, connected: int = 0) -> list[str]:
        """Names of the input ports shown on the canvas (merges grow one spare port)."""
        if self.variadic:
            n = max(self.min_inputs, connected + 1)
            return [f"in{i + 1}" for i in range(n)]
        if self.inputs == 1:
            return ["in"]
        return [f"in{i + 1}" for i in range(self.inputs)]


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(x)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def numel(shape: Sequence[int]) -> int:
    """Number of elements of a per-sample shape."""
    n = 1
    for d in shape:
        n *= d
    return n


def fmt_shape(shape: Sequence[int] | None) -> str:
    """Shape with the batch dimension, as users read it: ``(N, 16, 4, 4)``."""
    if shape is None:
        return "(?)"
    return "(" + ", ".join(["N", *map(str, shape)]) + ")"
