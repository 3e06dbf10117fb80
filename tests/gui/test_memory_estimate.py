"""The status bar shows the memory training needs beside the parameter count, and Train refuses a
design that cannot fit with the engine's one-line message (nothing is allocated)."""

from __future__ import annotations

import pytest

import engine.memory
from engine.io import load_design
from gui.commands import SetSection
from resources import template_path
from tests.helpers import huge_mlp

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

GIB = 2**30


def huge():
    design = huge_mlp()
    design.data = {"source": "builtin", "name": "digits"}
    design.training = {"device": "cpu", "epochs": 1}
    return design


def test_status_bar_shows_the_estimate_and_follows_the_batch_size(main_window, monkeypatch):
    monkeypatch.setattr(engine.memory, "system_available_memory", lambda: 2 * GIB)
    design = load_design(template_path("mlp"))
    design.training["device"] = "cpu"
    window, _ = main_window(design)
    label = window.train_memory_label
    assert label.isVisible()
    assert label.text().startswith("Training: ") and "of 2.00 GiB free" in label.text()
    assert "optimizer state (adam)" in label.toolTip()
    monkeypatch.setattr(engine.memory, "system_available_memory", lambda: 2**20)
    window.document.push(SetSection(window.document, "training", "batch_size", 4096))
    assert "does not fit at batch 4096; at most" in label.text()
    window.document.undo_stack.undo()
    assert "does not fit" not in label.text()


def test_train_refuses_a_design_that_cannot_fit(main_window, qtbot, monkeypatch):
    monkeypatch.setattr(engine.memory, "system_available_memory", lambda: 8 * GIB)
    window, _ = main_window(huge())
    assert "does not fit at batch 64" in window.train_memory_label.text()
    panel = window.training_panel
    with qtbot.waitSignal(panel.runner.finished, timeout=60_000) as finished:
        panel.train()
    error = finished.args[0].error
    assert error is not None and "node 'fc2'" in error and "8.00 GiB free RAM" in error
    assert "\n" not in error and "alloc_cpu" not in error
    assert "node 'fc2'" in panel.error_label.text()
