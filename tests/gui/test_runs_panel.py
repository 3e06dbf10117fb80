"""The Runs panel as a user meets it: every run of the open design listed newest first with its
status, sortable and filterable; rename, note, star and delete kept on disk (delete asks first
and goes to the trash); a run's settings restored as one undo step; two or more runs compared
(their curves overlaid, their settings side by side with the differences highlighted); the dock
in the window, a run trained there appearing in the list, and a run opened as a design.

Run folders are written by hand in the format the trainer writes (summary.json, metrics.jsonl,
design.json, run-start.json: see engine/runs.py), so each test is fast; one test trains a real
one-epoch run in the window.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from engine.graph import Design
from engine.io import dumps, load_design, loads, save_design
from engine.runs import RunRecord, store_for
from engine.training.config import TrainConfig
from engine.training.summary import RunSummary
from gui.document import Document
from gui.panels.runs import RunsPanel
from gui.panels.runs.compare_table import DIFF_BRUSH
from gui.panels.runs.model import BEST, CHANGED, EPOCHS, NAME, STAR, STATUS
from gui.plots.compare import run_colour
from gui.widgets import ERROR_COLOUR, OK_COLOUR, UNKNOWN_CATEGORY_COLOUR, WARNING_COLOUR
from resources import template_path
from tests import helpers

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
IRIS = helpers.IRIS
DEAD_PID = 4_194_303 + 1000  # above Linux's largest process id: never alive


def iris_design(lr: float = 0.01, batch_size: int = 32) -> Design:
    return helpers.iris_design(lr, batch_size, epochs=3)


def history(epochs: int, scale: float) -> list[dict]:
    """Falling losses and a rising accuracy, different for each ``scale``."""
    return [
        {
            "epoch": e,
            "train_loss": round(scale / e, 4),
            "val_loss": round(scale / e + 0.05, 4),
            "val_accuracy": round(min(1.0, 0.5 + 0.1 * e / scale), 4),
            "elapsed_s": 1.5 * e,
        }
        for e in range(1, epochs + 1)
    ]


def write_run(
    root: Path,
    name: str,
    started: float,
    design: Design,
    *,
    status: str = "finished",
    epochs: int = 3,
    scale: float = 1.0,
    device: str = "cpu",
) -> Path:
    """A run folder as the trainer leaves it (``status``: finished, stopped, failed, running,
    interrupted)."""
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "design.json").write_text(dumps(design))
    config = TrainConfig.from_design(design).to_dict()
    pid = os.getpid() if status == "running" else DEAD_PID
    start = {"pid": pid, "host": socket.gethostname(), "started": started, "config": config}
    (folder / "run-start.json").write_text(json.dumps(start))
    records = history(epochs, scale)
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    if status in ("finished", "stopped", "failed"):
        best = min(records, key=lambda r: r["val_loss"])
        summary = RunSummary(
            design=design.name,
            task="classification",
            device=device,
            epochs=design.training["epochs"],
            epochs_completed=len(records),
            stopped=status == "stopped",
            error="disk on fire" if status == "failed" else None,
            monitor="val_loss",
            best_epoch=best["epoch"],
            best=best,
            final=records[-1],
            elapsed_s=records[-1]["elapsed_s"],
            config=config,
        )
        (folder / "summary.json").write_text(json.dumps(summary.to_json()))
    return folder


@pytest.fixture
def store_dir(tmp_path):
    """``iris.json`` (lr 0.01) and a run folder holding five of its runs (one trained with lr
    0.1 and batch 16), one run of another design, and nothing else."""
    design = iris_design()
    path = tmp_path / "iris.json"
    save_design(design, path)
    root = tmp_path / "runs"
    t0 = time.time() - 3600
    write_run(root, "iris-20260101-100000", t0 + 10, design, scale=1.0)
    write_run(root, "iris-20260101-100100", t0 + 20, iris_design(0.1, 16), scale=2.0)
    write_run(root, "iris-20260101-100200", t0 + 30, design, status="stopped", epochs=2, scale=1.5)
    write_run(root, "iris-20260101-100300", t0 + 40, design, status="failed", epochs=1)
    write_run(root, "iris-20260101-100400", t0 + 50, design, status="interrupted", epochs=1)
    write_run(root, "other-20260101-100500", t0 + 60, design)  # another design's
    return {"path": path, "root": root, "design": design}


class FakeRunsPrompts:
    """Scripted answers to the panel's questions; records each question."""

    def __init__(self) -> None:
        self.name: str | None = None
        self.note: str | None = None
        self.delete = False
        self.folder: Path | None = None
        self.asked: list[tuple] = []

    def ask_name(self, current):
        self.asked.append(("name", current))
        return self.name

    def ask_note(self, name, current):
        self.asked.append(("note", name, current))
        return self.note

    def confirm_delete(self, names):
        self.asked.append(("delete", list(names)))
        return self.delete

    def choose_folder(self, start):
        self.asked.append(("folder", start))
        return self.folder


