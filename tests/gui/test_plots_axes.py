"""The x axes of the step plots follow a run in a few rounded steps (each move redraws the
axis), always showing the newest point, and stop following once the user zooms or pans."""

from __future__ import annotations

import math

import pytest

from engine.training.events import BatchEvent, EpochEvent, LayerStats, TrainStartEvent
from gui.plots import TrainingPlots
from gui.plots.common import MARKED_POINTS, x_bound
from tests.gui.conftest import drawn_tick_labels, drawn_ticks
from tests.helpers import train_start

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

BPE = 10


def start() -> TrainStartEvent:
    return train_start(30, BPE)


def batch(step: int, loss: float | None = None, grad: float | None = None) -> BatchEvent:
    """Step ``step``: loss 1/step and gradient norm 0.1 × step unless given."""
    return BatchEvent(
        epoch=step // BPE,
        step=step,
        batch=step % BPE,
        batches_per_epoch=BPE,
        steps=[step],
        losses={"loss": [1.0 / step if loss is None else loss]},
        lr=1e-3,
        samples_per_s=1.0,
        grad_norms={"dense1": 0.1 * step if grad is None else grad},
    )


@pytest.fixture
def plots(qtbot):
    made = TrainingPlots()
    qtbot.addWidget(made)
    made.resize(1000, 600)
    made.show()
    qtbot.waitExposed(made)
    made.add_events([start()])
    made.flush()
    return made


def test_x_bound_rounds_up_in_few_steps():
    assert x_bound(0.2) == 1.0 and x_bound(1.0) == 1.0
    assert x_bound(1.2) == 2.5 and x_bound(2.6) == 5 and x_bound(7.3) == 10
    assert x_bound(10.0) == 10.0 and x_bound(12) == 25 and x_bound(151) == 250
    assert len({x_bound(s / BPE) for s in range(1, 30 * BPE)}) <= 6  # 30 epochs, 300 steps
    # the data fills at least two fifths of the axis
    assert all(x_bound(e / 7) <= 2.5 * (e / 7) for e in range(8, 7000))


def test_x_bound_ends_at_the_runs_last_epoch():
    assert x_bound(26, last=30) == 30 and x_bound(12, last=30) == 25
    assert x_bound(0.5, last=30) == 1.0  # the first epoch still fills the axis
    assert x_bound(31, last=30) == 50  # beyond the plan (it changed): round up as usual


def test_the_x_axes_follow_the_run_in_few_steps_and_always_show_the_newest_point(plots):
    ranges = {"loss": [], "grads": []}
    for step in range(1, 30 * BPE + 1):
        plots.add_events([batch(step)])
        plots.flush()
        for key, plot in (("loss", plots.loss_plot), ("grads", plots.grad_plot)):
            lo, hi = plot.getViewBox().viewRange()[0]
            assert lo <= 0.1 and hi >= step / BPE, (key, step, lo, hi)
            ranges[key].append((round(lo, 6), round(hi, 6)))
    for key, seen in ranges.items():
        moves = sum(a != b for a, b in zip(seen, seen[1:]))
        assert moves <= 6, (key, moves)  # not one per refresh (300 refreshes)
        assert seen[-1][1] == pytest.approx(30 * 1.02, abs=0.05)  # ends with the 30-epoch run


@pytest.mark.parametrize(
    ("axis", "zoom", "mask", "followed"),
    [
        (0, (0.5, 1.0), [True, True], (0.1, 6.0)),  # a mouse wheel: both axes
        (1, (0.2, 0.4), [False, True], (1.0 / 60, 1.0)),  # a drag along the y axis
    ],
)
def test_a_users_zoom_is_kept_while_the_run_goes_on_and_the_auto_button_follows_again(
    plots, axis, zoom, mask, followed
):
    for step in range(1, 21):
        plots.add_events([batch(step)])
    plots.flush()
    view = plots.loss_plot.getViewBox()
    (view.setXRange if axis == 0 else view.setYRange)(*zoom, padding=0)
    view.sigRangeChangedManually.emit(mask)  # as the mouse does
    for step in range(21, 60):
        plots.add_events([batch(step)])
        plots.flush()
        if not mask[0]:  # the other axis goes on following the run
            assert view.viewRange()[0][1] >= step / BPE
    assert view.viewRange()[axis] == pytest.approx(list(zoom))
    view.enableAutoRange()  # the plot's "A" button
    plots.add_events([batch(60)])
    plots.flush()
    lo, hi = view.viewRange()[axis]
    assert lo <= followed[0] and hi >= followed[1]


