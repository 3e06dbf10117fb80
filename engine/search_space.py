"""The ``search`` section of a design: which settings a search (engine/search.py) may vary.

::

    "search": {
      "space": {
        "lr": {"low": 0.0001, "high": 0.1, "log": true},
        "batch_size": {"choices": [32, 64, 128]},
        "optimizer": {"choices": ["adam", "sgd"]},
        "dense_1.out_features": {"low": 16, "high": 128, "step": 16},
        "drop_1.p": {"low": 0.0, "high": 0.5}
      },
      "seed": 0, "pruning": true, "startup_trials": 5, "warmup_epochs": 1
    }

A key without a dot is a training setting (:data:`TRAINING_TARGETS`); ``node_id.param`` is a layer
parameter of kind int, float, bool or choice. An entry is a range (``low``, ``high``, optional
``log`` and ``step``; whole numbers for integer targets) or ``choices`` (a non-empty list of
distinct values, each one the target accepts). :func:`parse_search` checks everything and raises
:class:`SearchError`, one line naming the entry and the fix; :func:`apply_params` puts one
trial's values into a copy of the design. Nothing here imports torch or optuna.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from typing import Any

from engine.errors import DeepwireError
from engine.graph import Design
from engine.layers import REGISTRY
from engine.layers.spec import ParamSpec, ParamValueError
from engine.schema import Choice, Field, Flag, Listing, Number, Rule, Schema, Typed, show
from engine.training.config import TRAINING


class SearchError(DeepwireError):
    """The search section, a study or its storage cannot be used (one line: what, where, fix)."""


#: Training settings a search may vary, in the order the docs and messages list them.
TRAINING_TARGETS = (
    "lr",
    "batch_size",
    "optimizer",
    "weight_decay",
    "epochs",
    "momentum",
    "grad_clip",
    "denoise_std",
)
#: Layer parameter kinds a search may vary (``shape`` parameters are not searchable).
SEARCHABLE_KINDS = ("int", "float", "bool", "choice")

_SEARCH = Listing(SearchError, "search")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


#: The section's own keys.
SEARCH = Schema(
    {
        "space": Typed(types=dict),
        "seed": Number(default=0, low=0, high=2**32 - 1, integer=True),
        "pruning": Flag(default=True),
        "startup_trials": Number(default=5, low=0, high=1_000_000, integer=True),
        "warmup_epochs": Number(default=0, low=0, high=1_000_000, integer=True),
    },
    _SEARCH,
)
#: One entry of ``space`` (messages name it ``space.<key>.<field>``).
_NUMBER = Rule(test=_is_number, text="a finite number")
ENTRY_FIELDS: dict[str, Field] = {
    "low": _NUMBER,
    "high": _NUMBER,
    "log": Flag(default=False),
    "step": Rule(
        default=None,
        test=lambda v: v is None or (_is_number(v) and v > 0),
        text="a number above 0, or null",
    ),
    "choices": Typed(types=list),
}


@dataclass(frozen=True)
class Dimension:
    """One checked entry: a ``float``/``int`` range or ``categorical`` choices of ``key``
    (``node`` None: the training setting ``param``)."""

    key: str
    node: str | None
    param: str
    kind: str  # "float" | "int" | "categorical"
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def distribution(self) -> Any:
        """The optuna distribution of this dimension (optuna imported here, not at load)."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "categorical":
            return CategoricalDistribution(self.choices)
        if self.kind == "int":
            return IntDistribution(
                int(self.low), int(self.high), log=self.log, step=int(self.step or 1)
            )
        return FloatDistribution(float(self.low), float(self.high), log=self.log, step=self.step)

    def describe(self) -> str:
        """``lr: 0.0001…0.1 (log)`` / ``optimizer: adam | sgd`` for listings."""
        if self.kind == "categorical":
            return f"{self.key}: " + " | ".join(json.dumps(c) for c in self.choices)
        extra = ", log" if self.log else f", step {self.step:g}" if self.step else ""
        return f"{self.key}: {self.low:g} to {self.high:g}{extra}"


@dataclass(frozen=True)
class SearchSpace:
    """The checked ``search`` section."""

    dimensions: tuple[Dimension, ...]
    seed: int = 0
    pruning: bool = True
    startup_trials: int = 5
    warmup_epochs: int = 0

    @property
    def keys(self) -> tuple[str, ...]:
        """The searched keys (``lr``, ``node.param``…) in the order of the section."""
        return tuple(d.key for d in self.dimensions)

    def distributions(self) -> dict[str, Any]:
        """key → optuna distribution, for ``study.ask``."""
        return {d.key: d.distribution() for d in self.dimensions}

    def signature(self) -> str:
        """A JSON text that changes when any dimension changes (stored with a study)."""
        return json.dumps(
            [
                [d.key, d.kind, d.low, d.high, d.log, d.step, list(d.choices)]
                for d in self.dimensions
            ]
        )