@pytest.fixture
def runs_panel(qtbot, store_dir):
    """A shown Runs panel on ``iris.json`` with its runs listed; its reader joined after."""
    panels = []

    def make(doc: Document | None = None) -> RunsPanel:
        if doc is None:
            doc = Document()
            doc.reset(load_design(store_dir["path"]), store_dir["path"])
        panel = RunsPanel(doc, store_dir["root"])
        panel.prompts = FakeRunsPrompts()
        qtbot.addWidget(panel)
        panel.resize(1100, 700)
        panel.show()
        panels.append(panel)
        settle(qtbot, panel)
        return panel

    yield make
    for panel in panels:
        assert panel.shutdown(10.0)


def settle(qtbot, panel: RunsPanel) -> None:
    """Wait until the panel has read the run folders (and any read it queued)."""
    qtbot.waitUntil(lambda: panel.up_to_date, timeout=20_000)


def refreshed(qtbot, panel: RunsPanel) -> None:
    panel.refresh()
    settle(qtbot, panel)


def status_colour(panel: RunsPanel, row: int) -> str:
    brush = panel.proxy.index(row, STATUS).data(Qt.ItemDataRole.ForegroundRole)
    return brush.color().name()


def row_of(panel: RunsPanel, name: str) -> int:
    return panel.row_texts(NAME).index(name)


def test_every_run_of_the_design_is_listed_newest_first_with_its_status(runs_panel):
    panel = runs_panel()
    assert panel.row_texts(NAME) == [
        "iris-20260101-100400",
        "iris-20260101-100300",
        "iris-20260101-100200",
        "iris-20260101-100100",
        "iris-20260101-100000",
    ]  # the other design's run is not listed
    assert panel.row_texts(STATUS) == ["interrupted", "failed", "stopped", "finished", "finished"]
    assert panel.count_label.text() == "5 runs"
    assert [status_colour(panel, r) for r in (1, 2, 3)] == [
        QColor(ERROR_COLOUR).name(),
        QColor(WARNING_COLOUR).name(),
        QColor(OK_COLOUR).name(),
    ]
    failed = panel.proxy.index(1, STATUS)
    assert failed.data(Qt.ItemDataRole.ToolTipRole) == "disk on fire"
    assert panel.row_texts(EPOCHS)[2] == "2/3"
    best = panel.row_texts(BEST)[4]
    assert best == "val loss 0.3833 (ep 3)"  # 1/3 + 0.05 at epoch 3
    # the run trained with lr 0.1 and batch 16 says so; the others match the design
    changed = panel.row_texts(CHANGED)
    assert changed[3] == "lr, batch_size" and changed[4] == "—"
    tip = panel.proxy.index(3, CHANGED).data(Qt.ItemDataRole.ToolTipRole)
    assert "lr: 0.1 → now 0.01" in tip and "batch_size: 16 → now 32" in tip


def test_the_changed_column_follows_the_design_as_it_is_edited(qtbot, runs_panel):
    from gui.commands import SetSection

    panel = runs_panel()
    doc = panel.document
    doc.undo_stack.push(SetSection(doc, "training", "lr", 0.1))
    doc.undo_stack.push(SetSection(doc, "training", "batch_size", 16))
    qtbot.waitUntil(lambda: panel.row_texts(CHANGED)[3] == "—", timeout=20_000)
    assert panel.row_texts(CHANGED)[4] == "lr, batch_size"
    settle(qtbot, panel)


