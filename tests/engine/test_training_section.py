"""Training-section edits without Qt: which keys an edit sets, refusals, number fields."""

from __future__ import annotations

import pytest

from engine.editing.training_section import (
    REMOVE,
    check_setting,
    number_value,
    setting_changes,
)
from engine.errors import DeepwireError
from engine.io import load_design
from resources import template_path


def mlp(**training):
    design = load_design(template_path("mlp"))
    design.training = {**design.training, **training}
    return design


def test_a_valid_value_sets_its_key_and_the_same_value_sets_nothing():
    design = mlp(epochs=5)
    assert setting_changes(design, "epochs", 8) == {"epochs": 8}
    assert setting_changes(design, "epochs", 5) == {}
    assert design.training["epochs"] == 5  # the design is only read


def test_an_invalid_value_is_refused_with_the_engines_reason():
    design = mlp(lr=0.001)
    with pytest.raises(DeepwireError, match="lr"):
        setting_changes(design, "lr", 0.0)
    with pytest.raises(DeepwireError, match="epochs"):
        check_setting(design, "epochs", -1)
    check_setting(design, "lr", 0.01)  # a valid one passes


def test_a_task_change_takes_a_fitting_loss_along():
    design = mlp(task="classification", loss="cross_entropy")
    assert setting_changes(design, "task", "regression") == {"task": "regression", "loss": "mse"}
    assert setting_changes(design, "task", "classification") == {}
    design.training.pop("loss")
    assert setting_changes(design, "task", "regression") == {"task": "regression"}


def test_number_fields_map_to_section_values():
    design = mlp(early_stopping={"patience": 3, "min_delta": 0.01})
    assert number_value(design, "early_stopping", 0) is REMOVE
    assert number_value(design, "early_stopping", 6) == {"patience": 6, "min_delta": 0.01}
    assert design.training["early_stopping"] == {"patience": 3, "min_delta": 0.01}
    assert number_value(mlp(), "early_stopping", 2) == {"patience": 2}
    assert number_value(design, "epochs", 7.0) == 7 and isinstance(
        number_value(design, "batch_size", 32.0), int
    )
    assert number_value(design, "lr", 0.5) == 0.5


def test_removing_a_key_is_checked_like_setting_one():
    design = mlp(early_stopping={"patience": 3})
    assert setting_changes(design, "early_stopping", REMOVE) == {"early_stopping": REMOVE}
    assert repr(REMOVE) == "REMOVE"