def section_of(design: Design) -> dict[str, Any]:
    """The design's search section (empty when absent or not an object)."""
    return design.search if isinstance(getattr(design, "search", None), dict) else {}


def parse_search(design: Design) -> SearchSpace:
    """The design's checked search space; raises :class:`SearchError` on the first problem."""
    section = getattr(design, "search", None)
    if not isinstance(section, dict) or not section:
        raise SearchError(
            'the design has no "search" section: add one with at least one entry, e.g. '
            '"search": {"space": {"lr": {"low": 0.0001, "high": 0.1, "log": true}}} '
            "(see docs/search.md)"
        )
    SEARCH.check_keys(section)
    space = SEARCH.get(section, "space")
    if not space:
        raise SearchError(
            'search: space is empty; add at least one entry, e.g. "lr": '
            '{"low": 0.0001, "high": 0.1, "log": true}'
        )
    dims = tuple(parse_entry(design, key, entry) for key, entry in space.items())
    return SearchSpace(
        dims,
        seed=SEARCH.get(section, "seed"),
        pruning=SEARCH.get(section, "pruning"),
        startup_trials=SEARCH.get(section, "startup_trials"),
        warmup_epochs=SEARCH.get(section, "warmup_epochs"),
    )


def search_problems(design: Design) -> list[str]:
    """The search section's problem as a list of one line (empty when it is absent or valid);
    what ``check`` reports."""
    if not getattr(design, "search", None):
        return []
    try:
        parse_search(design)
    except SearchError as exc:
        return [str(exc)]
    return []