def test_a_run_of_other_layers_is_marked_changed_and_a_damaged_one_unreadable(
    qtbot, runs_panel, store_dir
):
    from gui.commands import SetParam

    bad = write_run(store_dir["root"], "iris-20260101-090000", time.time() - 7200, iris_design())
    (bad / "summary.json").write_text("{not json")
    panel = runs_panel()
    row = row_of(panel, "iris-20260101-090000")
    assert panel.row_texts(STATUS)[row] == "unreadable"
    assert status_colour(panel, row) == QColor(UNKNOWN_CATEGORY_COLOUR).name()
    reason = panel.proxy.index(row, STATUS).data(Qt.ItemDataRole.ToolTipRole)
    assert "summary.json is not valid JSON" in reason
    assert panel.row_texts(BEST)[row] == "—"

    doc = panel.document
    doc.undo_stack.push(SetParam(doc, "h", "out_features", 16))
    qtbot.waitUntil(lambda: panel.row_texts(CHANGED)[0] == "layers", timeout=20_000)
    tip = panel.proxy.index(0, CHANGED).data(Qt.ItemDataRole.ToolTipRole)
    assert "the layers or their parameters differ" in tip
    settle(qtbot, panel)


def test_a_running_run_is_listed_running_and_cannot_be_renamed_or_deleted(
    qtbot, runs_panel, store_dir
):
    write_run(
        store_dir["root"],
        "iris-20260101-110000",
        time.time() - 5,
        store_dir["design"],
        status="running",
        epochs=1,
    )
    panel = runs_panel()
    assert panel.row_texts(STATUS)[0] == "running"
    panel.select(["iris-20260101-110000"])
    assert not panel.delete_action.isEnabled() and not panel.rename_action.isEnabled()
    assert panel.note_action.isEnabled() and panel.star_action.isEnabled()
    assert panel._live.isActive()  # a running run is read again while the panel shows


def test_sorting_by_a_column_and_filtering_by_name_status_or_note(qtbot, runs_panel):
    panel = runs_panel()
    panel.table.sortByColumn(BEST, Qt.SortOrder.AscendingOrder)
    bests = [row.run.best_value for row in panel.rows()]
    assert bests == sorted(bests)
    panel.table.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
    assert panel.row_texts(NAME) == sorted(panel.row_texts(NAME))

    panel.filter_edit.setText("FAIL")
    assert panel.row_texts(NAME) == ["iris-20260101-100300"]
    panel.filter_edit.setText("finished")
    assert panel.row_texts(STATUS) == ["finished", "finished"]
    panel.prompts.note = "the baseline, lr from the paper"
    panel.select(["iris-20260101-100000"])
    assert panel.edit_note()
    settle(qtbot, panel)
    panel.filter_edit.setText("baseline")
    assert panel.row_texts(NAME) == ["iris-20260101-100000"]
    panel.filter_edit.clear()
    assert len(panel.row_texts(NAME)) == 5


def test_rename_note_and_star_are_kept_in_the_run_folder(qtbot, runs_panel, store_dir):
    panel = runs_panel()
    root = store_dir["root"]
    panel.select(["iris-20260101-100000"])
    panel.prompts.name = "baseline"
    assert panel.rename()
    settle(qtbot, panel)
    assert (root / "baseline").is_dir() and not (root / "iris-20260101-100000").exists()
    assert "baseline" in panel.row_texts(NAME) and panel.selected_names() == ["baseline"]
    assert not panel.error_label.isVisible()

    panel.prompts.name = "a/b"  # a name a folder cannot have: one line, nothing renamed
    assert not panel.rename()
    assert panel.error_label.isVisible() and "\n" not in panel.error_label.text()
    assert panel.error_label.text().startswith("Not renamed: run name 'a/b' has a character")
    assert (root / "baseline").is_dir()

    panel.prompts.note = "keep: best so far"
    assert panel.edit_note()
    settle(qtbot, panel)
    star_index = panel.proxy.index(row_of(panel, "baseline"), STAR)
    assert star_index.data() == "☆"
    panel.table.clicked.emit(star_index)  # a click on the star column stars the run
    settle(qtbot, panel)
    assert panel.proxy.index(row_of(panel, "baseline"), STAR).data() == "★"

    again = RunRecord.read(root / "baseline")  # as read from disk
    assert again.note == "keep: best so far" and again.star and again.status == "finished"
    listed = store_for(store_dir["path"], "iris net", root=root).list_runs()
    assert "baseline" in [r.name for r in listed]  # still this design's run once renamed

    panel.select(["baseline"])
    panel.toggle_star()
    settle(qtbot, panel)
    assert not RunRecord.read(root / "baseline").star


