"""Search-section edits: the new ``search`` section each edit of the search space gives.

A front end (the Search panel, the inspector's "search this parameter") calls these and pushes
one undo command that replaces ``design.search`` with the returned dict (undo puts the old one
back); nothing here knows about Qt and nothing changes the design in place. An edit that would
leave an invalid entry raises :class:`~engine.search_space.SearchError` (one line) and the
front end pushes nothing.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from engine.graph import Design
from engine.layers import REGISTRY
from engine.search_space import (
    SEARCH,
    SearchError,
    parse_entry,
    section_of,
)
from engine.training.config import TRAINING, TrainConfig


def with_entry(design: Design, key: str, entry: dict[str, Any]) -> dict[str, Any]:
    """The search section with ``space[key] = entry`` (added last, or replaced in place);
    raises :class:`SearchError` when the entry is invalid for this design."""
    parse_entry(design, key, entry)
    section = copy.deepcopy(section_of(design))
    space = section.get("space") if isinstance(section.get("space"), dict) else {}
    section["space"] = {**space, key: copy.deepcopy(entry)}
    return section


def without_entry(design: Design, key: str) -> dict[str, Any]:
    """The search section without ``space[key]`` (an empty space keeps the section's options;
    a section left with nothing at all becomes ``{}``, which the file then omits)."""
    section = copy.deepcopy(section_of(design))
    space = section.get("space") if isinstance(section.get("space"), dict) else {}
    if key not in space:
        raise SearchError(f"search: {key!r} is not in the search space; nothing to remove")
    space = {k: v for k, v in space.items() if k != key}
    section["space"] = space
    if not space and set(section) == {"space"}:
        return {}
    return section


def with_option(design: Design, name: str, value: Any) -> dict[str, Any]:
    """The search section with option ``name`` (seed, pruning, startup_trials, warmup_epochs)
    set to ``value``, checked."""
    if name == "space" or name not in SEARCH.fields:
        allowed = ", ".join(k for k in SEARCH.keys if k != "space")
        raise SearchError(f"search: {name!r} is not an option; options: {allowed}")
    SEARCH.check(name, value)
    section = copy.deepcopy(section_of(design))
    section[name] = value
    return section


def default_entry(design: Design, key: str) -> dict[str, Any]:
    """A sensible first entry for "search this parameter": a log range around the current
    learning rate, halving and doubling a size, every choice of a named setting, ±50 % of a
    number kept inside what the target accepts. The result always passes :func:`with_entry`."""
    if "." not in key:
        config = TrainConfig.from_design(design)
        current = getattr(config, key, None)
        field = TRAINING.fields.get(key)
        choices = getattr(field, "choices", None)
        if choices:
            entry: dict[str, Any] = {"choices": list(choices)}
        elif key == "lr":
            entry = {"low": current / 10, "high": min(current * 10, 10.0), "log": True}
        elif key in ("batch_size", "epochs"):
            entry = {"low": max(1, current // 2), "high": max(2, current * 2)}
        elif key == "weight_decay":
            entry = {"low": 0.0, "high": 0.01}
        elif key == "momentum":
            entry = {"low": 0.5, "high": 0.99}
        else:
            top = getattr(field, "high", 1.0)
            base = current if isinstance(current, int | float) and current else 0.1
            entry = {"low": 0.0 if key != "grad_clip" else base / 2, "high": min(base * 2, top)}
        parse_entry(design, key, entry)
        return entry
    node_id, _, param = key.partition(".")
    if node_id not in design or design.node(node_id).type not in REGISTRY:
        parse_entry(design, key, {"choices": []})  # raises the one-line reason
    spec = REGISTRY.get(design.node(node_id).type)
    try:
        p = spec.param(param)
    except KeyError:
        parse_entry(design, key, {"choices": []})
        raise
    current = design.node(node_id).params.get(param, p.default)
    if p.kind == "bool":
        entry = {"choices": [True, False]}
    elif p.kind == "choice":
        entry = {"choices": list(p.choices)}
    elif p.kind == "int":
        lo = max(int(p.minimum) if p.minimum is not None else 1, max(1, current // 2))
        hi = current * 2 if current > 0 else current + 4
        if p.maximum is not None:
            hi = min(hi, int(p.maximum) - (1 if p.exclusive_maximum else 0))
        entry = {"low": min(lo, hi), "high": max(lo, hi)}
    elif p.kind == "float":
        lo = round(current / 2, 6) if current > 0 else 0.0
        hi = round(current * 1.5, 6) if current > 0 else 1.0
        if p.minimum is not None:
            lo = max(lo, float(p.minimum))
        if p.maximum is not None:
            top = float(p.maximum)
            below = round(top - 0.01 * abs(top), 6) if top else math.nextafter(top, -math.inf)
            hi = min(hi, below if p.exclusive_maximum else top)
        entry = {"low": min(lo, hi), "high": max(lo, hi)}
    else:
        parse_entry(design, key, {"choices": [current]})  # raises: not searchable
        raise SearchError(f"search: {key!r} cannot be searched")
    parse_entry(design, key, entry)
    return entry
