"""Acceptance: the first hour in the window as it opens (default size, default docks, no staging).

One walk with real input events, as a new user takes it: File → New (Ctrl+N) → drop Input, Linear,
ReLU, Linear and Output from the palette → wire them by dragging port to port → set the classes in
the inspector → cause a shape error and fix it → undo/redo (keys) → Train (F5) until the first epoch
ends, with readable plots that show data → Stop → Save (Ctrl+S) → reopen → Export ONNX →
onnxruntime runs the file. Every wait has a timeout; teardown joins the training thread.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from engine.training.events import EpochEvent

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

LEFT = Qt.MouseButton.LeftButton
WAIT_MS = 120_000


def _drop_from_palette(win, type_id: str, point: QPoint) -> str:
    """Drag ``type_id`` from the palette and drop it at ``point`` (viewport pixels): the events
    Qt delivers to the canvas on a real drop. Returns the new node's id."""
    canvas = win.canvas
    before = {n.id for n in win.document.design}
    mime: QMimeData = win.palette_panel.tree.mimeData([win.palette_panel.item_for(type_id)])
    buttons, mods = LEFT, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(point, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(canvas.viewport(), enter)
    assert enter.isAccepted()
    QApplication.sendEvent(
        canvas.viewport(), QDragMoveEvent(point, Qt.DropAction.CopyAction, mime, buttons, mods)
    )
    QApplication.sendEvent(
        canvas.viewport(), QDropEvent(QPointF(point), Qt.DropAction.CopyAction, mime, buttons, mods)
    )
    (new_id,) = {n.id for n in win.document.design} - before
    return new_id


def _port(win, node_id: str, input_port: int | None = None) -> QPoint:
    item = win.canvas.scene().nodes[node_id]
    local = item.output_port_pos() if input_port is None else item.input_port_pos(input_port)
    return win.canvas.mapFromScene(item.mapToScene(local))


def _drag_wire(qtbot, win, source: str, target: str) -> None:
    viewport = win.canvas.viewport()
    start, end = _port(win, source), _port(win, target, 0)
    qtbot.mousePress(viewport, LEFT, pos=start)
    for i in range(1, 6):
        qtbot.mouseMove(viewport, start + (end - start) * i / 5)
    qtbot.mouseRelease(viewport, LEFT, pos=end)


def _click_node(qtbot, win, node_id: str) -> None:
    item = win.canvas.scene().nodes[node_id]
    centre = win.canvas.mapFromScene(item.sceneBoundingRect().center())
    qtbot.mouseClick(win.canvas.viewport(), LEFT, pos=centre)


def _type_into(qtbot, editor, text: str) -> None:
    """Select the field's text, type ``text`` and press Enter, as a user edits a field."""
    editor.setFocus()
    editor.selectAll()
    qtbot.keyClicks(editor, text)
    qtbot.keyClick(editor, Qt.Key.Key_Return)


@pytest.fixture
def window(main_window, qtbot):
    made = []

    def make():
        win, prompts = main_window(None, exposed=True)  # the default size and the default docks
        with qtbot.waitActive(win, timeout=5000):
            win.activateWindow()
        made.append(win)
        return win, prompts

    yield make
    for win in made:
        assert win.training_panel.shutdown()
        dialog = getattr(win, "export_dialog", None)
        if dialog is not None:
            dialog.shutdown()
    assert not [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


def test_a_new_user_builds_trains_saves_reopens_and_exports(window, qtbot, tmp_path):
    import onnxruntime

    win, prompts = window()
    assert (win.width(), win.height()) == (1400, 900)
    win.training_panel.runs_dir = tmp_path / "runs"

    # File → New, by its shortcut.
    QTest.keySequence(win, win.new_action.shortcut())
    doc = win.document
    assert len(doc.design) == 0 and doc.design.data  # empty, with the data the panel shows

    # Five layers from the palette, in two rows across the canvas as it opens.
    vp = win.canvas.viewport()
    spots = [(0.17, 0.3), (0.5, 0.3), (0.83, 0.3), (0.5, 0.7), (0.83, 0.7)]
    ids = [
        _drop_from_palette(win, t, QPoint(int(vp.width() * fx), int(vp.height() * fy)))
        for t, (fx, fy) in zip(("Input", "Linear", "ReLU", "Linear", "Output"), spots)
    ]
    items = [win.canvas.scene().nodes[i] for i in ids]
    assert not any(a.collidesWithItem(b) for a in items for b in items if a is not b)
    inp, fc1, relu, fc2, out = ids
    assert [doc.design.node(i).type for i in ids] == ["Input", "Linear", "ReLU", "Linear", "Output"]

    # Wire them port to port with the mouse.
    for a, b in zip(ids, ids[1:]):
        _drag_wire(qtbot, win, a, b)
    assert {(e.source, e.target) for e in doc.design.edges} == set(zip(ids, ids[1:]))

    # The inspector: ten classes on the last Linear.
    _click_node(qtbot, win, fc2)
    assert win.inspector.node_id == fc2
    _type_into(qtbot, win.inspector.editor("out_features").lineEdit(), "10")
    assert doc.design.node(fc2).params["out_features"] == 10
    assert doc.analysis.info[out].output_shape == (10,)

    # A shape error: images into a Linear. The canvas and the Problems list say so; Train is off.
    _click_node(qtbot, win, inp)
    _type_into(qtbot, win.inspector.editor("shape"), "1, 8, 8")
    assert [p.node for p in win.problems.problems] == [fc1]
    assert "Flatten" in win.problems.problems[0].fix
    assert win.canvas.scene().nodes[fc1].problems
    assert not win.training_panel.train_action.isEnabled()
    # ... fixed by typing the right shape back.
    _type_into(qtbot, win.inspector.editor("shape"), "64")
    assert win.problems.problems == []
    assert win.training_panel.train_action.isEnabled()

    # Undo brings the error back, redo fixes it again (keyboard).
    QTest.keySequence(win, win.undo_action.shortcut())
    assert [p.node for p in win.problems.problems] == [fc1]
    QTest.keySequence(win, win.redo_action.shortcut())
    assert win.problems.problems == []
    assert doc.design.node(inp).params["shape"] == [64]

    # Train (F5) on the default data until the first epoch ends.
    doc.design.training["device"] = "cpu"
    panel = win.training_panel
    epochs: list[EpochEvent] = []
    panel.runner.eventsReady.connect(
        lambda events: epochs.extend(e for e in events if isinstance(e, EpochEvent))
    )
    with qtbot.waitSignal(panel.runFinished, timeout=WAIT_MS) as finished:
        QTest.keyClick(win, Qt.Key.Key_F5)
        assert panel.is_training, panel.error_label.text()
        qtbot.waitUntil(lambda: bool(epochs), timeout=WAIT_MS)
        QApplication.processEvents()
        # The plots are readable and show the run.
        plots = win.plots
        assert win.plots_dock.isVisible()
        loss = plots.loss_plot
        qtbot.waitUntil(
            lambda: any(
                c.getData()[0] is not None and len(c.getData()[0]) for c in loss.listDataItems()
            ),
            timeout=10_000,
        )
        assert loss.height() >= 200 and plots.metric_plot.height() >= 200
        QTest.keySequence(win, panel.stop_action.shortcut())
    assert finished.args[0].error is None, finished.args[0].error

    # Save (Ctrl+S asks where), reopen, and export ONNX from the run.
    path = tmp_path / "first.json"
    prompts.save_path = path
    QTest.keySequence(win, win.save_action.shortcut())
    assert path.is_file() and not win.isWindowModified()
    assert win.open_design(path)
    assert [n.id for n in win.document.design] == ids
    dialog = win.show_export_dialog()
    qtbot.waitUntil(lambda: dialog.probe is not None and not dialog.probe.running, timeout=WAIT_MS)
    # The run started while the design was Untitled is offered after Save As and reopening.
    assert "trained on this design" in dialog.checkpoint_info.text(), dialog.checkpoint_edit.text()
    dialog.set_format("onnx")
    dialog.set_output(tmp_path / "first.onnx")
    assert dialog.export()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert (tmp_path / "first.onnx").is_file(), dialog.result_label.text()
    session = onnxruntime.InferenceSession(str(tmp_path / "first.onnx"))
    x = np.random.default_rng(0).random((3, 64), dtype=np.float32)
    (scores,) = session.run(None, {session.get_inputs()[0].name: x})
    assert scores.shape == (3, 10) and np.isfinite(scores).all()
