"""The Evaluate panel: a tiny trained run evaluated in the window shows the engine's numbers
(accuracy, per-class rows, confusion matrix), the worst samples sorted by loss, "Try it" on a drawn
image, an opened image, a typed row and a picked sample predicts what ``engine.evaluate`` predicts
for the same input, a missing test split and a hostile checkpoint are one line."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from engine.evaluate import Predictor, evaluate_checkpoint, predict_file
from engine.io import load_design, save_design
from engine.runs import store_for
from gui.commands import SetSection
from gui.document import Document
from gui.panels.evaluate import EvaluatePanel
from tests.engine.hostile import evil_torch_save
from tests.helpers import train_into_store

TIMEOUT = 60_000
DIGITS = {
    "source": "builtin",
    "name": "digits",
    "form": "flat",
    "split": {"val": 0.2, "test": 0.2, "stratify": True},
    "preprocess": {"scale": "standard"},
}
IRIS = {
    "source": "builtin",
    "name": "iris",
    "split": {"val": 0.2, "test": 0.25, "stratify": True},
    "preprocess": {"scale": "standard"},
}


_train = train_into_store


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalpanel")
    digits = _train(
        root,
        "digits",
        [("x", "Input", {"shape": [64]}), ("out", "Linear", {"out_features": 10})],
        DIGITS,
    )
    iris = _train(
        root,
        "iris",
        [("x", "Input", {"shape": [4]}), ("out", "Linear", {"out_features": 3})],
        IRIS,
    )
    seq = _train(
        root,
        "seq",
        [
            ("x", "Input", {"shape": [8, 8]}),
            ("flat", "Flatten", {}),
            ("out", "Linear", {"out_features": 10}),
        ],
        {**DIGITS, "form": "sequence"},
    )
    return {"root": root, "digits": digits, "iris": iris, "seq": seq}


@pytest.fixture
def panel(qtbot, runs):
    made = []

    def make(name):
        path, _ckpt = runs[name]
        doc = Document()
        doc.reset(load_design(path), path)
        p = EvaluatePanel(doc, runs_dir=lambda: runs["root"] / "runs")
        qtbot.addWidget(p)
        p.resize(460, 900)
        p.show()
        made.append(p)
        qtbot.waitUntil(lambda: p.lookup is None, timeout=TIMEOUT)  # the newest run, found
        return p

    yield make
    for p in made:
        assert p.shutdown(30)


def _evaluate(qtbot, p):
    assert p.evaluate()
    qtbot.waitUntil(lambda: not p.busy, timeout=TIMEOUT)


def test_evaluate_shows_the_engines_metrics_and_worst_samples(qtbot, panel, runs):
    path, ckpt = runs["digits"]
    p = panel("digits")
    assert p.checkpoint == ckpt  # the newest finished run's best.pt is the default
    _evaluate(qtbot, p)
    assert not p.error_label.isVisible()
    engine = evaluate_checkpoint(load_design(path), ckpt, "test", path.parent)
    assert p.metric_values["accuracy"] == pytest.approx(engine.accuracy)
    assert f"{engine.accuracy:.4f}" in p.metrics_label.text()
    assert p.class_table.rowCount() == 10
    assert [p.class_table.verticalHeaderItem(r).text() for r in range(10)] == [
        c.name for c in engine.classes
    ]
    assert p.class_table.item(3, 3).text() == str(engine.classes[3].support)
    assert p.confusion.matrix.tolist() == engine.confusion
    # worst samples: highest loss first, pictures of the 8×8 digits
    table = p.worst_table
    assert table.rowCount() == 8
    losses = [float(table.item(r, 1).text()) for r in range(table.rowCount())]
    assert losses == sorted(losses, reverse=True)
    assert table.item(0, 0).data(0x1) is not None  # DecorationRole: a picture
    worst = p.details.worst[0]
    assert table.item(0, 2).text() == worst.truth and table.item(0, 3).text() == worst.predicted
    assert worst.probabilities is not None and sum(worst.probabilities) == pytest.approx(1.0)


def test_try_it_predicts_like_the_engine(qtbot, panel, runs, tmp_path):
    path, ckpt = runs["digits"]
    p = panel("digits")
    _evaluate(qtbot, p)
    qtbot.waitUntil(lambda: p.try_it.predictor is not None, timeout=TIMEOUT)
    try_it = p.try_it
    assert try_it.pad_row.isVisible() and try_it.open_button.isVisible()
    # draw a "1", compare with predict on the same picture saved as a file
    try_it.pad.stroke([(0.5, 0.15), (0.5, 0.85)])
    assert try_it.predict_drawing()
    drawn = tmp_path / "drawn.png"
    assert try_it.pad.image.save(str(drawn), "PNG")
    expected = predict_file(load_design(path), ckpt, drawn)
    assert try_it.last_labels == expected.labels
    assert np.allclose(try_it.last_input[0], Predictor(load_design(path), ckpt).read(drawn)[0])
    assert try_it.bars.rows[0][1] == pytest.approx(max(expected.probabilities[0]))
    assert f"predicted {expected.labels[0]}" in try_it.result_label.text()
    # open the image file
    assert try_it.open_image(drawn)
    assert try_it.last_labels == expected.labels
    # pick a sample of the split: the engine's prediction of that prepared sample
    assert try_it.pick_sample(5)
    sample = p.details.samples.prepared[5:6]
    assert try_it.last_labels == Predictor(load_design(path), ckpt).predict_prepared(sample).labels
    assert "Sample 5 of the test split (true: " in try_it.result_label.text()


def test_try_it_on_a_typed_row(qtbot, panel, runs, tmp_path):
    path, ckpt = runs["iris"]
    p = panel("iris")
    assert p._load_model()
    qtbot.waitUntil(lambda: p.try_it.predictor is not None, timeout=TIMEOUT)
    try_it = p.try_it
    assert try_it.table.isVisible() and not try_it.pad_row.isVisible()
    columns = [try_it.table.horizontalHeaderItem(i).text() for i in range(4)]
    row = ["5.9", "3.0", "5.1", "1.8"]
    try_it.set_row(row)
    assert try_it.predict_row()
    csv = tmp_path / "row.csv"
    csv.write_text(",".join(columns) + "\n" + ",".join(row) + "\n")
    expected = predict_file(load_design(path), ckpt, csv)
    assert try_it.last_labels == expected.labels
    names = [n for n, _ in try_it.bars.rows]
    assert sorted(names) == sorted(expected.class_names)
    try_it.set_row(["abc"])
    assert not try_it.predict_row()
    assert "is not a number" in try_it.error_label.text()


def pick_split(p, split: str) -> None:
    """Choose ``split`` in the panel's split box as a user does."""
    index = p.split_box.findData(split)
    p.split_box.setCurrentIndex(index)
    p.split_box.activated.emit(index)


