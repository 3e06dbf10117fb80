"""Training from the editor as a user meets it: the Train menu and panel, live plots, settings
that are undoable edits of the design, failures in one line, the family views, overfitting help,
a flood of events, ``--train-for`` screenshots, and no thread left behind."""

from __future__ import annotations

import os
import statistics
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QImage

from engine.io import load_design
from engine.training.events import BatchEvent, EpochEvent, LayerStats, TrainStartEvent
from gui.commands import Disconnect, SetParam, SetSection
from gui.panels.training import overfitting
from resources import template_path
from tests.gui.fakes import FakePrompts
from tests.helpers import run_python

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def training_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


@pytest.fixture
def window(qtbot):
    """Factory: a shown main window on a template (its training epochs set); closed after."""
    from gui.document import Document
    from gui.mainwindow import MainWindow

    made = []

    def make(stem: str = "mlp", epochs: int | None = 2):
        design = load_design(template_path(stem))
        if epochs is not None:
            design.training["epochs"] = epochs
        design.training["device"] = "cpu"
        doc = Document()
        doc.reset(design, None)
        win = MainWindow(doc, prompts=FakePrompts())
        qtbot.addWidget(win)
        win.resize(1400, 900)
        with qtbot.waitExposed(win, timeout=5000):
            win.show()
        made.append(win)
        return win

    yield make
    for win in made:
        win.document.undo_stack.setClean()
        win.close()  # asks the workers to stop; joined here
        assert win.training_panel.shutdown(30.0) and win.data_panel.shutdown(30.0)
    assert not training_threads()
    assert not [
        t for t in threading.enumerate() if t.name == "deepwire-data-preview" and t.is_alive()
    ]


def train(qtbot, win, timeout: int = 60_000):
    """Press Train (F5's action) and wait for the run's end; returns the RunResult."""
    panel = win.training_panel
    with qtbot.waitSignal(panel.runFinished, timeout=timeout) as finished:
        win.training_panel.train_action.trigger()
        assert panel.is_training, panel.error_label.text()
    return finished.args[0]


def menu_texts(win, title: str) -> list[str]:
    for action in win.menuBar().actions():
        if action.text().replace("&", "") == title:
            return [a.text().replace("&", "") for a in action.menu().actions() if a.text()]
    raise KeyError(title)


def test_train_menu_and_shortcuts(window):
    win = window()
    assert menu_texts(win, "Train") == [
        "Train",
        "Pause",
        "Stop",
        "Resume From Checkpoint…",
        "Step Through One Batch…",
    ]
    panel = win.training_panel
    assert panel.train_action.shortcut().toString() == "F5"
    assert panel.stop_action.shortcut().toString() == "Shift+F5"
    assert panel.train_action.isEnabled()
    assert not panel.pause_action.isEnabled() and not panel.stop_action.isEnabled()
    assert {"Training", "Plots"} <= set(menu_texts(win, "View"))


