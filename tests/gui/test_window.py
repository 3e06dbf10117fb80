"""The main window as a user meets it: menus, status bar, palette → canvas, inspector → canvas
and problems, problems → canvas selection, and freeing everything on close."""

from __future__ import annotations

import gc
import weakref
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QSettings, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QScrollArea

from engine.io import load_design
from gui import formatting
from gui.commands import Disconnect, SetParam
from gui.recovery import RecoveryStore
from resources import template_path
from tests.gui.fakes import FakePrompts

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


@pytest.fixture
def window(main_window, tmp_path):
    """Factory: a shown main window on a template, with throwaway settings and data folder."""

    def make(stem: str = "cnn", settings_file: str = "settings.ini", size=(1400, 900)):
        settings = QSettings(str(tmp_path / settings_file), QSettings.Format.IniFormat)
        win, _prompts = main_window(template_path(stem), settings=settings, size=size, exposed=True)
        return win

    return make


def _menu_titles(win) -> list[str]:
    return [a.text().replace("&", "") for a in win.menuBar().actions()]


def _menu_texts(win, title: str) -> list[str]:
    for action in win.menuBar().actions():
        if action.text().replace("&", "") == title:
            return [a.text().replace("&", "") for a in action.menu().actions() if a.text()]
    raise KeyError(title)


def test_menus_toolbar_and_named_undo(window):
    win = window()
    assert _menu_titles(win) == ["File", "Edit", "View", "Layout", "Train", "Help"]
    file_items = _menu_texts(win, "File")
    for item in ("New", "New from Template…", "Open…", "Open Recent", "Save", "Save As…", "Quit"):
        assert item in file_items
    edit_items = _menu_texts(win, "Edit")
    for item in ("Cut", "Copy", "Paste", "Duplicate", "Delete", "Select All"):
        assert item in edit_items
    assert "Auto-Layout" in _menu_texts(win, "Layout")
    assert {"Layers", "Inspector", "Problems", "History"} <= set(_menu_texts(win, "View"))
    assert not win.undo_action.isEnabled()
    doc = win.document
    doc.push(SetParam(doc, "conv1", "out_channels", 8))
    assert win.undo_action.isEnabled()
    assert win.undo_action.text().replace("&", "") == "Undo Change out_channels of conv1"
    win.undo_action.trigger()
    assert doc.design.node("conv1").params["out_channels"] == 16
    assert win.redo_action.text().replace("&", "") == "Redo Change out_channels of conv1"
    assert "Ctrl+Shift+Z" in [k.toString() for k in win.redo_action.shortcuts()]
    assert len(win.toolbar.actions()) >= 10


def test_status_bar_shows_totals_and_device(window):
    win = window("cnn")
    totals = win.document.analysis.totals()
    assert win.params_label.text() == f"Parameters: {formatting.count(totals.params)}"
    assert win.params_label.text() == "Parameters: 38,314"
    assert win.macs_label.text() == f"MACs: {formatting.short_count(totals.macs)}"
    assert "KiB/sample" in win.memory_label.text()
    assert win.device_label.text() in (
        "Device: CPU",
        "Device: MPS (Apple GPU)",
    ) or win.device_label.text().startswith("Device: CUDA: ")
    assert win.validity_label.text() == "✔ Valid"
    doc = win.document
    doc.push(SetParam(doc, "dense", "out_features", 32))
    assert (
        win.params_label.text() == f"Parameters: {formatting.count(doc.analysis.totals().params)}"
    )
    assert win.params_label.text() != "Parameters: 38,314"


def test_title_shows_file_name_and_modified_mark(window, tmp_path):
    win = window("mlp")
    assert win.windowTitle().startswith("Untitled[*]")
    assert not win.isWindowModified()
    doc = win.document
    doc.push(SetParam(doc, "hidden1", "out_features", 100))
    assert win.isWindowModified()
    win.prompts.save_path = tmp_path / "digits.json"
    assert win.save()
    assert win.windowTitle().startswith("digits.json[*]") and not win.isWindowModified()


