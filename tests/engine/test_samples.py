"""Epoch samples: one type per family view, each naming its view; every task has a view."""

from __future__ import annotations

import typing

from engine.training.config import TASKS
from engine.training.samples import TASK_VIEWS, EpochSample, view_of_task


def test_every_task_names_a_view_of_one_sample_type():
    types = typing.get_args(EpochSample)
    views = [t.view for t in types]
    assert len(set(views)) == len(types) == 5
    assert set(TASK_VIEWS) == set(TASKS) and set(TASK_VIEWS.values()) == set(views)
    assert view_of_task("forecast") == view_of_task("regression") == "scatter"
    assert view_of_task("no such task") == ""