def test_training_the_mlp_fills_the_plots_and_shows_a_summary(qtbot, window):
    win = window("mlp", epochs=2)
    result = train(qtbot, win)
    panel, plots = win.training_panel, win.plots
    assert result.ok and result.summary.epochs_completed == 2
    assert panel.state_label.text() == "Finished 2 epochs"
    assert panel.progress.value() == 1000
    assert panel.result_label.isVisible() and "2 epochs" in panel.result_label.text()
    assert "val accuracy" in panel.values_label.text()
    assert win.statusBar().currentMessage() == "Finished 2 epochs"
    # curves: a point per logged step, one per epoch for train and validation loss
    assert plots.step_series["loss"].n == -(-result.summary.n_train // 64) * 2
    assert list(plots.epoch_series["train_loss"].x) == [1.0, 2.0]
    assert plots.epoch_series["val_loss"].n == 2
    assert plots.metric_series["val_accuracy"].n == 2
    curve_x, _ = plots.epoch_curves["val_loss"].getData()
    assert list(curve_x) == [1.0, 2.0]  # drawn, not only collected
    # the insides: activation statistics and gradient norms per layer
    assert {"hidden1", "relu1", "logits"} <= set(plots.layer_order)
    assert "pixels" not in plots.layer_order  # an Input only passes data on
    assert plots.grad_series["hidden1"].n >= 2
    # the family view: a 10 × 10 confusion matrix whose diagonal holds most samples
    image = plots.family_items["image"].image
    assert image.shape == (10, 10) and np.trace(image) > 5
    assert "correct" in plots.family_items["image_plot"].titleLabel.text
    assert panel.train_action.isEnabled() and not panel.stop_action.isEnabled()


def test_stop_and_pause_from_the_gui(qtbot, window):
    win = window("mlp", epochs=5_000)
    panel = win.training_panel
    panel.train_action.trigger()
    qtbot.waitUntil(lambda: panel.step > 0, timeout=60_000)
    assert not panel.train_action.isEnabled()
    panel.pause_action.trigger()
    assert panel.runner.state == "paused" and panel.pause_action.text() == "&Resume"
    qtbot.wait(300)
    held = panel.runner._run.trainer.step
    qtbot.wait(400)
    assert panel.runner._run.trainer.step == held
    panel.pause_action.trigger()
    assert panel.runner.state == "running" and panel.pause_action.text() == "&Pause"
    qtbot.waitUntil(lambda: panel.runner._run.trainer.step > held, timeout=20_000)
    t0 = time.perf_counter()
    with qtbot.waitSignal(panel.runFinished, timeout=10_000) as finished:
        panel.stop_action.trigger()
    assert time.perf_counter() - t0 < 5.0
    assert finished.args[0].stopped
    assert panel.state_label.text().startswith("Stopped after")
    assert panel.train_action.isEnabled()


def test_a_failing_run_shows_one_line_and_the_window_stays_usable(qtbot, window):
    win = window("mlp", epochs=1)
    doc = win.document
    doc.push(SetParam(doc, "pixels", "shape", [32]))  # valid design, but the data has 64
    assert win.training_panel.train_action.isEnabled()
    result = train(qtbot, win)
    panel = win.training_panel
    assert not result.ok
    text = panel.error_label.text()
    assert panel.error_label.isVisible() and text.startswith("Training failed:")
    assert "\n" not in text and "pixels" in text
    assert "pixels" in win.statusBar().currentMessage()
    win.undo_action.trigger()  # the editor still works: undo, then train successfully
    assert doc.design.node("pixels").params["shape"] == [64]
    assert train(qtbot, win).ok
    assert not panel.error_label.isVisible()


def test_train_is_disabled_while_the_design_has_problems(window):
    win = window("mlp")
    doc = win.document
    edge = next(e for e in doc.design.edges if e.target == "hidden2")
    doc.push(Disconnect(doc, edge))
    panel = win.training_panel
    assert not panel.train_action.isEnabled()
    assert panel.blocked_label.isVisible() and "problem" in panel.blocked_label.text()
    assert not panel.train()
    assert not panel.is_training
    win.undo_action.trigger()
    assert panel.train_action.isEnabled() and not panel.blocked_label.isVisible()


def test_settings_are_undoable_edits_saved_with_the_design(qtbot, window, tmp_path):
    win = window("mlp", epochs=None)
    doc, panel = win.document, win.training_panel
    assert panel.epochs_spin.value() == 30
    panel.epochs_spin.setValue(7)
    assert doc.design.training["epochs"] == 7 and doc.modified
    assert win.undo_action.text().replace("&", "") == "Undo Set training epochs to 7"
    panel.epochs_spin.setValue(8)  # consecutive edits of one setting: one undo step
    win.undo_action.trigger()
    assert doc.design.training["epochs"] == 30 and panel.epochs_spin.value() == 30
    win.redo_action.trigger()
    assert panel.epochs_spin.value() == 8
    panel.optimizer_combo.setCurrentText("sgd")
    panel.optimizer_combo.activated.emit(panel.optimizer_combo.currentIndex())
    assert doc.design.training["optimizer"] == "sgd"
    panel.patience_spin.setValue(4)
    assert doc.design.training["early_stopping"] == {"patience": 4}
    panel.patience_spin.setValue(0)  # "off"
    assert "early_stopping" not in doc.design.training
    assert not panel.tensorboard_check.isChecked()
    panel.tensorboard_check.setChecked(True)  # TensorBoard event files: one undoable edit
    assert doc.design.training["tensorboard"] is True
    assert win.undo_action.text().replace("&", "") == "Undo Set training tensorboard to True"
    win.undo_action.trigger()
    assert "tensorboard" not in doc.design.training and not panel.tensorboard_check.isChecked()
    # an invalid value is refused with the reason; the design and the undo stack stay
    count = doc.undo_stack.count()
    panel.lr_spin.setValue(0.0)
    assert doc.design.training["lr"] == 0.001 and doc.undo_stack.count() == count
    assert panel.settings_error.isVisible() and "lr" in panel.settings_error.text()
    assert panel.lr_spin.value() == pytest.approx(0.001)
    # a task change picks a loss that fits, in one undo step
    panel.set_setting("task", "regression")
    assert doc.design.training["task"] == "regression"
    assert doc.design.training["loss"] == "mse"
    assert [panel.loss_combo.itemText(i) for i in range(panel.loss_combo.count())] == [
        "mse",
        "l1",
        "huber",
    ]
    win.undo_action.trigger()
    assert doc.design.training["loss"] == "cross_entropy"
    path = tmp_path / "saved.json"
    doc.save(path)
    saved = load_design(path).training
    assert saved["epochs"] == 8 and saved["optimizer"] == "sgd"


def test_set_section_undo_restores_the_exact_section(window):
    win = window("mlp", epochs=None)
    doc = win.document
    before = dict(doc.design.training)
    doc.push(SetSection(doc, "training", "weight_decay", 0.01))
    doc.push(SetSection(doc, "data", "name", "iris"))
    assert doc.design.data["name"] == "iris"
    doc.undo_stack.undo()
    doc.undo_stack.undo()
    assert doc.design.training == before and list(doc.design.training) == list(before)
    assert doc.design.data["name"] == "digits"


def test_gan_and_som_family_views_receive_images(qtbot, window):
    win = window("gan", epochs=2)
    assert train(qtbot, win).ok
    items = win.plots.family_items
    grid = items["image"].image
    assert grid is not None and grid.ndim == 2 and grid.shape[0] > 8 * 4
    assert "epoch 2" in items["image_plot"].titleLabel.text
    assert {"d_loss", "g_loss"} <= set(win.plots.epoch_series)
    assert win.plots.metric_series["sample_diversity"].n == 2

    win = window("som", epochs=2)
    assert train(qtbot, win).ok
    items = win.plots.family_items
    assert items["u_matrix"].image.shape == items["hit_map"].image.shape == (10, 10)
    assert items["hit_map"].image.sum() > 100  # every validation sample hits some unit
    assert "SOM" in win.plots.grad_note.toPlainText()


def test_overfitting_rule():
    falling = [(e, 1.0 / e, 0.5 + 0.01 * (e - 3) ** 2) for e in range(1, 9)]
    message = overfitting(falling)
    assert message and "epoch 3" in message and "Dropout" in message
    assert overfitting(falling[:5]) is None  # not yet patience epochs past the best
    both_rise = [(e, 1.0 + e, 0.5 + 0.01 * (e - 3) ** 2) for e in range(1, 9)]
    assert overfitting(both_rise) is None  # training loss rising too: not overfitting
    assert overfitting([(e, 1.0 / e, None) for e in range(1, 9)]) is None


def test_the_panel_warns_about_overfitting(window):
    win = window("mlp")
    panel = win.training_panel
    events = [TrainStartEvent("classification", "cpu", 10, 0, 10, 100, 20, "test", ("loss",))]
    for e in range(1, 8):
        events.append(
            EpochEvent(
                e,
                10,
                10 * e,
                {"train_loss": 1.0 / e, "val_loss": 0.5 + 0.02 * (e - 3) ** 2},
                1e-3,
                float(e),
                e <= 3,
            )
        )
    panel.runner.eventsReady.emit(events)
    assert panel.warning_label.isVisible()
    assert "Overfitting" in panel.warning_label.text()
    assert "early stopping" in panel.warning_label.text()


def test_a_flood_of_events_keeps_the_window_responsive(qtbot, window):
    win = window("mlp")
    runner = win.training_panel.runner
    stats = {"hidden1": LayerStats(0.1, 1.0, 0.0), "relu1": LayerStats(0.4, 0.6, 0.5)}
    events = [
        TrainStartEvent("classification", "cpu", 10, 0, 10_000, 640_000, 0, "flood", ("loss",))
    ]
    events += [
        BatchEvent(
            epoch=i // 10_000,
            step=i + 1,
            batch=i % 10_000 + 1,
            batches_per_epoch=10_000,
            steps=[i + 1],
            losses={"loss": [1.0 / (i + 1)]},
            lr=1e-3,
            samples_per_s=1e5,
            activation_stats=stats if i % 50 == 0 else None,
            grad_norms={"hidden1": 0.5} if i % 50 == 0 else None,
        )
        for i in range(100_000)
    ]
    runner.buffer.extend(events)
    ticks = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(1))
    heartbeat.start(5)
    durations = []
    while runner.buffer:
        t0 = time.perf_counter()
        runner.drain()
        durations.append(time.perf_counter() - t0)
        qtbot.wait(1)  # the event loop runs between drains, as with the runner's timer
    heartbeat.stop()
    win.plots.flush()
    assert len(durations) == 51  # 100,001 events in slices of 2,000
    # generous bounds: a responsiveness guard, not a benchmark (bench_runner measures speed)
    assert statistics.median(durations) < 0.5 and max(durations) < 5.0
    assert len(ticks) >= len(durations) // 2  # other timers kept firing: the UI responds
    assert win.plots.step_series["loss"].n == 100_000
    curve = win.plots.step_curves["loss"]
    x, _ = curve.getOriginalDataset()
    assert len(x) == 100_000 and x[-1] == pytest.approx(10.0)
    shown, _ = curve.getData()
    assert len(shown) < len(x)  # long runs draw downsampled
    assert win.training_panel.step == 100_000
    assert win.plots.grad_series["hidden1"].n == 2000


