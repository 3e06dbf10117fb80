"""The plots as a new user meets them: the window at its opening size and docks, Train pressed,
the first epoch drawn. Every plot gets a readable height (or scrolls), the axes say ``epoch``
without SI scaling, empty plots say what will appear, and legends never hide a curve; the
``--screenshot`` command shows the window as it opens unless ``--layout training`` is asked for."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QRectF, Qt

from engine.io import load_design
from engine.training.events import BatchEvent, EpochEvent, LayerStats, TrainStartEvent
from engine.training.samples import ConfusionSample
from resources import template_path

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def mlp(epochs: int = 50):
    design = load_design(template_path("mlp"))
    design.training["epochs"] = epochs
    design.training["device"] = "cpu"
    return design


def settle(qtbot, win) -> None:
    """Let the dock layout and the plots' layout catch up."""
    win.plots.flush()
    qtbot.wait(100)


def plot_items(plots):
    """The plots a user reads (name → PlotItem), the family view's too."""
    items = {
        "loss": plots.loss_plot,
        "metrics": plots.metric_plot,
        "layers": plots.act_plot,
        "zeros": plots.zero_plot,
        "gradients": plots.grad_plot,
    }
    items["family"] = plots.family_items["image_plot"]  # the confusion matrix
    return items


def curves_rect(plot) -> QRectF:
    """The scene rect around every point the plot's curves draw (3 px more for the symbols)."""
    xs, ys = [], []
    for item in plot.listDataItems():
        x, y = item.getData()  # as drawn (log10 on a log axis)
        if x is not None and len(x):
            keep = np.isfinite(x) & np.isfinite(y)
            xs += [x[keep].min(), x[keep].max()]
            ys += [y[keep].min(), y[keep].max()]
    assert xs, "the plot has data"
    vb = plot.getViewBox()
    corners = [
        vb.mapViewToScene(QPointF(x, y)) for x in (min(xs), max(xs)) for y in (min(ys), max(ys))
    ]
    rect = QRectF(corners[0], corners[-1]).normalized()
    for corner in corners:
        rect = rect.united(QRectF(corner, corner))
    return rect.adjusted(-3, -3, 3, 3)


def test_train_gives_every_plot_a_readable_height_and_data(qtbot, main_window):
    win, _ = main_window(mlp(), exposed=True)  # 1400 × 900, default docks
    plots, panel = win.plots, win.training_panel
    opened_height = win.plots_dock.height()  # as the window opens: the Problems dock's
    panel.train_action.trigger()
    assert panel.is_training, panel.error_label.text()
    qtbot.waitUntil(lambda: plots.epochs_seen >= 1, timeout=120_000)
    with qtbot.waitSignal(panel.runFinished, timeout=30_000):
        panel.stop_action.trigger()
    settle(qtbot, win)
    assert win.plots_dock.isVisible() and not win.plots_dock.visibleRegion().isEmpty()
    assert win.plots_dock.height() >= max(0.4 * win.height(), opened_height)
    for name, plot in plot_items(plots).items():
        assert plot.isVisible(), name
        assert plot.sceneBoundingRect().height() >= 200, (name, plot.sceneBoundingRect())
    # … and each has data
    assert plots.loss_plot.listDataItems()[0].getData()[0].size > 0
    assert len(plots.metric_curves["val_accuracy"].getData()[0]) >= 1
    assert len(plots.act_means.getData()[0]) >= 2
    assert all(len(c.getData()[0]) for c in plots.grad_curves.values()) and plots.grad_curves
    assert plots.family_items["image"].image is not None
    assert not any(text.isVisible() for text in plots.placeholders.values())
    # the epoch axes read "epoch", at whole epochs once a run passed one
    for plot in (plots.loss_plot, plots.metric_plot, plots.grad_plot):
        axis = plot.getAxis("bottom")
        assert not axis.autoSIPrefix
        assert "x0.001" not in axis.labelString() and "epoch" in axis.labelString()
    metric_axis = plots.metric_plot.getAxis("bottom")
    view_range = plots.metric_plot.getViewBox().viewRange()[0]
    ticks = metric_axis.tickValues(view_range[0], view_range[1], 300)
    assert all(float(v).is_integer() for _spacing, values in ticks for v in values)
    # no legend hides a curve: each lies outside the curves' rect
    for plot, legend in (
        (plots.loss_plot, plots.loss_legend),
        (plots.metric_plot, plots.metric_legend),
        (plots.grad_plot, plots.grad_legend),
    ):
        assert legend.items, "the legend names the curves"
        rect = curves_rect(plot)
        assert not legend.sceneBoundingRect().intersects(rect), (legend.sceneBoundingRect(), rect)
        assert not legend.sceneBoundingRect().intersects(plot.getViewBox().sceneBoundingRect())


def test_a_short_plots_panel_scrolls_instead_of_squashing(qtbot, main_window):
    win, _ = main_window(mlp(), exposed=True)
    win.plots_dock.show()
    win.plots_dock.raise_()
    win.resizeDocks([win.plots_dock], [90], Qt.Orientation.Vertical)  # the Problems height
    plots = win.plots
    plots.prepare_run(win.document.design, "classification")
    settle(qtbot, win)
    assert plots.height() < 120
    assert plots.view.height() >= plots.view.minimumHeight() >= 400
    assert plots.scroll_area.verticalScrollBar().maximum() > 0  # the rest is a scroll away
    for name, plot in plot_items(plots).items():
        assert plot.sceneBoundingRect().height() >= 180, name