def test_palette_double_click_adds_after_the_selected_node(window, qtbot):
    win = window("mlp")
    canvas = win.canvas
    canvas.select_nodes(["relu1"])
    before = len(win.document.design)
    item = win.palette_panel.item_for("Dropout")
    win.palette_panel.tree.itemDoubleClicked.emit(item, 0)
    design = win.document.design
    assert len(design) == before + 1
    new_id = canvas.selected_node_ids()[0]
    assert design.node(new_id).type == "Dropout"
    assert [e.source for e in design.in_edges(new_id)] == ["relu1"]
    assert win.document.analysis.info[new_id].output_shape == (128,)
    # The inspector follows the selection: it now shows the new layer.
    assert win.inspector.node_id == new_id
    assert canvas.scene().nodes[new_id].shape_text == "→ (N, 128)"
    win.undo_action.trigger()
    assert new_id not in win.document.design


def test_palette_drag_onto_the_canvas_adds_at_the_drop_point(window, qtbot):
    win = window("mlp")
    canvas = win.canvas
    mime: QMimeData = win.palette_panel.tree.mimeData([win.palette_panel.item_for("GELU")])
    point = QPoint(canvas.viewport().width() // 3, canvas.viewport().height() // 2)
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(canvas.viewport(), enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(point, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(canvas.viewport(), move)
    drop = QDropEvent(QPointF(point), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(canvas.viewport(), drop)
    added = [n for n in win.document.design if n.type == "GELU"]
    assert len(added) == 1
    item = canvas.scene().nodes[added[0].id]
    assert item.sceneBoundingRect().contains(canvas.mapToScene(point))


def test_inspector_edit_updates_canvas_text_and_problems(window):
    win = window("cnn")
    win.canvas.select_nodes(["conv2"])
    assert win.inspector.node_id == "conv2"
    box = win.inspector.editor("out_channels")
    box.setValue(8)  # what the spin box emits when the user steps or types a value
    node_item = win.canvas.scene().nodes["conv2"]
    assert node_item.shape_text == "→ (N, 8, 8, 8)"
    assert node_item.params_text == f"{16 * 8 * 9 + 8:,} parameters"
    assert win.canvas.scene().nodes["pool"].shape_text == "→ (N, 8, 4, 4)"
    assert win.problems.problems == []
    win.inspector.editor("kernel_size").setValue(11)
    assert [p.node for p in win.problems.problems] == ["conv2"]
    assert node_item.shape_text == "→ ?"
    assert node_item.problems
    assert win.problems_dock.windowTitle() == "Problems (1)"
    assert win.validity_label.text() == "⚠ 1 problem"
    win.undo_action.trigger()
    assert win.problems.problems == []
    assert win.inspector.editor("kernel_size").value() == 3


def test_invalid_inspector_value_is_refused_and_not_pushed(window, qtbot):
    win = window("cnn")
    win.canvas.select_nodes(["image"])
    edit = win.inspector.editor("shape")
    edit.setText("1, -3, 8")
    edit.editingFinished.emit()
    assert "positive" in win.inspector.error_text
    assert "Not applied" in win.statusBar().currentMessage()
    assert win.document.undo_stack.count() == 0
    assert not win.isWindowModified()


def test_clicking_a_problem_selects_and_centres_the_node(window, qtbot):
    win = window("cnn")
    doc = win.document
    doc.push(Disconnect(doc, doc.design.in_edges("dense")[0]))
    win.canvas.set_zoom(0.3)
    win.canvas.centerOn(-2000, -2000)
    rows = [win.problems.tree.topLevelItem(i) for i in range(win.problems.tree.topLevelItemCount())]
    row = next(r for r in rows if r.text(0) == "dense")
    win.problems.tree.itemClicked.emit(row, 1)
    assert win.canvas.selected_node_ids() == ["dense"]
    assert win.inspector.node_id == "dense"
    centre = win.canvas.mapToScene(win.canvas.viewport().rect().center())
    node_rect = win.canvas.scene().nodes["dense"].sceneBoundingRect()
    assert node_rect.adjusted(-5, -5, 5, 5).contains(centre)
    assert win.canvas.zoom() >= 0.7  # readable after centring


def test_window_layout_persists_in_the_given_settings(window, tmp_path):
    win = window("mlp", "layout.ini")
    win.problems_dock.hide()
    win.resize(720, 540)  # inside the offscreen screen (800×600), so no clamping
    win.close()
    assert QSettings(str(tmp_path / "layout.ini"), QSettings.Format.IniFormat).contains(
        "window/state"
    )
    again = window("mlp", "layout.ini", size=None)  # as restored
    assert again.problems_dock.isHidden()
    assert (again.width(), again.height()) == (720, 540)
    again.reset_panels()
    assert not again.problems_dock.isHidden()


def test_new_from_template_uses_the_gallery_choice(window):
    win = window("mlp")
    win.prompts.template = "lstm"
    win.template_action.trigger()
    assert any(n.type == "LSTM" for n in win.document.design)
    assert win.canvas.scene().nodes.keys() == {n.id for n in win.document.design}


def test_closing_the_window_frees_the_canvas_items(qtbot, tmp_path):
    from gui.document import Document
    from gui.mainwindow import MainWindow

    doc = Document()
    doc.reset(load_design(template_path("gan")), None)
    win = MainWindow(
        doc,
        settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat),
        recovery=RecoveryStore(tmp_path / "data"),
        prompts=FakePrompts(),
    )
    with qtbot.waitExposed(win, timeout=5000):
        win.show()
    win.canvas.select_nodes(["g_fc1"])
    refs = [
        weakref.ref(win.canvas.scene().nodes["g_fc1"]),
        weakref.ref(win.canvas.scene()),
        weakref.ref(win.canvas),
        weakref.ref(win.inspector),
        weakref.ref(win),
    ]
    assert win.close()
    win.deleteLater()
    del win
    qtbot.wait(10)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete.value)
    gc.collect()
    assert [r() is None for r in refs] == [True] * len(refs)
    # The document outlives the window and still works without it.
    doc.push(SetParam(doc, "g_fc1", "out_features", 8))
    assert doc.analysis.info["g_fc1"].output_shape == (8,)


def test_the_window_opens_with_the_inspector_problems_and_layers_in_front(window, qtbot):
    """As a new user meets it: the Inspector (not Search, Evaluate or another tab of the right
    docks) in front, the Problems list below the canvas, and no right-hand panel clipped."""
    win = window()
    shown = lambda dock: not dock.visibleRegion().isEmpty()  # noqa: E731 - on screen, in front
    qtbot.waitUntil(lambda: shown(win.inspector_dock), timeout=5000)
    assert shown(win.palette_dock) and shown(win.problems_dock)
    behind = (win.training_dock, win.data_dock, win.evaluate_dock, win.search_dock)
    assert not [d.objectName() for d in behind if shown(d)]
    assert not win.stepper_dock.isVisible()  # shown when used


def test_no_right_hand_panel_is_wider_than_its_dock_at_the_opening_size(window, qtbot):
    """Each right-hand panel (Inspector, Training, Data, Evaluate, Search) fits the dock's width
    at the window's opening size: its body scrolls up and down only, so anything wider than the
    dock would be cut off at the right edge (buttons, table columns, half a sentence)."""
    win = window("mlp")
    clipped = {}

    def measure(dock, what: str) -> None:
        dock.raise_()
        qtbot.waitUntil(lambda: not dock.visibleRegion().isEmpty(), timeout=5000)
        qtbot.wait(20)  # a panel built on first show, laid out
        for scroll in dock.findChildren(QScrollArea):
            body = scroll.widget()
            if body is None or not scroll.isVisible():
                continue
            need, room = body.minimumSizeHint().width(), scroll.viewport().width()
            if need > room:
                clipped[what] = (need, room)

    docks = (win.inspector_dock, win.training_dock, win.data_dock, win.evaluate_dock)
    for dock in (*docks, win.search_dock):
        measure(dock, dock.objectName())
    # Try it with a model loaded: the drawing pad and every button of an 8×8 picture input,
    # then the one-row table of a 4-feature input
    try_it = win.evaluate_panel.try_it
    for name, image, raw in (("pad", (1, 8, 8), (64,)), ("table", None, (4,))):
        try_it.set_predictor(SimpleNamespace(image_shape=image, raw_shape=raw, columns=None))
        assert try_it.open_button.isVisible() == (image is not None)
        measure(win.evaluate_dock, f"evaluate with a model ({name})")
    assert clipped == {}