def test_closing_the_window_stops_a_run_without_waiting_for_it(qtbot, window):
    win = window("mlp", epochs=5_000)
    panel = win.training_panel
    panel.train_action.trigger()
    qtbot.waitUntil(lambda: panel.step > 0, timeout=60_000)
    assert len(training_threads()) == 1
    win.document.undo_stack.setClean()
    t0 = time.perf_counter()
    assert win.close()
    assert time.perf_counter() - t0 < 0.5  # the window went at once (responsiveness guard)
    assert not win.isVisible()
    qtbot.waitUntil(lambda: not training_threads(), timeout=30_000)  # it stopped by itself
    assert panel.shutdown(10.0) and not panel.is_training


def test_train_for_screenshot_trains_then_stops(qtbot, window):
    win = window("mlp", epochs=5_000)
    assert win.train_for_screenshot(0.5)
    assert not win.training_panel.is_training and not training_threads()
    assert win.plots.step_series["loss"].n > 0
    assert win.plots_dock.isVisible() and win.training_dock.isVisible()
    assert win.training_panel.state_label.text().startswith("Stopped after")


def test_main_screenshot_train_for_writes_the_png(tmp_path):
    out = tmp_path / "training.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    argv = ["--screenshot", str(out), "--size", "1000x700", "--train-for", "0.5"]
    result = run_python([str(REPO / "main.py"), *argv, str(template_path("som"))], env, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1000, 700)


