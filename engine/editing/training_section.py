"""Training-section edits: which keys of the design's ``training`` section each settings edit sets.

The training panel's form calls these and pushes one undo command per key they return (a macro
when there are several); nothing here knows about Qt. An edit the engine would refuse raises the
:class:`~engine.errors.DeepwireError` that :meth:`TrainConfig.from_design` gives, so the panel
shows that one line and pushes nothing. :data:`REMOVE` as a value deletes the key (the engine
then uses its default).
"""

from __future__ import annotations

import copy
from typing import Any

from engine.graph import Design
from engine.training.config import TASK_LOSSES, TrainConfig

#: A value that deletes its key from the section (``SetSection`` understands it too).
REMOVE: Any = type("Remove", (), {"__repr__": lambda self: "REMOVE"})()


def section_of(design: Design) -> dict[str, Any]:
    """The design's training section (empty when it is not an object)."""
    return design.training if isinstance(design.training, dict) else {}


def check_setting(design: Design, key: str, value: Any) -> None:
    """Raise the engine's one-line error when ``training[key] = value`` (or deleting ``key``,
    for :data:`REMOVE`) leaves a section that cannot train."""
    section = dict(section_of(design))
    if value is REMOVE:
        section.pop(key, None)
    else:
        section[key] = value
    probe = copy.copy(design)  # shallow: only the training section differs
    probe.training = section
    TrainConfig.from_design(probe)


def setting_changes(design: Design, key: str, value: Any) -> dict[str, Any]:
    """The keys to set, in order, for the edit ``training[key] = value``; empty when the section
    already holds that value. Choosing a task whose losses do not include the chosen loss also
    sets that task's default loss. Raises the engine's error when the edit is refused."""
    section = section_of(design)
    if key == "task":
        if section.get("task") == value:
            return {}
        loss = section.get("loss")
        if loss is not None and loss not in TASK_LOSSES[value]:
            return {"task": value, "loss": TASK_LOSSES[value][0]}
        check_setting(design, "task", value)
        return {"task": value}
    current = section.get(key, REMOVE)
    if current is not REMOVE and current == value:
        return {}
    check_setting(design, key, value)
    return {key: value}


def number_value(design: Design, key: str, number: float) -> Any:
    """The section value a number field's ``number`` means: epochs and batch size as whole
    numbers; early-stopping patience 0 as :data:`REMOVE` (off), otherwise the early_stopping
    object with that patience (its other keys kept)."""
    if key == "early_stopping":
        if number == 0:
            return REMOVE
        old = section_of(design).get("early_stopping")
        new = dict(old) if isinstance(old, dict) else {}
        new["patience"] = int(number)
        return new
    if key in ("epochs", "batch_size"):
        return int(number)
    return number
