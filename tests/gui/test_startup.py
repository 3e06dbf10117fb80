"""Instant start: the window opens without torch, loads it in the background once it has
painted, and Train waits for it visibly ("Loading PyTorch…", disabled) instead of freezing."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import gui.torch_loader
from gui.panels.training.panel import LOADING_TEXT
from gui.torch_loader import THREAD_NAME, TorchLoader
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

ROOT = Path(__file__).resolve().parents[2]

_IMPORT_PROBE = """
import json, sys
import gui.app, gui.mainwindow, gui.panels.training, gui.runner
print(json.dumps(sorted(m for m in ("torch", "engine.training.trainer") if m in sys.modules)))
"""


def test_the_window_modules_do_not_import_torch():
    result = subprocess.run(
        [sys.executable, "-c", _IMPORT_PROBE],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


@pytest.fixture
def slow_loader(monkeypatch):
    """The window's PyTorch loader, held in its import thread until ``release`` is set."""
    release = threading.Event()
    loader = TorchLoader(modules=("deepwire_not_imported_yet",))
    monkeypatch.setattr(gui.torch_loader, "_LOADER", loader)
    monkeypatch.setattr(gui.torch_loader, "_load", lambda _modules: release.wait(30))
    yield loader, release
    release.set()
    assert loader.wait(30)


def _loader_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == THREAD_NAME and t.is_alive()]


def test_train_waits_visibly_for_pytorch_then_works(main_window, qtbot, slow_loader):
    loader, release = slow_loader
    win, _prompts = main_window(template_path("mlp"), exposed=True)
    panel = win.training_panel
    # the window painted first, then started loading in the background
    qtbot.waitUntil(lambda: loader.loading, timeout=5000)
    assert [t.daemon for t in _loader_threads()] == [True]  # it can never hold the process
    assert panel.state_label.text() == LOADING_TEXT
    assert not panel.train_action.isEnabled()
    assert "PyTorch is loading" in panel.train_action.toolTip()
    assert "loading" in win.device_label.text()
    assert not panel.train()  # F5 / a script: refused while loading, nothing starts
    assert not panel.is_training

    release.set()
    qtbot.waitUntil(panel.train_action.isEnabled, timeout=10_000)
    assert panel.state_label.text() == "Ready"
    assert win.device_label.text().startswith("Device: ")
    assert "loading" not in win.device_label.text()
    assert panel.train_action.toolTip() == "Train the design (F5)"


def test_a_design_with_problems_still_says_why_once_pytorch_has_loaded(
    main_window, qtbot, slow_loader
):
    loader, release = slow_loader
    win, _prompts = main_window(None, exposed=True)  # empty: Train is blocked by the design
    qtbot.waitUntil(lambda: loader.loading, timeout=5000)
    release.set()
    qtbot.waitUntil(lambda: not loader.loading, timeout=10_000)
    panel = win.training_panel
    assert not panel.train_action.isEnabled()
    assert "empty" in panel.train_action.toolTip()


def test_a_window_opened_with_pytorch_loaded_can_train_at_once(main_window):
    # the GUI tests' session fixture imported gui.torch_loader.MODULES, as a process that
    # imported torch before its window (--screenshot, a bench)
    win, _prompts = main_window(template_path("mlp"))
    assert gui.torch_loader.torch_loader().is_ready()
    assert win.training_panel.train_action.isEnabled()
    assert win.training_panel.state_label.text() != LOADING_TEXT


def _prepare_calls(monkeypatch) -> list[dict]:
    """Record every prepare_data call a training run makes itself."""
    import engine.training.trainer as trainer_module

    calls: list[dict] = []
    real = trainer_module.prepare_data

    def spy(spec, *args, **kwargs):
        calls.append(spec)
        return real(spec, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "prepare_data", spy)
    return calls


def _final_loss(qtbot, panel) -> float:
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as finished:
        assert panel.train(overrides={"epochs": 1})
    result = finished.args[0]
    assert result.ok, result.error
    return result.summary.final["train_loss"]


def prepared(panel, design) -> bool:
    return panel.prepared.get(design.data, panel.config().seed) is not None


def test_train_reuses_the_data_prepared_while_the_design_was_open(main_window, qtbot, monkeypatch):
    from gui.commands import SetSection

    calls = _prepare_calls(monkeypatch)
    win, _prompts = main_window(template_path("mlp"), exposed=True)
    panel = win.training_panel
    design = win.document.design
    # opened: the built-in data is prepared in the background, ahead of Train
    qtbot.waitUntil(lambda: prepared(panel, design), timeout=30_000)
    assert not panel.preparing_label.isVisible()
    cached_loss = _final_loss(qtbot, panel)
    assert calls == []  # the run trained on the prepared data: it prepared nothing itself

    # a run that prepares its own data from the same section and seed trains the same
    panel.prepared.clear()
    assert _final_loss(qtbot, panel) == cached_loss
    assert len(calls) == 1

    # an edit of the data section makes the prepared data stale: it is prepared again
    win.document.push(SetSection(win.document, "data", "preprocess", {"scale": "minmax"}))
    design = win.document.design
    assert not prepared(panel, design)
    qtbot.waitUntil(lambda: prepared(panel, design), timeout=30_000)
    _final_loss(qtbot, panel)
    assert len(calls) == 1
