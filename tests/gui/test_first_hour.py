"""The first hour with the editor: File → New gives a design that trains on the data the Data panel
shows; a design without a data section says so (Problems, Data panel, a disabled Train with the
reason) and one undoable click fixes it; opening another design clears the last run's results;
the title and the status bar stay honest; failed starts leave no empty run folder; the xcb check
before the window; ONNX export needs no extra install."""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from engine.data.spec import normalize_spec
from engine.io import dumps, load_design
from engine.training.events import EpochEvent
from gui.commands import Disconnect, SetParam, SetSection
from resources import template_path

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def window(main_window):
    """Factory: ``window(design)`` → a shown main window; every training thread joined after."""
    made = []

    def make(design=None):
        win, _prompts = main_window(design)
        made.append(win)
        return win

    yield make
    for win in made:
        assert win.training_panel.shutdown()
    assert not [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


def template(stem: str, epochs: int = 1):
    design = load_design(template_path(stem))
    design.training["epochs"] = epochs
    design.training["device"] = "cpu"
    return design


def train_one_epoch(qtbot, win) -> None:
    """Press Train, wait for the first epoch's event, stop, and wait for the run's end."""
    panel = win.training_panel
    epochs: list[EpochEvent] = []
    panel.runner.eventsReady.connect(
        lambda events: epochs.extend(e for e in events if isinstance(e, EpochEvent))
    )
    with qtbot.waitSignal(panel.runFinished, timeout=120_000) as finished:
        panel.train_action.trigger()
        assert panel.is_training, panel.error_label.text()
        qtbot.waitUntil(lambda: bool(epochs), timeout=120_000)
        panel.stop()
    assert finished.args[0].error is None, finished.args[0].error


def shown_data_spec(panel) -> dict:
    """The data section as the Data panel's editors show it (builtin sources)."""
    spec = {"source": panel.source_combo.currentData()}
    if spec["source"] == "builtin":
        spec["name"] = panel.dataset_combo.currentData()
    return spec


# -- File → New ------------------------------------------------------------------------------


def test_new_design_holds_the_data_the_panel_shows_and_trains(qtbot, window):
    win = window(template("cnn"))
    win.new_design()
    doc, data_panel = win.document, win.data_panel
    spec = normalize_spec(doc.design.data)  # a real, valid section, not an empty one
    shown = shown_data_spec(data_panel)
    assert shown == {k: spec[k] for k in shown} == {"source": "builtin", "name": "digits"}
    assert not data_panel.error_label.isVisibleTo(data_panel)
    assert not data_panel.missing_label.isVisibleTo(data_panel)
    assert not any("data" in p.message.lower() for p in win.problems.problems)
    # the user builds Input(64) → Linear(10) and trains
    doc.push(SetSection(doc, "training", "epochs", 2))
    doc.push(SetSection(doc, "training", "device", "cpu"))
    first = win.add_layer("Input")
    doc.push(SetParam(doc, first, "shape", [64]))
    win.canvas.select_nodes([first])
    second = win.add_layer("Linear")
    assert any(e.source == first for e in doc.design.in_edges(second))
    doc.push(SetParam(doc, second, "out_features", 10))
    assert win.problems.problems == []
    assert win.training_panel.train_action.isEnabled(), win.training_panel.blocked_reason()
    train_one_epoch(qtbot, win)


def test_a_design_without_data_is_a_problem_with_an_undoable_one_click_fix(qtbot, window, tmp_path):
    raw = json.loads(dumps(template("mlp")))
    del raw["data"]
    path = tmp_path / "no-data.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    win = window()
    assert win.open_design(path)
    doc, panel = win.document, win.training_panel
    assert not doc.design.data
    # the Problems list names it …
    rows = [p for p in win.problems.problems if "data" in p.message.lower()]
    assert len(rows) == 1 and rows[0].node is None
    assert "{" not in rows[0].message + rows[0].fix  # plain words, never JSON
    assert win.validity_label.text() == "⚠ 1 problem"
    # … Train is disabled, with the reason as its tooltip …
    assert not panel.train_action.isEnabled()
    assert "data" in panel.train_action.toolTip().lower()
    assert "{" not in panel.train_action.toolTip()
    assert not panel.train() and not panel.is_training
    # … the Data panel shows it is missing rather than a dataset the design does not hold
    data_panel = win.data_panel
    assert data_panel.missing_label.isVisibleTo(data_panel)
    assert "no data" in data_panel.missing_label.text().lower()
    assert data_panel.source_combo.currentIndex() == -1
    # one click fixes it, as one undoable edit
    button = win.problems.fix_button(0)
    assert button is not None and "digits" in button.text()
    button.click()
    assert normalize_spec(doc.design.data)["name"] == "digits"
    assert doc.undo_stack.count() == 1 and doc.modified
    assert win.problems.problems == [] and panel.train_action.isEnabled()
    assert not data_panel.missing_label.isVisibleTo(data_panel)
    assert shown_data_spec(data_panel) == {"source": "builtin", "name": "digits"}
    win.undo_action.trigger()
    assert not doc.design.data and not panel.train_action.isEnabled()
    win.redo_action.trigger()
    assert panel.train_action.isEnabled()


def test_an_invalid_data_section_is_listed_and_blocks_train(window):
    design = template("mlp")
    design.data = {"source": "builtin", "name": "no-such-set"}
    win = window(design)
    rows = [p for p in win.problems.problems if "data" in p.message.lower()]
    assert len(rows) == 1 and "no-such-set" in rows[0].message
    assert not win.training_panel.train_action.isEnabled()
    data_panel = win.data_panel
    assert data_panel.missing_label.isVisibleTo(data_panel)
    assert "no-such-set" in data_panel.missing_label.text()
    assert not data_panel.rows["dataset"][1].isVisibleTo(data_panel)  # no stand-in dataset
    win.problems.fix_button(0).click()
    assert win.training_panel.train_action.isEnabled()


def test_an_invalid_training_section_is_listed_and_blocks_train(window):
    design = template("mlp")
    design.training["epochs"] = 0
    win = window(design)
    rows = [p for p in win.problems.problems if "training" in p.message.lower()]
    assert len(rows) == 1 and "epochs" in rows[0].message
    panel = win.training_panel
    assert not panel.train_action.isEnabled() and "epochs" in panel.train_action.toolTip()
    win.document.push(SetSection(win.document, "training", "epochs", 1))
    assert panel.train_action.isEnabled()


def test_train_tooltip_gives_the_reason_for_a_design_problem(window):
    win = window(template("mlp"))
    doc = win.document
    doc.push(Disconnect(doc, next(e for e in doc.design.edges if e.target == "hidden2")))
    tip = win.training_panel.train_action.toolTip()
    assert not win.training_panel.train_action.isEnabled()
    assert "hidden2" in tip and "Problems" in tip


def test_a_failed_start_leaves_no_empty_run_folder(qtbot, window, tmp_path):
    design = template("mlp")
    design.data = {"source": "csv", "path": str(tmp_path / "gone.csv"), "target": "y"}
    win = window(design)
    panel = win.training_panel
    panel.runs_dir = tmp_path / "runs"
    with qtbot.waitSignal(panel.runFinished, timeout=60_000) as finished:
        assert panel.train()
    assert finished.args[0].error is not None
    assert panel.error_label.isVisible() and "{" not in panel.error_label.text()
    runs = panel.runs_dir
    assert not runs.exists() or list(runs.iterdir()) == []
    assert panel.last_out_dir is None


# -- stale results -----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["new", "open", "template"])
def test_opening_another_design_clears_the_last_run(qtbot, window, tmp_path, how):
    win = window(template("mlp", epochs=1))
    panel, plots = win.training_panel, win.plots
    panel.runs_dir = tmp_path / "runs"
    with qtbot.waitSignal(panel.runFinished, timeout=120_000):
        panel.train_action.trigger()
    assert panel.result_label.isVisible() and panel.export_button.isVisible()
    assert plots.epochs_seen == 1 and panel.last_out_dir is not None
    win.document.undo_stack.setClean()
    if how == "new":
        win.new_design()
    elif how == "open":
        other = tmp_path / "rnn.json"
        other.write_text(dumps(template("rnn")), encoding="utf-8")
        assert win.open_design(other)
    else:
        assert win.new_from_template("som")
    assert panel.last_out_dir is None and panel.last_result is None
    assert not panel.result_label.isVisible() and not panel.export_button.isVisible()
    assert panel.state_label.text() == "Ready"
    assert panel.progress.value() == 0 and panel.values_label.text() == ""
    assert plots.epochs_seen == 0 and not plots.loss_plot.listDataItems()
    for plot in (plots.loss_plot, plots.metric_plot, plots.grad_plot):  # not the old run's axes
        assert plot.getViewBox().viewRange()[0] == [0, 10]
    assert "placeholder" in plots.family_items  # no confusion matrix of the old run
    assert plots.layer_order == []
    dialog = win.show_export_dialog()
    assert dialog.last_run is None


# -- title and status bar ------------------------------------------------------------------------


def test_title_after_new_names_the_design_once(window, tmp_path):
    win = window(template("mlp"))
    win.new_design()
    assert win.windowTitle() == "Untitled[*] — Deepwire"
    assert not win.isWindowModified()
    doc = win.document
    doc.push(SetSection(doc, "training", "epochs", 3))
    assert win.isWindowModified()
    win.prompts.save_path = tmp_path / "mine.json"
    assert win.save()
    assert win.windowTitle() == "mine.json[*] — Deepwire"  # the design is still "Untitled"


def test_title_keeps_a_design_name_that_differs_from_the_file(window):
    win = window(template("mlp"))
    assert win.windowTitle() == f"Untitled[*] — {win.document.design.name} — Deepwire"


def test_status_bar_shows_no_parameter_count_while_the_design_has_problems(window):
    win = window(template("mlp"))
    assert (
        win.params_label.text().startswith("Parameters: ")
        and win.params_label.text() != "Parameters: —"
    )
    doc = win.document
    doc.push(Disconnect(doc, next(e for e in doc.design.edges if e.target == "hidden2")))
    assert win.params_label.text() == "Parameters: —"
    assert "Problems" in win.params_label.toolTip()
    win.undo_action.trigger()
    count = win.params_label.text()
    assert count != "Parameters: —"
    doc.push(SetSection(doc, "training", "epochs", 0))  # a settings problem: the count holds
    assert win.validity_label.text() == "⚠ 1 problem" and win.params_label.text() == count


def test_the_inspector_of_a_new_design_fits_its_dock_without_a_sideways_scroll_bar(qtbot, window):
    """File → New at the window's opening size: the inspector's "⚠ 1 problem (see Problems)"
    wraps inside the dock instead of widening the panel past it."""
    win = window(template("mlp"))
    win.new_action.trigger()
    inspector = win.inspector
    qtbot.waitUntil(lambda: "problem" in inspector.status_value.text(), timeout=5000)
    qtbot.wait(50)  # laid out
    assert not inspector._scroll.horizontalScrollBar().isVisible()


# -- start-up check and packaging ----------------------------------------------------------------


def test_missing_xcb_libraries_are_named_with_the_apt_line(monkeypatch):
    from gui import app

    env = {"DISPLAY": ":0"}
    present = set(app.XCB_LIBRARIES)
    monkeypatch.setattr(app, "_can_load", lambda soname: soname in present)
    assert app.xcb_problem(env, "linux") is None
    present -= {"libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    line = app.xcb_problem(env, "linux")
    assert line is not None and "\n" not in line
    assert "sudo apt install libxcb-icccm4 libxcb-keysyms1" in line
    assert "libxcb-cursor0" not in line
    # no check where Qt would not use xcb
    assert app.xcb_problem({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert app.xcb_problem({}, "linux") is None
    assert app.xcb_problem(env, "darwin") is None


def test_the_app_exits_2_with_the_apt_line_before_creating_the_window(monkeypatch, capsys):
    from gui import app

    monkeypatch.setattr(app, "_can_load", lambda soname: soname != "libxcb-cursor.so.0")
    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    import argparse

    code = app.run_app(argparse.Namespace(design=None, screenshot=None, train_for=0.0))
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "libxcb-cursor0" in err and "apt install" in err


def test_the_real_libraries_are_found_here():
    """The loader sees what ldd sees: every library named is a real soname on this machine."""
    from gui import app

    if not sys.platform.startswith("linux"):
        pytest.skip("Linux only")
    assert app._can_load("libc.so.6")
    assert not app._can_load("libdeepwire-no-such-library.so.9")


def test_onnx_export_needs_no_extra_install():
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = {
        d.split(">")[0].split("=")[0].split("<")[0].strip().lower() for d in meta["dependencies"]
    }
    assert {"onnx", "onnxscript", "onnxruntime"} <= deps
    assert "export" in meta["optional-dependencies"]  # `.[test,export]` still installs
    for path in [
        REPO / "README.md",
        *REPO.glob("docs/*.md"),
        *REPO.glob("engine/**/*.py"),
        *REPO.glob("gui/**/*.py"),
    ]:
        assert "deepwire[export]" not in path.read_text(encoding="utf-8"), path


def test_readme_set_up_installs_cpu_torch_first_then_two_commands():
    from gui.app import XCB_LIBRARIES

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    setup = readme[readme.index("## Set up") : readme.index("## Command line")]
    steps = [
        line.strip()
        for line in setup.splitlines()
        if line.strip().startswith(("pip ", "sudo apt "))
    ]
    assert steps[0] == "pip install torch --index-url https://download.pytorch.org/whl/cpu"
    assert setup.index("1. ") < setup.index(steps[0]) < setup.index("2. ")
    assert steps[1] == "pip install -e . && python main.py"
    assert steps[2].startswith('pip install -e ".[test') and "python -m pytest" in steps[2]
    assert steps[3] == "sudo apt install " + " ".join(XCB_LIBRARIES.values())
    assert len(steps) == 4


def test_choosing_a_source_in_the_data_panel_fills_a_missing_section(window):
    design = template("mlp")
    design.data = {}
    win = window(design)
    panel = win.data_panel
    combo = panel.source_combo
    assert combo.currentIndex() == -1
    combo.setCurrentIndex(combo.findData("builtin"))
    combo.activated.emit(combo.currentIndex())
    assert normalize_spec(win.document.design.data)["name"] == "digits"
    assert panel.pre_box.isVisibleTo(panel) and not panel.missing_label.isVisibleTo(panel)
    assert win.training_panel.train_action.isEnabled()
