"""Plots the user cannot see are not redrawn while a run goes on (a hidden Plots dock, a plot
scrolled out of view), and each catches up with the whole run as soon as it is in view."""

from __future__ import annotations

import pytest

from engine.training.events import BatchEvent, TrainStartEvent
from gui.plots import TrainingPlots
from tests.helpers import train_start

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def start() -> TrainStartEvent:
    return train_start(3, 10)


def batch(step: int, **fields) -> BatchEvent:
    """Step ``step`` of the first epoch; ``fields`` replace the defaults."""
    values = {
        "epoch": 0,
        "step": step,
        "batch": step,
        "batches_per_epoch": 10,
        "steps": [step],
        "losses": {"loss": [1.0 / step]},
        "lr": 1e-3,
        "samples_per_s": 1.0,
        "grad_norms": {"dense1": 0.5 + step},
    }
    values.update(fields)
    return BatchEvent(**values)


def points(curve) -> int:
    return 0 if curve.xData is None else len(curve.xData)


def shown_plots(qtbot, width: int, height: int) -> TrainingPlots:
    """The plots shown at ``width`` × ``height``, a run started."""
    made = TrainingPlots()
    qtbot.addWidget(made)
    made.resize(width, height)
    made.show()
    qtbot.waitExposed(made)
    made.add_events([start()])
    return made


@pytest.fixture
def plots(qtbot):
    made = shown_plots(qtbot, 900, 160)  # shorter than the grid: the bottom row out of view
    made.flush()
    return made


def test_a_plot_scrolled_out_of_view_catches_up_when_scrolled_to(qtbot, plots):
    assert plots.on_screen("loss") and not plots.on_screen("grads")
    plots.add_events([batch(s) for s in range(1, 6)])
    plots._tick()  # the periodic refresh of a running run
    assert points(plots.step_curves["loss"]) == 5  # in view: drawn
    assert points(plots.grad_curves["dense1"]) == 0  # out of view: not drawn yet
    bar = plots.scroll_area.verticalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: points(plots.grad_curves["dense1"]) == 5, timeout=5000)
    assert list(plots.grad_curves["dense1"].yData) == [0.5 + s for s in range(1, 6)]


def test_a_hidden_panel_is_not_redrawn_and_shows_the_whole_run_when_shown(qtbot, plots):
    plots.hide()
    assert not plots.on_screen("loss")
    plots.add_events([batch(s) for s in range(1, 8)])
    plots._tick()
    assert points(plots.step_curves["loss"]) == 0
    plots.show()
    qtbot.waitUntil(lambda: points(plots.step_curves["loss"]) == 7, timeout=5000)
    assert plots.step_curves["loss"].yData[-1] == pytest.approx(1.0 / 7)


def test_flush_draws_every_plot_in_view_or_not(plots):
    plots.hide()
    plots.add_events([batch(s) for s in range(1, 4)])
    plots.flush()  # the end of a run: everything drawn
    assert points(plots.step_curves["loss"]) == 3
    assert points(plots.grad_curves["dense1"]) == 3


def test_one_refresh_costs_one_repaint(qtbot):
    """New data in an auto-ranged plot (the layer charts) is painted once: pyqtgraph's range
    and transform updates, deferred to the paint, would otherwise dirty the items again
    during it and repaint them right after."""
    from PySide6.QtCore import QEvent, QObject

    from engine.training.events import LayerStats

    made = shown_plots(qtbot, 1100, 700)  # every plot in view

    def stats_batch(step: int) -> BatchEvent:
        scale = float(step)  # each refresh moves the layer charts' range
        stats = {"dense1": LayerStats(scale, scale / 2, 0.1)}
        return batch(step, grad_norms=None, activation_stats=stats)

    class Paints(QObject):
        count = 0

        def eventFilter(self, obj, event):  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.Paint:
                self.count += 1
            return False

    paints = Paints()
    made.view.viewport().installEventFilter(paints)
    try:
        made.add_events([stats_batch(1)])
        made.flush()  # the first data: placeholders go, layouts settle
        qtbot.wait(200)
        counts = []
        for step in (2, 3, 4):
            paints.count = 0
            made.add_events([stats_batch(step)])
            made.flush()
            qtbot.waitUntil(lambda: paints.count > 0, timeout=5000)
            qtbot.wait(150)  # a second repaint would follow within a few milliseconds
            counts.append(paints.count)
        assert made.act_bars.opts["width"][0] == pytest.approx(4.0)  # mean 4 ± std 2: drawn
    finally:
        made.view.viewport().removeEventFilter(paints)
    assert counts == [1, 1, 1]


def test_per_epoch_plots_follow_at_most_four_times_a_second(qtbot, monkeypatch):
    """The per-step loss curve follows every refresh; per-epoch curves (the loss plot's and the
    metrics here) wait for SLOW_REFRESH_MS since they were last drawn, and then are drawn
    without further events."""
    from engine.training.events import EpochEvent
    from gui.plots import training_plots
    from gui.plots.common import REFRESH_MS, SLOW_REFRESH_MS

    assert SLOW_REFRESH_MS == 250  # 4 times a second
    # the test's interval is longer: a busy machine must not let it run out between two lines
    slow_ms = 2000
    monkeypatch.setattr(training_plots, "SLOW_REFRESH_MS", slow_ms)

    made = shown_plots(qtbot, 1100, 700)

    def epoch(n: int) -> EpochEvent:
        metrics = {"train_loss": 1.0 / n, "val_loss": 1.2 / n, "val_accuracy": 0.1 * n}
        return EpochEvent(n, 3, 10 * n, metrics, 1e-3, 1.0, False, None)

    made.add_events([batch(1), epoch(1)])
    made.flush()  # everything drawn, the per-epoch plots included
    accuracy = made.metric_curves["val_accuracy"]
    assert points(accuracy) == 1
    made.add_events([batch(2), epoch(2)])
    made._tick()  # a refresh right after the last: the step loss follows, the epochs wait
    assert points(made.step_curves["loss"]) == 2
    val_loss = made.epoch_curves["val_loss"]  # the loss plot's per-epoch curve
    assert points(accuracy) == 1 and points(val_loss) == 1
    qtbot.waitUntil(lambda: points(accuracy) == 2, timeout=slow_ms + 3000)
    assert list(accuracy.yData) == pytest.approx([0.1, 0.2])
    assert list(val_loss.yData) == pytest.approx([1.2, 0.6])
    # held back, the metrics arm the refresh for their interval; a step's loss brings it forward
    made.flush()
    made.add_events([batch(3), epoch(3)])
    made._tick()
    assert points(made.step_curves["loss"]) == 3 and points(accuracy) == 2
    assert made._refresh_timer.remainingTime() > slow_ms / 2
    made.add_events([batch(4)])
    # (a coarse Qt timer may report up to 5 % more than it was started with)
    assert 0 <= made._refresh_timer.remainingTime() <= REFRESH_MS * 1.05 + 2
    qtbot.waitUntil(lambda: points(made.step_curves["loss"]) == 4, timeout=REFRESH_MS + 2000)