def test_the_y_axes_show_every_point_and_move_a_few_times_per_run(plots):
    """pyqtgraph's auto range would move a y axis at every refresh (each move redraws it)."""
    seen = {"loss": [], "grads": []}
    for step in range(1, 30 * BPE + 1):
        plots.add_events([batch(step)])
        plots.flush()
        lo, hi = plots.loss_plot.getViewBox().viewRange()[1]
        assert lo <= 1.0 / step and hi >= 1.0, (step, lo, hi)  # losses 1, 1/2 … 1/step
        assert lo >= 0  # a loss axis does not go below zero
        seen["loss"].append((lo, hi))
        lo, hi = plots.grad_plot.getViewBox().viewRange()[1]  # log10 units
        assert lo <= math.log10(0.1) and hi >= math.log10(0.1 * step), (step, lo, hi)
        seen["grads"].append((lo, hi))
    for key, ranges in seen.items():
        moves = sum(a != b for a, b in zip(ranges, ranges[1:]))
        assert moves <= 12, (key, moves)  # not one per refresh (300 refreshes)


def test_small_values_do_not_widen_the_axes_in_the_middle_of_a_run(qtbot, plots):
    """Tick labels such as "0.0001" fit the left axes from the start: an axis that widens lays
    the whole grid out again (every plot resized and redrawn) while the run goes on."""
    plots.add_events([batch(s) for s in range(1, 11)])
    plots.flush()
    qtbot.waitUntil(lambda: plots.view.ci.layout.isActivated(), timeout=5000)
    axes = [plots.loss_plot.getAxis("left"), plots.grad_plot.getAxis("left")]
    widths = [axis.width() for axis in axes]
    small = [batch(step, loss=0.0003, grad=0.0002) for step in range(11, 200)]
    plots.add_events(small)
    plots.flush()
    qtbot.wait(100)  # painted: the axes measure their new labels
    low = plots.grad_plot.getViewBox().viewRange()[1][0]
    assert low <= math.log10(0.0002)  # the gradient axis shows labels down to 0.0001
    qtbot.waitUntil(lambda: plots.view.ci.layout.isActivated(), timeout=5000)
    assert [axis.width() for axis in axes] == widths  # no plot moved


def test_a_first_runs_legends_appear_without_moving_the_plots(qtbot, plots):
    """The first epoch brings the legends ("train", "validation", "val accuracy", the layers'
    gradients): each plot kept a row for them from the start, so no plot moves and the grid is
    not laid out again (every plot resized and redrawn) as the first epoch ends."""
    fresh = plots  # never ran before: its legends have never had an entry
    qtbot.waitUntil(lambda: fresh.view.ci.layout.isActivated(), timeout=5000)
    shown = (fresh.loss_plot, fresh.metric_plot, fresh.grad_plot)
    views = [plot.getViewBox().sceneBoundingRect() for plot in shown]
    metrics = {"train_loss": 0.9, "val_loss": 1.0, "val_accuracy": 0.5}
    fresh.add_events([batch(step) for step in range(1, BPE + 1)])
    fresh.add_events([EpochEvent(1, 30, BPE, metrics, 1e-3, 1.0, True, None)])
    fresh.flush()
    names = [
        [label.text for _, label in legend.items]
        for legend in (fresh.loss_legend, fresh.metric_legend, fresh.grad_legend)
    ]
    assert names == [["train", "validation"], ["val accuracy"], ["dense1"]]
    assert fresh.view.ci.layout.isActivated()  # nothing asked for a relayout
    qtbot.wait(50)
    assert [plot.getViewBox().sceneBoundingRect() for plot in shown] == views


