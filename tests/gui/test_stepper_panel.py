"""Train → Step Through One Batch…: the stages of one training step in the Step Through panel,
each stage's node selected on the canvas (gui/panels/stepper)."""

from __future__ import annotations

import numpy as np
import pytest

from resources import template_path

WAIT_MS = 120_000  # preparing the data and the first step in a worker, on a loaded machine


@pytest.fixture
def stepping(main_window, qtbot):
    """Factory: a window on a template with stepping started; teardown stops the worker."""
    panels = []

    def make(stem: str):
        window, _prompts = main_window(template_path(stem))
        panel = window.stepper_panel
        panels.append(panel)
        qtbot.waitUntil(lambda: panel.step_action.isEnabled(), timeout=10_000)
        window.stepper_panel.step_action.trigger()
        qtbot.waitUntil(lambda: panel.stage is not None, timeout=WAIT_MS)
        return window, panel

    yield make
    for panel in panels:
        assert panel.shutdown(30.0)


def test_mlp_walks_forward_in_topological_order_and_back(stepping, qtbot):
    window, panel = stepping("mlp")
    assert window.stepper_dock.isVisible()
    stage = panel.stage
    assert stage.kind == "data" and stage.node == "pixels"
    assert "Data in" in panel.header.text() and "stage 1 of" in panel.header.text()
    assert panel.caption.text().startswith("Data in:")
    assert panel.picture.shown in ("images", "bars")
    assert window.canvas.selected_node_ids() == ["pixels"]
    assert not panel.back_button.isEnabled() and panel.next_button.isEnabled()

    # Next: each layer's output, each node selected on the canvas in topological order
    order = list(panel.stepper.loop.net.layers.keys())
    for node_id in order:
        panel.next_button.click()
        assert panel.stage.kind == "forward"
        assert window.canvas.selected_node_ids() == [node_id]
        assert node_id in panel.header.text()
        assert panel.picture.shown != ""
    assert panel.picture.bars.isVisible()  # the output vector as bars

    # the error check shows the loss the engine's stepper computed, and the targets
    panel.next_button.click()
    error = panel.stage
    assert error.kind == "error"
    assert f"Loss {error.numbers['loss']:.4g}" in panel.numbers.text()
    assert panel.picture.marks.isVisible()  # a marker on each sample's target class
    marked = np.asarray(panel.picture.marks.getData()[0]) - 0.5
    assert np.array_equal(marked, error.tensors["target"])

    # Back returns to the last forward stage (and selects its node again)
    panel.back_button.click()
    assert panel.stage.kind == "forward" and panel.stage.node == order[-1]
    assert window.canvas.selected_node_ids() == [order[-1]]

    # to the end: backward in reverse order, then the update histograms
    while panel.next_button.isEnabled():
        panel.next_button.click()
    assert panel.stage.kind == "update"
    assert panel.picture.shown == "histogram"
    assert "Change norm" in panel.numbers.text()
    assert "Adam" in panel.caption.text()

    # Repeat: a new batch, from stage 1 again
    first = panel.stepper.record.indices.copy()
    panel.repeat_button.click()
    assert not panel.repeat_button.isEnabled()  # while the worker trains the next batch
    qtbot.waitUntil(lambda: panel.batch == 2, timeout=WAIT_MS)
    assert panel.index == 0 and "Batch 2" in panel.header.text()
    assert not set(panel.stepper.record.indices) & set(first)
    assert window.document.undo_stack.count() == 0  # stepping never edits the design


def test_gan_shows_both_steps(stepping):
    _window, panel = stepping("gan")
    steps = [s.step for s in panel.stages]
    assert "discriminator step" in steps and "generator step" in steps
    errors = [s for s in panel.stages if s.kind == "error"]
    assert [s.step for s in errors] == ["discriminator step", "generator step"]
    panel.index = panel.stages.index(errors[1]) - 1
    panel.next_button.click()
    assert "generator step" in panel.header.text()
    assert f"Loss {errors[1].numbers['loss']:.4g}" in panel.numbers.text()


def test_blocked_while_the_design_has_problems(main_window, qtbot):
    from engine.io import load_design

    design = load_design(template_path("mlp"))
    design.remove_node("relu1")  # hidden1 no longer reaches the rest
    window, _ = main_window(design)
    action = window.stepper_panel.step_action
    qtbot.waitUntil(lambda: not action.isEnabled(), timeout=10_000)
    assert "problem" in action.toolTip().lower()


def test_blocked_while_a_training_run_is_going_on(main_window, qtbot):
    from engine.io import load_design

    design = load_design(template_path("mlp"))
    design.training["epochs"] = 5_000
    window, _ = main_window(design)
    training, action = window.training_panel, window.stepper_panel.step_action
    qtbot.waitUntil(action.isEnabled, timeout=10_000)
    with qtbot.waitSignal(training.runFinished, timeout=120_000):
        training.train_action.trigger()
        assert training.is_training
        assert not action.isEnabled() and "training run" in action.toolTip()
        qtbot.waitUntil(lambda: training.step > 0, timeout=60_000)
        training.stop_action.trigger()
    qtbot.waitUntil(action.isEnabled, timeout=10_000)


@pytest.mark.parametrize("stem", ["lstm", "autoencoder", "som", "gan"])
def test_every_stage_of_each_family_has_a_picture(qtbot, stem):
    from engine.insight.stepper import Stepper
    from engine.io import load_design
    from gui.panels.stepper.picture import StagePicture

    picture = StagePicture()
    qtbot.addWidget(picture)
    stages = Stepper(load_design(template_path(stem)), batch_size=4).next_batch()
    for stage in stages:
        picture.show_stage(stage)
        no_gradient = stage.kind == "backward" and "gradient" not in stage.tensors
        assert picture.shown or no_gradient, (stage.kind, stage.node)
    kinds = {s.kind: s for s in stages}
    if stem == "lstm":  # the input sequences as a time × feature heat map, outputs as bars
        picture.show_stage(stages[0])
        assert picture.shown == "heatmap" and picture.image.image.shape == (8, 8)
        picture.show_stage(kinds["forward"])
        assert picture.shown == "bars"
    if stem == "som":  # the distances on the map's grid, the best unit marked
        picture.show_stage(kinds["distances"])
        rows, cols = kinds["distances"].tensors["distances"].shape[1:]
        assert picture.image.image.shape == (rows, cols) and picture.marks.isVisible()