def test_the_split_is_the_test_split_when_the_design_has_one_else_validation(qtbot, panel, runs):
    """A design without a test split (the templates) evaluates on the validation split by
    default instead of failing; a user's choice stays until another design is opened."""
    path, _ckpt = runs["digits"]
    p = panel("digits")
    assert p.split_box.currentData() == "test"  # DIGITS keeps a test split
    design = p.document.design.copy()
    design.data = {**DIGITS, "split": {"val": 0.2, "test": 0.0}}
    p.document.reset(design, path)
    qtbot.waitUntil(lambda: p.lookup is None, timeout=TIMEOUT)
    assert p.split_box.currentData() == "val"
    _evaluate(qtbot, p)
    assert not p.error_label.isVisible() and p.results_box.isVisibleTo(p)
    p.document.push(SetSection(p.document, "data", "split", {"val": 0.2, "test": 0.2}))
    assert p.split_box.currentData() == "test"  # the Data panel gave it a test split
    pick_split(p, "val")
    p.document.push(SetSection(p.document, "data", "split", {"val": 0.25, "test": 0.2}))
    assert p.split_box.currentData() == "val"  # the user's choice holds
    p.document.reset(load_design(path), path)
    assert p.split_box.currentData() == "test"


def test_no_test_split_is_one_line(qtbot, panel, runs):
    path, _ckpt = runs["digits"]
    p = panel("digits")
    design = p.document.design.copy()
    design.data = {**DIGITS, "split": {"val": 0.2, "test": 0.0}}
    p.document.reset(design, path)
    qtbot.waitUntil(lambda: p.lookup is None, timeout=TIMEOUT)
    assert p.checkpoint is not None
    pick_split(p, "test")  # asked for anyway
    _evaluate(qtbot, p)
    text = p.error_label.text()
    assert p.error_label.isVisible() and "\n" not in text
    assert "no test split" in text and "split.test" in text
    assert not p.results_box.isVisible()


def test_hostile_checkpoint_is_refused_without_running(qtbot, panel, runs, tmp_path):
    marker = tmp_path / "ran"
    evil = tmp_path / "evil.pt"
    evil.write_bytes(evil_torch_save(marker))
    p = panel("digits")
    assert p.choose_checkpoint(evil)
    _evaluate(qtbot, p)
    text = p.error_label.text()
    assert p.error_label.isVisible() and "\n" not in text and "evil.pt" in text
    assert not marker.exists()
    assert p.try_it.predictor is None and "Cannot try" in p.try_it.state_label.text()
    assert not marker.exists()