def test_epoch_curves_mark_their_points_until_the_marks_would_merge(plots):
    """Each epoch's point is marked on the per-epoch curves up to MARKED_POINTS epochs; past
    that the marks (merged into a thick line by then) go, and a new run marks them again."""

    def epoch(n: int) -> EpochEvent:
        metrics = {"train_loss": 1 / n, "val_loss": 1.1 / n, "val_accuracy": 0.5}
        return EpochEvent(n, 40, n * BPE, metrics, 1e-3, 1.0, False, None)

    def curves():
        return [
            plots.epoch_curves["train_loss"],
            plots.epoch_curves["val_loss"],
            plots.metric_curves["val_accuracy"],
        ]

    plots.add_events([epoch(n) for n in range(1, MARKED_POINTS + 1)])
    plots.flush()
    for curve in curves():
        assert curve.scatter.isVisible() and len(curve.scatter.data) == MARKED_POINTS
    plots.add_events([epoch(MARKED_POINTS + 1)])
    plots.flush()
    for curve in curves():
        assert not curve.scatter.isVisible() and len(curve.xData) == MARKED_POINTS + 1
    plots.add_events([start(), epoch(1)])
    plots.flush()
    assert all(curve.scatter.isVisible() for curve in curves())


@pytest.mark.parametrize(
    ("low", "high", "labels"),
    [
        (0.008, 1.2, ["0.01", "0.1", "1"]),  # decades
        # one decade inside (the autoencoder template's gradients): 1, 2, 5; the 0.1 on the
        # view's top edge alone would leave "0.01" as the only label drawn
        (0.0016, 0.1, ["0.002", "0.005", "0.01", "0.02", "0.05"]),
        (0.15, 0.9, ["0.2", "0.5"]),  # within a decade: 1, 2, 5
        (0.3, 0.7, ["0.4", "0.5", "0.6"]),  # one of those alone gives no scale
        (0.11, 0.95, ["0.2", "0.5"]),
        (1.05, 9.5, ["2", "5"]),
        (0.3, 0.99, ["0.4", "0.6", "0.8"]),  # at most five
        (1.1, 1.9, ["1.2", "1.4", "1.6", "1.8"]),
        (0.0201, 0.0209, ["0.0202", "0.0204", "0.0206", "0.0208"]),
    ],
)
def test_the_gradient_axis_labels_show_a_scale_however_short_the_range(plots, low, high, labels):
    """The gradient plot's log axis writes 0.01, 0.1, 1 over decades and 0.02, 0.05 … within
    fewer; a range too short for two of those (gradients between 0.3 and 0.7) gets 2 to 5
    evenly spaced round values: never a single label, which gives no scale. Read from what the
    axis draws."""
    plots.grad_plot.getViewBox().setYRange(math.log10(low), math.log10(high), padding=0)
    assert drawn_tick_labels(plots.grad_plot.getAxis("left")) == labels


def test_the_layer_chart_and_its_zeros_chart_keep_their_labels_apart(qtbot, plots):
    """A SOM's outputs (mean 8, std 6) put the layer chart's last label ("15") at its right
    edge, next to the zeros chart's first ("0"): the two stay clearly apart."""
    plots.resize(830, 430)  # the Plots panel of the window's training layout
    stats = {"som": LayerStats(8.0, 5.9, 0.0)}
    plots.add_events([batch(1), BatchEvent(**{**batch(2).__dict__, "activation_stats": stats})])
    plots.flush()
    qtbot.wait(50)

    values = drawn_ticks(plots.act_plot.getAxis("bottom"))
    shares = drawn_ticks(plots.zero_plot.getAxis("bottom"))
    assert values and shares
    last, first = max(values, key=lambda r: r[0].right()), min(shares, key=lambda r: r[0].left())
    # apart by at least two spaces' width: "15 0" with 3 px between read as one number
    assert first[0].left() - last[0].right() >= 6, (last, first)