def test_delete_asks_naming_the_run_then_moves_it_to_the_trash(
    qtbot, runs_panel, store_dir, monkeypatch
):
    trashed: list[str] = []
    monkeypatch.setattr("send2trash.send2trash", trashed.append)
    panel = runs_panel()
    panel.select(["iris-20260101-100300"])
    panel.prompts.delete = False
    assert not panel.delete()  # declined: nothing happens
    assert panel.prompts.asked[-1] == ("delete", ["iris-20260101-100300"]) and not trashed

    panel.prompts.delete = True
    assert panel.delete()
    assert trashed == [str(store_dir["root"] / "iris-20260101-100300")]

    def refuse(path):
        raise PermissionError(13, "no trash here")

    monkeypatch.setattr("send2trash.send2trash", refuse)
    settle(qtbot, panel)
    panel.select(["iris-20260101-100000"])
    assert not panel.delete()
    text = panel.error_label.text()
    assert "could not move it to the trash" in text and "nothing was deleted" in text
    assert (store_dir["root"] / "iris-20260101-100000").is_dir()
    settle(qtbot, panel)


def test_a_run_folder_from_elsewhere_is_added_by_hand(qtbot, runs_panel, store_dir, tmp_path):
    outside = write_run(tmp_path / "elsewhere", "exp1", time.time(), store_dir["design"])
    panel = runs_panel()
    panel.prompts.folder = outside
    assert panel.add_folder()
    settle(qtbot, panel)
    assert panel.row_texts(NAME)[0] == "exp1" and len(panel.rows()) == 6

    (tmp_path / "empty").mkdir()
    panel.prompts.folder = tmp_path / "empty"
    assert not panel.add_folder()
    assert "not a run folder" in panel.error_label.text()


def test_restoring_a_runs_settings_is_one_undo_step(qtbot, runs_panel, store_dir):
    panel = runs_panel()
    doc = panel.document
    before = dumps(doc.design)
    count = doc.undo_stack.count()
    panel.select(["iris-20260101-100100"])  # lr 0.1, batch 16
    assert panel.restore_action.isEnabled()
    assert panel.restore_settings()
    assert doc.design.training["lr"] == 0.1 and doc.design.training["batch_size"] == 16
    assert doc.undo_stack.count() == count + 1
    assert doc.undo_stack.undoText() == "Restore settings of run iris-20260101-100100"
    settle(qtbot, panel)
    assert panel.row_texts(CHANGED)[row_of(panel, "iris-20260101-100100")] == "—"
    doc.undo_stack.undo()
    assert dumps(doc.design) == before
    doc.undo_stack.setClean()
    settle(qtbot, panel)

    panel.select(["iris-20260101-100000"])  # the design's settings already
    assert not panel.restore_settings()
    assert doc.undo_stack.count() == count + 1 and doc.undo_stack.index() == count


