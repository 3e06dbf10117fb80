"""The decision boundary in the training plots: training a 2-feature classifier (moons) in the
window draws the class-probability grid under the training points, live, a new picture as the
network learns; a 4-feature classifier gets no boundary plot."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from engine.insight.boundary import GRID
from gui.plots import family
from tests.engine.builders import chain
from tests.gui.fakes import FakePrompts

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
MOONS = {
    "source": "builtin",
    "name": "moons",
    "options": {"n_samples": 400},
    "split": {"val": 0.2, "test": 0.0},
    "preprocess": {"scale": "standard"},
}


def _design(data, features):
    design = chain(
        ("x", "Input", {"shape": [features]}),
        ("h", "Linear", {"out_features": 8}),
        ("act", "Tanh"),
        ("out", "Linear", {"out_features": 2 if features == 2 else 3}),
    )
    design.name = "points"
    design.data = data
    design.training = {
        "task": "classification",
        "epochs": 12,
        "batch_size": 32,
        "lr": 0.05,
        "device": "cpu",
    }
    return design


@pytest.fixture
def window(qtbot):
    from gui.document import Document
    from gui.mainwindow import MainWindow

    made = []

    def make(design):
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
        win.close()
        assert win.training_panel.shutdown(30.0) and win.data_panel.shutdown(30.0)
    assert not [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


def _train(qtbot, win):
    panel = win.training_panel
    with qtbot.waitSignal(panel.runFinished, timeout=120_000) as finished:
        panel.train_action.trigger()
        assert panel.is_training, panel.error_label.text()
    return finished.args[0]


def test_training_moons_draws_the_boundary_live_under_the_points(qtbot, window, monkeypatch):
    drawn = []
    original = family.draw_boundary

    def record(plots, items, grid, epoch):
        original(plots, items, grid, epoch)
        drawn.append((items["boundary"].image.copy(), grid))

    monkeypatch.setattr(family, "draw_boundary", record)
    win = window(_design(MOONS, 2))
    result = _train(qtbot, win)
    assert result.ok
    items = win.plots.family_items
    assert len(drawn) >= 2  # updated while training, not once at the end
    first, last = drawn[0][0], drawn[-1][0]
    assert first.shape == (GRID, GRID, 3) and last.shape == (GRID, GRID, 3)
    assert not np.array_equal(first, last)  # the boundary moved as the network learned
    np.testing.assert_array_equal(items["boundary"].image, last)
    grid = drawn[-1][1]
    # the picture covers the grid's extent; the training points lie on it, coloured by class
    rect = items["boundary"].mapRectToParent(items["boundary"].boundingRect())
    x0, y0, w, h = grid.extent
    assert rect.x() == pytest.approx(x0) and rect.width() == pytest.approx(w)
    assert rect.y() == pytest.approx(y0) and rect.height() == pytest.approx(h)
    xs, ys = items["boundary_points"].getData()
    assert len(xs) == len(grid.points) > 100
    np.testing.assert_allclose(xs, grid.points[:, 0])
    brushes = {b.color().name() for b in items["boundary_points"].data["brush"]}
    assert len(brushes) == 2
    assert "Decision boundary — epoch" in items["boundary_plot"].titleLabel.text
    # where the network is sure of class 1, the picture has class 1's colour (not class 0's)
    p1 = grid.probabilities[..., 1]
    sure1 = np.unravel_index(np.argmax(p1), p1.shape)
    sure0 = np.unravel_index(np.argmin(p1), p1.shape)
    assert not np.array_equal(last[sure1], last[sure0])


def test_a_four_feature_classifier_has_no_boundary(qtbot, window):
    iris = {"source": "builtin", "name": "iris", "split": {"val": 0.2, "test": 0.0}}
    design = _design(iris, 4)
    design.training["epochs"] = 1
    win = window(design)
    assert _train(qtbot, win).ok
    assert "boundary_plot" not in win.plots.family_items
    assert win.plots.family_items["image"].image.shape == (3, 3)  # the confusion matrix still