# -- the data panel ---------------------------------------------------------------------------


def wait_preview(qtbot, panel, text: str) -> None:
    qtbot.waitUntil(lambda: text in panel.preview_label.text(), timeout=30_000)


def preview_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepwire-data-preview" and t.is_alive()]


def test_data_panel_edits_are_undoable_previewed_and_fit_the_input(qtbot, window):
    win = window("mlp")
    doc, panel = win.document, win.data_panel
    qtbot.wait(400)
    assert panel.preview is None and not preview_threads()  # nothing prepared while hidden
    win.data_dock.raise_()
    wait_preview(qtbot, panel, "1,437")
    assert not panel.mismatch_label.isVisible()
    combo = panel.dataset_combo
    combo.setCurrentIndex(combo.findData("iris"))
    combo.activated.emit(combo.currentIndex())
    assert doc.design.data["name"] == "iris"
    assert doc.design.data["preprocess"] == {"scale": "standard"}  # kept across datasets
    assert win.undo_action.text().replace("&", "") == "Undo Use the iris dataset"
    wait_preview(qtbot, panel, "120")
    assert "3 classes" in panel.preview_label.text()
    # the Input still expects 64 features: the engine's reason and a one-click fix
    assert panel.mismatch_label.isVisible() and "(4,)" in panel.mismatch_label.text()
    assert not win.problems.problems  # a valid design, only the data does not fit
    panel.fix_button.click()
    assert doc.design.node("pixels").params["shape"] == [4]
    assert not panel.mismatch_label.isVisible()
    win.undo_action.trigger()
    win.undo_action.trigger()
    assert doc.design.data["name"] == "digits"
    wait_preview(qtbot, panel, "1,437")
    panel.scale_combo.setCurrentText("minmax")
    panel.scale_combo.activated.emit(panel.scale_combo.currentIndex())
    assert doc.design.data["preprocess"]["scale"] == "minmax"