def test_comparing_runs_overlays_their_curves_and_highlights_differing_settings(runs_panel):
    panel = runs_panel()
    names = ["iris-20260101-100200", "iris-20260101-100100", "iris-20260101-100000"]
    panel.select(names[:1])
    assert panel.compare_area.isHidden() and panel.compare_hint.isVisible()  # one run: a hint
    panel.select(names)
    assert panel.compare_area.isVisible() and panel.compare_hint.isHidden()
    plots = panel.compare_plots
    assert plots.loss_key == "val_loss" and plots.metric_key == "val_accuracy"
    assert len([k for k in plots.curves if k[0] == "loss"]) == 3
    assert len([k for k in plots.curves if k[0] == "metric"]) == 3
    for i, name in enumerate(names):  # in the table's order, each in its own colour
        run = RunRecord.read(panel.store().root / name)
        xs, ys = plots.curve_data("loss", name)
        assert xs == [h["epoch"] for h in run.history]
        assert ys == pytest.approx([h["val_loss"] for h in run.history])
        _, accs = plots.curve_data("metric", name)
        assert accs == pytest.approx([h["val_accuracy"] for h in run.history])
        pen = plots.curves[("loss", name)].opts["pen"]
        assert pen.color().name() == QColor(run_colour(i)).name()
    legend = plots.loss_plot.getPlotItem().legend
    assert [label.text for _, label in legend.items] == names

    table = panel.compare_table
    assert [table.horizontalHeaderItem(c).text() for c in range(3)] == names
    keys = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    lr = keys.index("lr")
    assert [table.item(lr, c).text() for c in range(3)] == ["0.01", "0.1", "0.01"]
    assert table.item(lr, 0).background() == DIFF_BRUSH
    optimizer = keys.index("optimizer")
    assert table.item(optimizer, 1).background() != DIFF_BRUSH
    status = keys.index("status")
    assert [table.item(status, c).text() for c in range(3)] == ["stopped", "finished", "finished"]
    panel.only_diff.setChecked(True)
    shown = [table.verticalHeaderItem(r).text() for r in range(table.rowCount())]
    assert "lr" in shown and "batch_size" in shown and "optimizer" not in shown


def test_listing_reads_the_folders_off_the_gui_thread(qtbot, runs_panel, store_dir):
    panel = runs_panel()
    for i in range(40):
        write_run(
            store_dir["root"], f"iris-20260102-10{i:02d}00", time.time() - 100 + i, iris_design()
        )
    panel.refresh()
    assert panel.loading  # refresh() returned while the folders are read
    assert panel._call._thread.name == "deepwire-runs-list"
    settle(qtbot, panel)
    assert len(panel.rows()) == 45


def test_runs_dock_in_the_window_lists_a_run_trained_there_and_opens_its_design(
    qtbot, main_window, tmp_path
):
    design = load_design(template_path("mlp"))
    design.training.update({"epochs": 1, "device": "cpu"})
    path = tmp_path / "digits.json"
    save_design(design, path)
    win, prompts = main_window(path, size=(1400, 900), exposed=True)
    win.document.reset(load_design(path), path)
    win.training_panel.runs_dir = tmp_path / "runs"
    dock = win.runs_dock
    assert dock.windowTitle() == "Runs"
    assert dock in win.tabifiedDockWidgets(win.plots_dock)
    dock.show()
    dock.raise_()
    panel = win.runs_panel
    qtbot.waitUntil(lambda: panel.isVisible(), timeout=5000)
    settle(qtbot, panel)
    assert panel.rows() == []

    assert win.training_panel.train()
    assert panel._live.isActive()  # read again until the new run is listed, and while it runs
    qtbot.waitUntil(lambda: not win.training_panel.is_training, timeout=120_000)
    qtbot.waitUntil(lambda: panel.row_texts(STATUS) == ["finished"], timeout=20_000)
    settle(qtbot, panel)
    assert panel.row_texts(NAME)[0].startswith("digits-") and not panel._live.isActive()

    panel.select(panel.row_texts(NAME))
    win.document.undo_stack.setClean()
    assert panel.open_as_design()
    assert win.document.path is None  # a new, unsaved document: the snapshot stays as it was
    assert loads(dumps(win.document.design)).training == design.training
    assert "Opened the design run" in win.statusBar().currentMessage()
    settle(qtbot, panel)


def test_runs_compared_while_the_panel_is_hidden_are_drawn_when_it_is_shown(qtbot, runs_panel):
    panel = runs_panel()
    names = ["iris-20260101-100200", "iris-20260101-100100"]
    panel.hide()  # e.g. a run event updates the comparison while the Runs tab is behind another
    panel.select(names)
    panel.show()
    plots = panel.compare_plots
    qtbot.waitUntil(plots.loss_plot.isVisible, timeout=5000)
    for name in names:
        xs, ys = plots.curve_data("loss", name)
        run = RunRecord.read(panel.store().root / name)
        assert xs == [h["epoch"] for h in run.history]
        assert ys == pytest.approx([h["val_loss"] for h in run.history])
    legend = plots.loss_plot.getPlotItem().legend
    assert [label.text for _, label in legend.items] == names