def test_fine_tune_in_the_window_starts_a_new_run_from_the_checkpoints_weights(
    qtbot, main_window, runs, tmp_path
):
    """Evaluate panel → Fine-tune: a new run in the store that starts from the checkpoint's
    weights. With a learning rate of ~0 its validation loss stays the checkpoint's own (a fresh
    initialisation would start near ln 10 ≈ 2.3 for ten classes)."""
    from engine.training.checkpoint import load_checkpoint

    path, ckpt = runs["digits"]
    design = load_design(path)
    design.training = {**design.training, "lr": 1e-12, "epochs": 1}
    moved = tmp_path / "digits.json"
    save_design(design, moved)
    window, _prompts = main_window()
    window.document.reset(load_design(moved), moved)
    panel = window.training_panel
    panel.runs_dir = tmp_path / "runs"
    qtbot.waitUntil(lambda: panel.train_action.isEnabled(), timeout=TIMEOUT)
    ended = []
    panel.runFinished.connect(ended.append)
    evaluate = window.evaluate_panel
    assert evaluate.choose_checkpoint(ckpt)
    assert evaluate.finetune_button.isEnabled()
    evaluate.finetune_button.click()
    qtbot.waitUntil(lambda: bool(ended), timeout=TIMEOUT)
    result = ended[0]
    assert result.ok, result.error
    assert window.plots_dock.isVisible()  # the training layout, as for Train
    new_runs = [run for run in store_for(moved, "digits", root=tmp_path / "runs").list_runs()]
    assert len(new_runs) == 1 and new_runs[0].status == "finished"
    source = load_checkpoint(ckpt).metrics["val_loss"]
    assert result.summary.final["val_loss"] == pytest.approx(source, abs=1e-4)
    assert abs(source - 2.3) > 0.3  # the trained source is far from a fresh start


def test_worst_sequences_are_drawn_as_small_line_plots(qtbot, panel):
    p = panel("seq")
    _evaluate(qtbot, p)
    table = p.worst_table
    assert table.rowCount() > 0
    pixmap = table.item(0, 0).data(Qt.ItemDataRole.DecorationRole)
    assert pixmap is not None and not pixmap.isNull() and pixmap.width() == 120
    image = pixmap.toImage()
    colours = {image.pixelColor(x, y).name() for x in range(0, 120, 2) for y in range(48)}
    assert "#1f77b4" in colours  # the first feature's line is drawn
    assert "8 steps × 8 features" in table.item(0, 0).toolTip()


def test_evaluating_in_the_window_widens_the_panel_for_its_tables(qtbot, runs, main_window):
    from gui.mainwindow import EVALUATE_PANEL_WIDTH

    path, ckpt = runs["digits"]
    window, _prompts = main_window()
    window.resize(1400, 900)
    window.show()
    window.document.reset(load_design(path), path)
    window.evaluate_dock.raise_()
    qtbot.waitUntil(lambda: window.evaluate_panel.lookup is None, timeout=TIMEOUT)
    before = window.evaluate_dock.width()
    assert before < EVALUATE_PANEL_WIDTH - 100  # the right docks' default
    assert window.evaluate_panel.choose_checkpoint(ckpt)
    _evaluate(qtbot, window.evaluate_panel)
    # as wide as the window lets it (the canvas keeps its minimum width)
    widened = window.evaluate_dock.width()
    assert widened > before + 100
    # another tab of the right docks in front: their width before the evaluation, so the
    # canvas and the plots get their room back; the Evaluate tab again: widened again
    window.training_dock.raise_()
    qtbot.waitUntil(lambda: abs(window.training_dock.width() - before) <= 2, timeout=5000)
    window.evaluate_dock.raise_()
    qtbot.waitUntil(lambda: window.evaluate_dock.width() >= widened - 2, timeout=5000)
    # a width the user chose stays when the tab changes
    window.resizeDocks([window.evaluate_dock], [widened - 60], Qt.Orientation.Horizontal)
    qtbot.waitUntil(lambda: window.evaluate_dock.width() < widened - 30, timeout=5000)
    chosen = window.evaluate_dock.width()
    window.data_dock.raise_()
    qtbot.wait(100)
    assert window.data_dock.width() == chosen


def test_screenshot_layouts_show_the_runs_and_the_evaluation(qtbot, runs, main_window):
    """``--screenshot --layout runs|evaluate`` stage the real panels: the newest runs selected
    (compared), the newest run evaluated (validation: this design has a test split, the
    template layout falls back only when it has none)."""
    path, ckpt = runs["digits"]
    window, _prompts = main_window()
    window.training_panel.runs_dir = runs["root"] / "runs"
    window.document.reset(load_design(path), path)
    assert window.stage_panel_screenshot("evaluate")
    evaluate = window.evaluate_panel
    assert evaluate.checkpoint == ckpt and evaluate.results_box.isVisibleTo(window)
    assert evaluate.split_box.currentData() == "test"
    assert window.stage_panel_screenshot("runs")
    assert window.runs_panel.selected_names() == [ckpt.parent.name]