def test_empty_plots_say_what_will_appear_until_data_arrives(qtbot, main_window):
    win, _ = main_window(mlp(), exposed=True)
    plots = win.plots
    plots.prepare_run(win.document.design, "classification")
    settle(qtbot, win)
    texts = {
        name: item.toPlainText() for name, item in plots.placeholders.items() if item.isVisible()
    }
    assert {"loss", "metrics", "layers", "gradients", "family"} <= set(texts)
    assert "Loss" in texts["loss"] and "training starts" in texts["loss"]
    assert "confusion matrix" in texts["family"].lower()
    centre = plots.loss_plot.getViewBox().sceneBoundingRect().center()
    assert plots.placeholders["loss"].sceneBoundingRect().contains(centre)  # centred
    # empty axes carry no SI scale either
    for plot in (plots.act_plot, plots.loss_plot):
        assert "(x" not in plot.getAxis("bottom").labelString()
    stats = {"hidden1": LayerStats(0.001, 0.002, 0.0), "relu1": LayerStats(0.003, 0.001, 0.5)}
    plots.add_events(
        [
            TrainStartEvent("classification", "cpu", 5, 0, 1000, 64_000, 100, "t", ("loss",)),
            BatchEvent(
                epoch=0,
                step=3,
                batch=3,
                batches_per_epoch=1000,
                steps=[1, 2, 3],
                losses={"loss": [2.3, 2.2, 2.1]},
                lr=1e-3,
                samples_per_s=1e4,
                activation_stats=stats,
                grad_norms={"hidden1": 0.4, "logits": 0.2},
            ),
        ]
    )
    settle(qtbot, win)
    assert not plots.placeholders["loss"].isVisible()
    assert not plots.placeholders["layers"].isVisible()
    assert not plots.placeholders["gradients"].isVisible()
    assert plots.placeholders["metrics"].isVisible()  # no epoch finished yet
    assert plots.placeholders["family"].isVisible()
    # three steps of a 1000-step epoch: x up to 0.003, and the label stays "epoch"
    axis = plots.loss_plot.getAxis("bottom")
    assert "epoch" in axis.labelString() and "(x" not in axis.labelString()
    assert axis.autoSIPrefixScale == 1.0
    assert "(x" not in plots.act_plot.getAxis("bottom").labelString()
    plots.add_events(
        [
            EpochEvent(
                1,
                5,
                1000,
                {"train_loss": 1.0, "val_loss": 1.1, "val_accuracy": 0.6},
                1e-3,
                1.0,
                True,
                ConfusionSample(np.eye(10, dtype=int) * 3),
            )
        ]
    )
    settle(qtbot, win)
    assert not plots.placeholders["metrics"].isVisible()
    assert not plots.placeholders["family"].isVisible()
    plots.prepare_run(win.document.design, "classification")  # the next run: empty again
    settle(qtbot, win)
    assert plots.placeholders["loss"].isVisible() and plots.placeholders["family"].isVisible()


def test_a_som_says_why_it_has_no_gradients(qtbot, main_window):
    win, _ = main_window(mlp(), exposed=True)
    plots = win.plots
    plots.prepare_run(win.document.design, "som")
    settle(qtbot, win)
    assert plots.placeholders["gradients"].isVisible()
    assert "SOM" in plots.placeholders["gradients"].toPlainText()
    # every note fits inside its plot, wrapped if need be (the SOM's ran past both sides)
    for key, plot in (("gradients", plots.grad_plot), ("metrics", plots.metric_plot)):
        note = plots.placeholders[key].sceneBoundingRect()
        view = plot.getViewBox().sceneBoundingRect()
        assert view.left() <= note.left() and note.right() <= view.right(), key


def test_a_metrics_plot_with_nothing_to_show_says_why(qtbot, main_window):
    """An autoencoder's only metric, the validation MSE, is its validation loss: the metrics
    plot says so after the first epoch instead of promising metrics "after the first epoch"
    for the whole run."""
    win, _ = main_window(mlp(), exposed=True)
    plots = win.plots
    plots.prepare_run(win.document.design, "reconstruction")
    metrics = {"train_loss": 0.02, "val_loss": 0.03, "val_mse": 0.03}
    plots.add_events([EpochEvent(1, 5, 10, metrics, 1e-3, 1.0, True, None)])
    settle(qtbot, win)
    note = plots.placeholders["metrics"]
    assert note.isVisible()
    assert note.toPlainText() == "No metric besides the loss: val mse is the validation loss"


# -- the --screenshot command ----------------------------------------------------------------


def dock_sizes(win) -> dict[str, tuple[int, int]]:
    return {
        dock.objectName(): (dock.width(), dock.height())
        for dock in (win.palette_dock, win.inspector_dock, win.problems_dock, win.plots_dock)
    }


def test_screenshot_shows_the_window_as_it_opens_or_the_training_layout(qtbot, main_window):
    from gui.app import stage_window

    opened, _ = main_window(mlp(), exposed=True)
    settle(qtbot, opened)
    staged, _ = main_window(mlp(), exposed=True)
    stage_window(staged, (1400, 900), "default")
    settle(qtbot, staged)
    assert dock_sizes(staged) == dock_sizes(opened)
    assert staged.problems_dock.visibleRegion().isEmpty() is False  # Problems in front
    training, _ = main_window(mlp(), exposed=True)
    stage_window(training, (1400, 900), "training")
    settle(qtbot, training)
    assert training.plots_dock.height() >= 0.4 * training.height()
    assert not training.plots_dock.visibleRegion().isEmpty()


def test_screenshot_layout_flag_is_checked(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "main.py"),
            "--screenshot",
            str(tmp_path / "x.png"),
            "--layout",
            "sideways",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "--layout" in lines[0] and "training" in lines[0]
    assert not (tmp_path / "x.png").exists()