def test_data_panel_refuses_a_split_with_no_training_data(window):
    win = window("mlp")
    doc, panel = win.document, win.data_panel
    before = dict(doc.design.data)
    count = doc.undo_stack.count()
    panel.test_spin.setValue(0.8)  # 0.2 validation + 0.8 test leaves nothing to train on
    assert doc.design.data == before and doc.undo_stack.count() == count
    assert panel.error_label.isVisible() and "split" in panel.error_label.text()
    assert panel.test_spin.value() == 0.0


def test_data_panel_uses_a_csv_file_beside_the_design(qtbot, window, tmp_path):
    win = window("mlp")
    doc, panel = win.document, win.data_panel
    win.data_dock.raise_()
    doc.save(tmp_path / "design.json")
    rows = ["width,height,kind"] + [f"{i % 7},{(i * 3) % 5},{'ab'[i % 2]}" for i in range(40)]
    (tmp_path / "plants.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    panel.choose_path = lambda source, folder: str(tmp_path / "plants.csv")
    combo = panel.source_combo
    combo.setCurrentIndex(combo.findData("csv"))
    combo.activated.emit(combo.currentIndex())
    assert doc.design.data["source"] == "csv"
    assert doc.design.data["path"] == "plants.csv"  # relative to the design file
    assert doc.design.data["target"] == "kind"
    items = [panel.target_combo.itemText(i) for i in range(panel.target_combo.count())]
    assert items[1:] == ["width", "height", "kind"]
    wait_preview(qtbot, panel, "32")
    assert "2 classes: a, b" in panel.preview_label.text()
    assert "(2,)" in panel.mismatch_label.text()
    panel.choose_path = lambda source, folder: None  # a cancelled dialog changes nothing
    combo.setCurrentIndex(combo.findData("npz"))
    combo.activated.emit(combo.currentIndex())
    assert doc.design.data["source"] == "csv" and combo.currentData() == "csv"


def test_editor_runs_write_checkpoints_in_the_runs_folder(qtbot, window, tmp_path):
    win = window("mlp", epochs=1)
    panel = win.training_panel
    panel.runs_dir = tmp_path / "runs"
    assert train(qtbot, win).ok
    run = panel.last_out_dir
    assert run.parent == tmp_path / "runs" and run.name.startswith("mlp-on-digits-")
    assert {"best.pt", "last.pt", "metrics.jsonl", "summary.json"} <= {
        p.name for p in run.iterdir()
    }
    assert str(run) in panel.result_label.text()
