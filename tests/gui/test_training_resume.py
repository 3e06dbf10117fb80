"""Train → Resume From Checkpoint… continues a run where it stopped, refuses another design's
checkpoint, and the Export… button after a finished run opens the export dialog on that run."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pytest
import torch

from engine.compile import compile_design
from engine.data import prepare_data
from engine.io import load_design
from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint
from gui.commands import Disconnect
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
WAIT_MS = 60_000


class FakeChooser:
    """Answers the file dialog with a fixed path and records where it opened."""

    def __init__(self, answer: Path | None) -> None:
        self.answer = answer
        self.starts: list[str] = []

    def open_file(self, title: str, start: str, filters: str) -> Path | None:
        self.starts.append(start)
        return self.answer


def training_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


@pytest.fixture(scope="module")
def tiny_digits():
    """The MLP template's digits, cut to 200 training and 60 validation samples."""
    data = prepare_data(load_design(template_path("mlp")).data, None, 0)
    return dataclasses.replace(
        data,
        x_train=data.x_train[:200],
        y_train=data.y_train[:200],
        x_val=data.x_val[:60],
        y_val=data.y_val[:60],
    )


@pytest.fixture
def window(main_window, tmp_path, tiny_digits):
    """A main window on the MLP template (2 epochs, CPU, tiny data, runs under tmp_path)."""
    made = []

    def make():
        design = load_design(template_path("mlp"))
        design.training["epochs"] = 2
        design.training["device"] = "cpu"
        win, _prompts = main_window(design)
        panel = win.training_panel
        panel.runs_dir = tmp_path / "runs"
        panel.data = tiny_digits
        made.append(panel)
        return win

    yield make
    for panel in made:
        assert panel.shutdown(10.0)
    assert not training_threads()


def epoch_rows(run_dir: Path) -> list[dict]:
    rows = [
        json.loads(line)
        for line in (run_dir / "metrics.jsonl").read_text().splitlines()
        if line.strip()
    ]
    return [r for r in rows if "val_loss" in r]


def run(qtbot, panel, start) -> object:
    with qtbot.waitSignal(panel.runFinished, timeout=WAIT_MS) as finished:
        start()
        assert panel.is_training, panel.error_label.text()
    return finished.args[0]


def test_resume_continues_from_last_checkpoint_to_the_total_epochs(qtbot, window):
    win = window()
    panel = win.training_panel
    assert panel.resume_action.isEnabled()
    first = run(qtbot, panel, panel.train)
    assert first.ok and first.summary.epochs_completed == 2
    first_dir = panel.last_out_dir
    last = first_dir / "last.pt"
    assert last.is_file()

    assert panel.set_setting("epochs", 3)  # the total, as the settings say
    # run folders are named to the second: let the clock move on so the resumed run gets its own
    qtbot.waitUntil(
        lambda: not first_dir.name.endswith(time.strftime("%Y%m%d-%H%M%S")), timeout=3000
    )
    chooser = FakeChooser(last)
    panel.chooser = chooser
    result = run(qtbot, panel, panel.resume_action.trigger)
    assert chooser.starts == [str(first_dir)]  # the dialog opened in the last run's folder
    assert result.ok, result.error
    assert panel.state_label.text() == "Finished 3 epochs"
    assert panel.start_event.start_epoch == 2
    assert panel.epoch_done == 3
    # the resumed run's metrics carry the first run's epochs on, with epoch 3 added
    assert panel.last_out_dir != first_dir
    before, after = epoch_rows(first_dir), epoch_rows(panel.last_out_dir)
    assert [r["epoch"] for r in after] == [1, 2, 3]
    assert after[:2] == before and after[2]["val_loss"] > 0
    assert 3 in [h[0] for h in panel.history] and 1 not in [h[0] for h in panel.history]
    # the plots go on from the resumed epoch: the earlier epochs from the checkpoint's
    # history, the live batch curve only from the resumed step on
    plots = win.plots
    assert list(plots.epoch_series["train_loss"].x) == [1.0, 2.0, 3.0]
    batch_x = plots.step_series["loss"].x  # in epochs: only epoch 3's batches
    assert len(batch_x) == 4 and min(batch_x) > 2.0 and max(batch_x) == 3.0
    assert panel.train_action.isEnabled() and panel.resume_action.isEnabled()


def test_a_checkpoint_of_another_design_is_refused_and_nothing_starts(qtbot, window, tmp_path):
    win = window()
    panel = win.training_panel
    other = load_design(template_path("mlp"))
    other.set_param("hidden1", "out_features", 32)
    torch.manual_seed(0)
    path = tmp_path / "other.pt"
    save_checkpoint(
        path,
        checkpoint_from_modules(
            other,
            {next(iter(other.networks)): compile_design(other)},
            epoch=1,
            metrics={"val_loss": 0.5},
            data_info={"task": "classification"},
        ),
    )
    panel.chooser = FakeChooser(path)
    panel.resume_action.trigger()
    assert not panel.is_training and not training_threads()
    assert panel.error_label.isVisible()
    text = panel.error_label.text()
    assert "other.pt" in text and "different design" in text and "\n" not in text
    assert win.statusBar().currentMessage() == text
    assert panel.last_result is None and panel.last_out_dir is None

    panel.chooser = FakeChooser(None)  # cancelling the dialog starts nothing either
    assert not panel.resume_from_checkpoint()
    assert not panel.is_training


def test_resume_is_disabled_while_training_and_when_the_design_has_problems(qtbot, window):
    win = window()
    panel = win.training_panel
    with qtbot.waitSignal(panel.runFinished, timeout=WAIT_MS):
        assert panel.train()
        assert not panel.resume_action.isEnabled()
        assert not panel.resume_from_checkpoint(Path("anything.pt"))
    assert panel.resume_action.isEnabled()
    doc = win.document
    doc.push(Disconnect(doc, doc.design.edges[0]))
    reason = panel.blocked_reason()
    assert reason is not None and "problem" in reason
    assert not panel.resume_action.isEnabled()
    assert panel.resume_action.toolTip() == reason
    assert not panel.resume_from_checkpoint(panel.last_out_dir / "last.pt")
    assert panel.error_label.text() == reason and not panel.is_training


def test_export_button_after_a_finished_run_opens_the_dialog_on_that_run(qtbot, window):
    win = window()
    panel = win.training_panel
    assert not panel.export_button.isVisible()
    result = run(qtbot, panel, panel.train)
    assert result.ok
    assert panel.export_button.isVisible()
    panel.export_button.click()
    dialog = win.export_dialog
    assert dialog is not None and dialog.isVisible()
    assert Path(dialog.checkpoint_edit.text()) == panel.last_out_dir / "best.pt"
    dialog.close()
    # a new run hides the button until it finishes
    with qtbot.waitSignal(panel.runFinished, timeout=WAIT_MS):
        assert panel.train()
        assert not panel.export_button.isVisible()
    assert panel.export_button.isVisible()
