"""The Search panel and the inspector's "search this parameter": undoable space edits, a bad
range refused with one line, a live 3-trial search, Stop, closing, and Apply best as one undo
step. Searches train a tiny iris MLP for 1 epoch (3 trials, a few seconds)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from engine.io import dumps, loads
from gui.commands import SetSection
from gui.document import Document
from gui.panels.inspector import InspectorPanel
from gui.panels.search import SearchPanel
from gui.panels.search.space_table import CHOICES, LOW
from gui.plots.search import SearchPlots
from tests.engine.test_search import iris_doc

SPACE = {
    "lr": {"low": 0.001, "high": 0.1, "log": True},
    "hidden.out_features": {"low": 4, "high": 16},
}
WAIT_MS = 120_000


def iris_document(space=None, epochs=1, **search) -> Document:
    return Document(loads(json.dumps(iris_doc(space, epochs, **search))))


@pytest.fixture
def search_panel(qtbot):
    """Factory: ``search_panel(doc)`` → a shown SearchPanel with its plots; teardown joins any
    search it started."""
    panels = []

    def make(doc: Document) -> SearchPanel:
        plots = SearchPlots()
        panel = SearchPanel(doc, plots)
        qtbot.addWidget(panel)
        qtbot.addWidget(plots)
        panel.resize(520, 900)
        panel.show()
        panels.append(panel)
        return panel

    yield make
    for panel in panels:
        assert panel.shutdown(30.0), "the search thread did not end"


def run_to_end(qtbot, panel: SearchPanel) -> None:
    assert panel.start(), panel.status_text
    qtbot.waitUntil(lambda: not panel.is_running, timeout=WAIT_MS)


def test_search_this_parameter_in_the_inspector_is_one_undo_step_each_way(qtbot):
    doc = iris_document(space={"lr": {"low": 0.001, "high": 0.1, "log": True}})
    inspector = InspectorPanel(doc)
    qtbot.addWidget(inspector)
    inspector.show()
    inspector.show_selection(["hidden"])
    before = dumps(doc.design)
    button = inspector.search_button("out_features")
    assert not button.isChecked()

    button.click()
    space = doc.design.search["space"]
    assert list(space) == ["lr", "hidden.out_features"]
    assert space["hidden.out_features"] == {"low": 4, "high": 16}  # halving and doubling 8
    assert button.isChecked()
    assert doc.undo_stack.count() == 1

    doc.undo_stack.undo()
    assert dumps(doc.design) == before
    assert not button.isChecked()  # the toggle follows undo
    doc.undo_stack.redo()
    assert button.isChecked()

    button.click()  # click again: removed
    assert "hidden.out_features" not in doc.design.search["space"]
    assert not button.isChecked()
    doc.undo_stack.undo()
    assert "hidden.out_features" in doc.design.search["space"]
    # a parameter that is not searchable has no toggle (Dropout's p has one, shapes none)
    inspector.show_selection(["x"])
    with pytest.raises(KeyError):
        inspector.search_button("shape")


def test_the_search_panel_follows_inspector_edits_and_adds_training_settings(qtbot, search_panel):
    doc = iris_document(space={"lr": {"low": 0.001, "high": 0.1, "log": True}})
    panel = search_panel(doc)
    assert panel.space_table.keys() == ["lr"]
    inspector = InspectorPanel(doc)
    qtbot.addWidget(inspector)
    inspector.show_selection(["drop"])
    assert inspector.toggle_search("p")
    assert panel.space_table.keys() == ["lr", "drop.p"]

    assert "lr" not in [panel.add_combo.itemText(i) for i in range(panel.add_combo.count())]
    panel.add_combo.setCurrentText("optimizer")
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    assert panel.space_table.keys() == ["lr", "drop.p", "optimizer"]
    row = panel.space_table.row_of("optimizer")
    assert "adam" in panel.space_table.item(row, CHOICES).text()
    doc.undo_stack.undo()
    assert panel.space_table.keys() == ["lr", "drop.p"]


def test_a_bad_range_shows_one_line_under_the_table_and_keeps_the_design(qtbot, search_panel):
    doc = iris_document(space=dict(SPACE))
    panel = search_panel(doc)
    before, steps = dumps(doc.design), doc.undo_stack.count()
    row = panel.space_table.row_of("lr")

    panel.space_table.item(row, LOW).setText("5")  # above high 0.1
    note = panel.space_note_text
    assert "low 5 is above high 0.1" in note and "\n" not in note
    assert dumps(doc.design) == before and doc.undo_stack.count() == steps
    assert panel.space_table.item(row, LOW).text() == "5"  # what was typed stays to fix

    panel.space_table.item(row, LOW).setText("abc")
    assert "is not a number" in panel.space_note_text
    assert dumps(doc.design) == before

    panel.space_table.item(row, LOW).setText("0.0001")  # a good value: pushed, note gone
    assert doc.design.search["space"]["lr"]["low"] == 0.0001
    assert panel.space_note_text == ""
    assert doc.undo_stack.count() == steps + 1


def test_a_three_trial_search_fills_the_table_plots_and_applies_best_as_one_step(
    qtbot, search_panel
):
    doc = iris_document(space=dict(SPACE))
    panel = search_panel(doc)
    panel.trials_spin.setValue(3)
    assert panel.start_button.isEnabled() and not panel.apply_button.isEnabled()
    run_to_end(qtbot, panel)

    table = panel.trials_table
    assert table.rowCount() == 3
    assert [table.item(r, 1).text() for r in range(3)] == ["complete"] * 3
    assert all("lr=" in table.item(r, 4).text() for r in range(3))
    best = min(panel.records.values(), key=lambda r: r.value)
    assert panel.best_label.text().startswith(f"Best so far: trial {best.number}, value")
    assert "Finished: 3 complete" in panel.status_text
    points = panel.plots.history_points()
    assert [x for x, _ in points] == [0, 1, 2]
    best_line = [y for _, y in panel.plots.best_points()]
    assert best_line == sorted(best_line, reverse=True) and best_line[-1] == best.value
    assert set(panel.plots.importances) == set(SPACE)  # drawn after two complete trials
    assert len(panel.plots.bars.opts["width"]) == 2

    before, steps = dumps(doc.design), doc.undo_stack.count()
    assert panel.apply_button.isEnabled()
    qtbot.mouseClick(panel.apply_button, Qt.MouseButton.LeftButton)
    assert doc.undo_stack.count() == steps + 1  # training setting and layer parameter: one step
    assert doc.design.training["lr"] == best.params["lr"]
    assert doc.design.node("hidden").params["out_features"] == best.params["hidden.out_features"]
    doc.undo_stack.undo()
    assert dumps(doc.design) == before


def test_stop_ends_the_search_leaving_a_resumable_study(qtbot, search_panel, tmp_path):
    doc = iris_document(space={"lr": {"low": 0.001, "high": 0.1, "log": True}}, epochs=500)
    panel = search_panel(doc)
    storage = tmp_path / "study.log"
    panel.storage_edit.setText(str(storage))
    panel.trials_spin.setValue(3)
    assert panel.start()
    assert panel.stop_button.isEnabled() and not panel.start_button.isEnabled()
    qtbot.waitUntil(  # an epoch reported
        lambda: any(s.startswith("running (") for s in _states(panel)), timeout=WAIT_MS
    )
    qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not panel.is_running, timeout=WAIT_MS)
    assert _states(panel) == ["interrupted", "queued"]  # its values are queued again
    assert "Stopped (resumable" in panel.status_text
    assert storage.is_file()
    assert panel.start_button.isEnabled() and not panel.stop_button.isEnabled()
    lr = panel.records[0].params["lr"]

    # resume: the same study (a shorter training, same space) runs the queued trial first
    doc.push(SetSection(doc, "training", "epochs", 1))
    panel.trials_spin.setValue(1)
    run_to_end(qtbot, panel)
    assert _states(panel) == ["interrupted", "complete"]
    assert panel.records[1].params["lr"] == lr


def test_closing_stops_and_joins_the_search_thread(qtbot, search_panel):
    doc = iris_document(space={"lr": {"low": 0.001, "high": 0.1, "log": True}}, epochs=500)
    panel = search_panel(doc)
    panel.trials_spin.setValue(3)
    assert panel.start()
    qtbot.waitUntil(lambda: bool(_states(panel)), timeout=WAIT_MS)
    assert panel.session.alive
    assert panel.shutdown(30.0)  # what closing the window does, with a bounded wait
    assert not panel.session.alive and not panel.is_running


def test_the_window_has_a_search_dock_and_closing_it_stops_a_search(qtbot, main_window):
    design = loads(json.dumps(iris_doc({"lr": {"low": 0.001, "high": 0.1, "log": True}}, 500)))
    window, _ = main_window(design)
    assert window.search_dock.windowTitle() == "Search"
    assert {"Search", "Search plots"} <= {a.text() for a in window.view_menu.actions()}
    assert window.search_panel.space_table.keys() == ["lr"]
    window.search_panel.trials_spin.setValue(50)  # still running when the window closes
    assert window.search_panel.start()
    assert window.search_dock.isVisible() and window.search_plots_dock.isVisible()
    qtbot.waitUntil(  # an epoch reported: the search runs
        lambda: any(s.startswith("running (") for s in _states(window.search_panel)),
        timeout=WAIT_MS,
    )
    # one at a time: Train waits for the search, and says why
    training = window.training_panel
    assert not training.train_action.isEnabled()
    assert "A search is running" in training.train_action.toolTip()
    window.document.undo_stack.setClean()
    window.close()  # asks the search to stop
    panel = window.search_panel
    # stopping, or already stopped: on a fast machine the trial can end at its next batch
    # before close() returns
    assert panel.session.state in ("stopping", "idle"), (panel.status_text, _states(panel))
    assert panel.shutdown(30.0) and not panel.session.alive
    assert _states(panel).count("complete") < 50  # it did not run on to the end


def test_a_storage_that_cannot_be_opened_is_one_red_line_and_an_empty_space_cannot_start(
    qtbot, search_panel, tmp_path
):
    doc = iris_document(space={"lr": {"low": 0.001, "high": 0.1, "log": True}})
    panel = search_panel(doc)
    panel.storage_edit.setText(str(tmp_path / "no-such-folder" / "study.log"))
    run_to_end(qtbot, panel)
    assert panel.status_text.startswith("Search failed: storage ")
    assert "does not exist" in panel.status_text and "\n" not in panel.status_text
    assert panel.trials_table.rowCount() == 0 and panel.start_button.isEnabled()

    panel.remove_entry("lr")
    assert panel.space_table.rowCount() == 0
    assert not panel.start_button.isEnabled()
    assert not panel.start()
    assert panel.status_text.startswith("The search space is empty: add a training setting")


def _states(panel: SearchPanel) -> list[str]:
    table = panel.trials_table
    return [table.item(r, 1).text() for r in range(table.rowCount())]


def test_seed_and_pruning_are_undoable_design_options_and_jobs_and_device_reach_the_runner(
    qtbot, search_panel
):
    doc = iris_document(space={"lr": {"low": 0.001, "high": 0.1, "log": True}})
    panel = search_panel(doc)
    assert panel.seed_spin.value() == 0 and panel.pruning_box.isChecked()  # the defaults
    panel.seed_spin.setValue(7)
    panel.seed_spin.editingFinished.emit()
    panel.pruning_box.setChecked(False)
    assert doc.design.search["seed"] == 7 and doc.design.search["pruning"] is False
    doc.undo_stack.undo()
    assert "pruning" not in doc.design.search and panel.pruning_box.isChecked()
    doc.undo_stack.undo()
    assert "seed" not in doc.design.search and panel.seed_spin.value() == 0
    doc.undo_stack.redo()
    assert panel.seed_spin.value() == 7  # the panel follows the document

    panel.trials_spin.setValue(2)
    drawn = []
    for _ in range(2):  # the same seed draws the same values
        run_to_end(qtbot, panel)
        drawn.append(
            [r.params["lr"] for r in sorted(panel.records.values(), key=lambda r: r.number)]
        )
    assert drawn[0] == drawn[1] and len(drawn[0]) == 2

    panel.jobs_spin.setValue(min(2, panel.jobs_spin.maximum()))
    panel.device_combo.setCurrentIndex(panel.device_combo.findData("cpu"))
    started = []
    original = panel.session.start
    panel.session.start = lambda request: (started.append(request), original(request))
    run_to_end(qtbot, panel)
    assert started[0].jobs == panel.jobs_spin.value() and started[0].device == "cpu"
    assert [r.state for r in panel.records.values()] == ["complete", "complete"]


def test_a_search_cannot_start_while_the_window_trains(qtbot, main_window):
    design = loads(json.dumps(iris_doc({"lr": {"low": 0.001, "high": 0.1, "log": True}}, 500)))
    window, _ = main_window(design)
    training, search = window.training_panel, window.search_panel
    qtbot.waitUntil(training.train_action.isEnabled, timeout=WAIT_MS)
    assert search.start_button.isEnabled()
    training.train()
    qtbot.waitUntil(lambda: training.runner.is_active, timeout=WAIT_MS)
    assert not search.start_button.isEnabled()
    assert not search.start()
    assert "training run is going on" in search.status_text
    training.stop()
    qtbot.waitUntil(lambda: not training.runner.is_active, timeout=WAIT_MS)
    qtbot.waitUntil(search.start_button.isEnabled, timeout=WAIT_MS)