# -- targets ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """What an entry varies: its kind and how one value is checked (None: accepted, else why
    not)."""

    kind: str  # "int" | "float" | "choice" | "bool"
    check: Any  # Callable[[Any], str | None]
    allowed: str


def _training_target(key: str) -> _Target:
    spec = TRAINING.fields[key]
    if isinstance(spec, Choice):
        return _Target(
            "choice", lambda v: None if spec.accepts(v) else spec.allowed(), spec.allowed()
        )
    assert isinstance(spec, Number)
    plain = Number(low=spec.low, high=spec.high, integer=spec.integer, low_open=spec.low_open)
    return _Target(
        "int" if spec.integer else "float",
        lambda v: None if plain.accepts(v) else plain.allowed(),
        plain.allowed(),
    )


def _param_target(p: ParamSpec) -> _Target:
    def check(value: Any) -> str | None:
        if p.kind == "int" and isinstance(value, float):
            return p.describe_range()  # 3.0 is a float here: a whole-number range is asked for
        try:
            p.coerce(value)
        except ParamValueError:
            return p.describe_range()
        return None

    return _Target(p.kind, check, p.describe_range())


def searchable_params(design: Design, node_id: str) -> list[str]:
    """The parameters of ``node_id`` a search may vary (empty for an unknown node or type)."""
    if node_id not in design or design.node(node_id).type not in REGISTRY:
        return []
    spec = REGISTRY.get(design.node(node_id).type)
    return [p.name for p in spec.params if p.kind in SEARCHABLE_KINDS]


def _target(design: Design, key: str) -> tuple[str | None, str, _Target]:
    where = f"search: {show(key)}"
    if not isinstance(key, str) or not key:
        raise SearchError(f"{where}: an entry needs a name: a training setting or node_id.param")
    if "." not in key:
        if key in TRAINING_TARGETS:
            return None, key, _training_target(key)
        if key in TRAINING.fields:
            raise SearchError(
                f"{where}: training setting {key!r} cannot be searched; searchable settings: "
                + ", ".join(TRAINING_TARGETS)
                + " (or a layer parameter as node_id.param)"
            )
        near = difflib.get_close_matches(key, TRAINING_TARGETS, n=1)
        hint = f"did you mean {near[0]!r}? " if near else ""
        raise SearchError(
            f"{where}: not a searchable training setting ({hint}one of "
            + ", ".join(TRAINING_TARGETS)
            + "); a layer parameter is written node_id.param"
        )
    node_id, _, param = key.partition(".")
    if node_id not in design:
        ids = [n.id for n in design]
        near = difflib.get_close_matches(node_id, ids, n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise SearchError(
            f"{where}: no node {node_id!r} in this design{hint}; use the id of a node on the "
            "canvas, as node_id.param"
        )
    node = design.node(node_id)
    if node.type not in REGISTRY:
        raise SearchError(f"{where}: node {node_id!r} has unknown type {node.type!r}; fix it first")
    spec = REGISTRY.get(node.type)
    names = searchable_params(design, node_id)
    try:
        p = spec.param(param)
    except KeyError:
        raise SearchError(
            f"{where}: node {node_id!r} ({spec.type_id}) has no parameter {param!r}; "
            + ("searchable: " + ", ".join(names) if names else "it has no searchable parameters")
        ) from None
    if p.kind not in SEARCHABLE_KINDS:
        raise SearchError(
            f"{where}: parameter {param!r} of node {node_id!r} is a {p.kind}, which cannot be "
            "searched; "
            + ("searchable: " + ", ".join(names) if names else "the node has nothing searchable")
        )
    return node_id, param, _param_target(p)


def parse_entry(design: Design, key: str, entry: Any) -> Dimension:
    """One checked entry of ``space`` (raises :class:`SearchError`)."""
    node, param, target = _target(design, key)
    where = f"search: {show(key)}"
    entry_schema = Schema(ENTRY_FIELDS, _SEARCH, path=f"space.{key}")
    if not isinstance(entry, dict):
        raise SearchError(
            f"{where}: an entry must be an object like "
            + (
                '{"choices": [...]}'
                if target.kind in ("choice", "bool")
                else '{"low": 1, "high": 10} or {"choices": [...]}'
            )
            + f", got {show(entry)}"
        )
    entry_schema.check_keys(entry)
    if "choices" in entry:
        extra = [k for k in ("low", "high", "log", "step") if k in entry]
        if extra:
            raise SearchError(
                f"{where}: give either choices or a range (low, high), not both; remove "
                + ", ".join(extra)
            )
        return _choices(key, node, param, target, entry_schema.get(entry, "choices"), where)
    if target.kind in ("choice", "bool"):
        raise SearchError(
            f"{where}: this setting takes choices, not a range; give "
            f'"choices": [...] with values from {target.allowed}'
        )
    return _range(key, node, param, target, entry_schema, entry, where)


def _range(
    key: str,
    node: str | None,
    param: str,
    target: _Target,
    entry_schema: Schema,
    entry: dict[str, Any],
    where: str,
) -> Dimension:
    """A checked ``low``/``high`` (``log``, ``step``) entry."""
    for bound in ("low", "high"):
        if bound not in entry:
            raise SearchError(
                f'{where}: a range needs "low" and "high" ({bound} is missing), or give '
                '"choices": [...]'
            )
    low = entry_schema.get(entry, "low")
    high = entry_schema.get(entry, "high")
    log = entry_schema.get(entry, "log")
    step = entry_schema.get(entry, "step")
    integer = target.kind == "int"
    if integer:
        for name, value in (("low", low), ("high", high), ("step", step)):
            if value is not None and not (isinstance(value, int) or float(value).is_integer()):
                raise SearchError(
                    f"{where}: {name} {value:g} must be a whole number: {key} is an integer setting"
                )
        low, high = int(low), int(high)
        step = int(step) if step is not None else None
    if low > high:
        raise SearchError(
            f"{where}: low {low:g} is above high {high:g}; make low at most high (swap them)"
        )
    if log and low <= 0:
        raise SearchError(
            f'{where}: a log range needs low above 0 (got {low:g}); raise low or drop "log": true'
        )
    if log and step is not None:
        raise SearchError(f'{where}: "log" and "step" cannot be combined; remove one of them')
    if step is not None and not _fits_steps(low, high, step):
        raise SearchError(
            f"{where}: high - low ({high - low:g}) is not a multiple of step {step:g}; "
            "change high or step"
        )
    for name, value in (("low", low), ("high", high)):
        why = target.check(value)
        if why is not None:
            raise SearchError(f"{where}: {name} {value:g} is outside what {key} accepts: {why}")
    return Dimension(key, node, param, "int" if integer else "float", low, high, log, step)


def _fits_steps(low: float, high: float, step: float) -> bool:
    n = (high - low) / step
    return abs(n - round(n)) <= 1e-9 * max(1.0, abs(n))


def _choices(
    key: str, node: str | None, param: str, target: _Target, choices: list[Any], where: str
) -> Dimension:
    if not choices:
        raise SearchError(f"{where}: choices is empty; list at least one value")
    seen: list[Any] = []
    for value in choices:
        if not (value is None or isinstance(value, str | bool | int | float)):
            raise SearchError(f"{where}: choice {show(value)} must be a number, name or true/false")
        if any(type(value) is type(s) and value == s for s in seen):
            raise SearchError(f"{where}: choice {show(value)} is listed twice; list each once")
        why = target.check(value)
        if why is not None:
            raise SearchError(
                f"{where}: choice {show(value)} is not allowed for {key}; allowed: {why}"
            )
        seen.append(value)
    return Dimension(key, node, param, "categorical", choices=tuple(choices))


# -- applying a trial ---------------------------------------------------------------------------


def apply_params(design: Design, params: dict[str, Any]) -> Design:
    """A copy of ``design`` with one trial's ``params`` (key → value) set: training settings in
    its ``training`` section, ``node_id.param`` in that node's parameters. Keys that are not
    targets of this design raise :class:`SearchError` (the study was made for another design).
    """
    out = design.copy()
    training = dict(out.training) if isinstance(out.training, dict) else {}
    for key, value in params.items():
        node, param, _ = _target(out, key)
        if node is None:
            training[param] = value
        else:
            out.set_param(node, param, value)
    out.training = training
    return out
