"""Pieces every plot shares: colours, growable series, axes, legends and label helpers."""

from __future__ import annotations

import math
import weakref
from typing import Any

import numpy as np
import pyqtgraph as pg
from pyqtgraph.graphicsItems.PlotDataItem import PlotDataset
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF
from PySide6.QtWidgets import QGraphicsItem

from engine.training.decimate import MinMaxEnvelope

#: Curve colours (Tableau 10): readable on light and dark backgrounds.
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
TRAIN_COLOUR, VAL_COLOUR = COLOURS[0], COLOURS[1]
MAX_CELL_TEXT = 15  # confusion matrices up to this many classes show their counts
REFRESH_MS = 80  # the loss curve follows 12 times a second: 10 or more despite gaps and jitter
# The plots of per-epoch and sampled figures (the loss plot's epoch curves, metrics, gradients,
# layer charts, the family view) follow at most 4 times a second: a fast run's epochs would
# otherwise redraw them at every refresh (a tenth of a core for the MLP template's 28 epochs a
# second). The loss plot's per-step curve follows at every refresh.
SLOW_REFRESH_MS = 250
SLOW_GROUPS = frozenset({"epochs", "metrics", "grads", "layers", "family"})
# Layer types whose output repeats their input: left out of the layer charts.
PASS_THROUGH = {"Input", "Output"}
# Metrics that are shares in [0, 1] (left axis); others get the right axis beside them.
BOUNDED_METRICS = ("accuracy", "r2", "topographic_error", "d_real", "d_fake")
# Below this size the grid scrolls rather than squash (two rows of about 200 px each).
MIN_WIDTH, MIN_HEIGHT = 640, 430
LEGEND_ROW = 4  # the PlotItem layout's row under the bottom axis, where the legend sits
# Per-epoch curves mark their points while they have at most this many: beyond, the marks merge
# into the line (and drawing them was a tenth of the plots' paint time in a 100-epoch run).
MARKED_POINTS = 30
# What an empty plot says until its data arrives (wrapped to the plot's width).
WAITING = {
    "loss": "Loss per step and per epoch appears here when training starts",
    "metrics": "Metrics per epoch appear here after the first epoch",
    "layers": "Each layer's outputs appear here when training starts",
    "gradients": "Gradient norms per layer appear here when training starts",
}
NO_GRADIENTS = "No gradients: a SOM learns competitively, without backpropagation"
# The metrics plot after an epoch that brought no metric of its own (its names: the metrics
# that equal the validation loss, e.g. an autoencoder's MSE).
NO_METRICS = "No metric besides the loss for this task"
SAME_AS_LOSS = "No metric besides the loss: {names} is the validation loss"


class Series:
    """x/y points in growable float arrays (amortised O(1) appends, views for ``setData``).

    With ``envelope`` it also keeps a bounded :class:`~engine.training.decimate.MinMaxEnvelope`
    of the points, which an :class:`EnvelopeCurve` draws instead of the whole series."""

    __slots__ = ("_x", "_y", "envelope", "n")

    def __init__(self, capacity: int = 256, envelope: bool = False) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0
        self.envelope = MinMaxEnvelope() if envelope else None

    def extend(self, xs: Any, ys: Any) -> None:
        """Append points (x in increasing order); the envelope, if any, follows."""
        k = len(xs)
        need = self.n + k
        if need > len(self._x):
            size = max(need, 2 * len(self._x))
            self._x = np.resize(self._x, size)
            self._y = np.resize(self._y, size)
        self._x[self.n : need] = xs
        self._y[self.n : need] = ys
        self.n = need

    def append(self, x: float, y: float) -> None:
        """Append one point."""
        self.extend((x,), (y,))

    def envelope_points(self) -> tuple[np.ndarray, np.ndarray]:
        """The envelope's points, brought up to date first: points are folded in per redraw,
        in one vectorised call, not per drained event."""
        envelope = self.envelope
        if envelope is None:
            return self.x, self.y
        if envelope.n < self.n:
            envelope.extend(self._x[envelope.n : self.n], self._y[envelope.n : self.n])
        return envelope.points()

    @property
    def x(self) -> np.ndarray:
        """The x values held (a view, not a copy)."""
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        """The y values held (a view, not a copy)."""
        return self._y[: self.n]

    def clear(self) -> None:
        """Forget every point (a new run)."""
        self.n = 0
        if self.envelope is not None:
            self.envelope.clear()


class EnvelopeCurve(pg.PlotDataItem):
    """A curve of a long :class:`Series` whose cost does not grow with the run: while most of
    the series is in view it draws the series' min/max envelope (at most a few thousand points,
    every extreme and the last point exact); zoomed into a part, pyqtgraph clips and
    downsamples the visible part of the whole series as usual. :meth:`getOriginalDataset`
    is the whole series."""

    ZOOMED = 0.5  # a view narrower than this share of the series draws from the whole series

    def __init__(self, *args, **kwargs) -> None:
        self.series: Series | None = None
        super().__init__(*args, **kwargs)

    def show_series(self, series: Series) -> None:
        """Draw ``series`` (views of its arrays: nothing is copied)."""
        self.series = series
        self.setData(series.x, series.y)

    def _getDisplayDataset(self):  # noqa: N802 - pyqtgraph's name
        series = self.series
        if self._dataset is None or series is None or series.envelope is None:
            return super()._getDisplayDataset()
        view = self.getViewBox()
        if view is not None and not view.autoRangeEnabled()[0] and series.n > 1:
            span = float(series.x[-1] - series.x[0])
            if span > 0 and view.viewRect().width() < self.ZOOMED * span:
                return super()._getDisplayDataset()
        x, y = series.envelope_points()
        dataset = PlotDataset(x, y)
        if True in self.opts["logMode"]:
            dataset.applyLogMapping(self.opts["logMode"])
        self._datasetDisplay = dataset
        self.setProperty("xViewRangeWasChanged", False)
        self.setProperty("yViewRangeWasChanged", False)
        return dataset


def nice_range(lo: float, hi: float) -> tuple[float, float]:
    """``[lo, hi]`` widened to whole multiples of a round step (1, 2 or 5 × 10^k, about a
    tenth of the span): the ends of a followed axis change only when the data crosses one."""
    span = hi - lo
    if not span > 0:
        span = abs(hi) * 0.2 or 1.0
        lo, hi = lo - span / 2, hi + span / 2
    raw = span / 10
    decade = 10 ** math.floor(math.log10(raw))
    step = next(m * decade for m in (1, 2, 5, 10) if m * decade >= raw * (1 - 1e-9))
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step


def outgrown(span: tuple[float, float] | None, lo: float, hi: float) -> bool:
    """Whether a followed axis showing ``span`` must move for data in ``[lo, hi]``: none yet, the
    data leaves it, or the data needs less than half of it (each move redraws the axis)."""
    return span is None or lo < span[0] or hi > span[1] or hi - lo < 0.5 * (span[1] - span[0])


def y_span(lo: float, hi: float, log: bool = False) -> tuple[float, float]:
    """The y range a followed axis moves to for data in ``[lo, hi]``: a fifth of the span more
    on each side (a falling loss crosses the bottom a few times per run, not at every refresh),
    not below zero for data that is not (losses, shares), rounded by :func:`nice_range`."""
    pad = 0.2 * (hi - lo)
    low, high = nice_range(lo - pad, hi + pad)
    if not log and lo >= 0 > low:
        low = 0.0
    return low, high


def x_bound(end: float, last: float | None = None) -> float:
    """The right end of an x axis that follows a run now at ``end`` (epochs): at least one
    epoch, else ``end`` rounded up to 1, 2.5 or 5 times its decade, so the axis moves three
    times per tenfold run length, not at every refresh (each move redraws the axis, its grid
    and its labels), and the data always fills two fifths of it or more; never beyond
    ``last``, the run's planned last epoch, when known and reached (the axis then ends with
    the run)."""
    if not math.isfinite(end) or end <= 1:
        bound = 1.0
    else:
        decade = 10 ** math.floor(math.log10(end))
        bound = next(m * decade for m in (1, 2.5, 5, 10) if m * decade >= end * (1 - 1e-9))
    if last is not None and end <= last < bound:
        return float(last)
    return bound


def series_extent(series: Any, log: bool = False) -> tuple[float, float] | None:
    """The smallest and largest finite y of ``series`` (:class:`Series`, whose envelope holds
    every extreme); with ``log``, of log10 of the positive values (a log axis's units)."""
    lows, highs = [], []
    for s in series:
        if not s.n:
            continue
        y = s.envelope_points()[1]
        if log:
            y = np.log10(y[y > 0])
        y = y[np.isfinite(y)]
        if y.size:
            lows.append(float(y.min()))
            highs.append(float(y.max()))
    return (min(lows), max(highs)) if lows else None


class FollowRun:
    """Keeps a plot's view on a run's data while the run goes on, moving its axes seldom (each
    move redraws the axis, its grid and its labels): x from the run's first epoch to
    :func:`x_bound` of its last point, y over every point with room to spare (:func:`y_span`;
    it shrinks only when the data needs less than half of it). pyqtgraph's own auto range,
    which measures every curve at every paint and moves the axes at every refresh, stays off.
    A user's zoom or pan stops following on the axes it moved; the plot's "A" (auto range)
    button and a new run start it again."""

    def __init__(self, plot: pg.PlotItem, log_y: bool = False) -> None:
        self.view = plot.getViewBox()
        self.log_y = log_y
        self.on = [True, True]  # x, y
        self.spans: list[tuple[float, float] | None] = [None, None]
        self.last: float | None = None  # the run's planned last epoch (x never goes beyond it)
        self.view.sigRangeChangedManually.connect(self.stop)

    def restart(self) -> None:
        """A new run: follow both axes again."""
        self.view.enableAutoRange()
        self.on = [True, True]
        self.spans = [None, None]
        self.last = None

    def stop(self, mask: Any) -> None:
        """The user moved the axes in ``mask`` (x, y): leave them where they are."""
        for axis in (0, 1):
            if mask is None or mask[axis]:
                self.on[axis] = False
                self.spans[axis] = None

    def follow(self, series: Any) -> None:
        """Bring the followed axes up to date with ``series`` (:class:`Series`)."""
        series = [s for s in series if s.n]
        if not series:
            return
        auto = self.view.autoRangeEnabled()
        for axis in (0, 1):
            if auto[axis]:
                self.on[axis] = True  # pyqtgraph's "A" button, or a new run
                self.spans[axis] = None
        if self.on[0]:
            first = min(float(s.x[0]) for s in series)
            end = max(float(s.x[-1]) for s in series)
            self._move(0, (math.floor(first), x_bound(end, self.last)))
        extent = series_extent(series, self.log_y) if self.on[1] else None
        if extent is not None and outgrown(self.spans[1], *extent):
            self._move(1, y_span(*extent, log=self.log_y))

    def _move(self, axis: int, span: tuple[float, float]) -> None:
        if self.spans[axis] == span:
            return
        self.spans[axis] = span
        if axis == 0:
            self.view.setXRange(*span, padding=0.02)  # turns pyqtgraph's auto range off
        else:
            self.view.setYRange(*span, padding=0)  # y_span left room already


def round_steps(low: float, high: float, most: int = 5) -> list[float]:
    """2 to ``most`` evenly spaced round values (1, 2 or 5 × a power of ten apart) between
    ``low`` and ``high`` (> ``low`` > 0)."""
    span = high - low
    step = 10 ** math.floor(math.log10(span / 2))
    step *= next(m for m in (1, 2, 5, 10) if span / (m * step) <= most)
    first = math.ceil(low / step - 1e-9)
    last = math.floor(high / step + 1e-9)
    return [k * step for k in range(first, last + 1)]


class LogAxis(pg.AxisItem):
    """A log-scale axis labelled ``0.01, 0.1, 1`` (or ``0.02, 0.05, 0.1`` when fewer than two
    decades lie inside the view), never the crowded ``0.3 0.4 0.5 …`` pyqtgraph writes over a
    short range; a range too short for two of those gets 2 to 5 evenly spaced round values
    (``0.3, 0.4 … 0.7``; ``1.2, 1.4 …``), never a single label, which gives no scale. A value
    on the view's very edge does not count: pyqtgraph leaves its label out."""

    def tickValues(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph's names
        if not self.logMode or not (math.isfinite(minVal) and math.isfinite(maxVal)):
            return super().tickValues(minVal, maxVal, size)
        lo, hi = math.floor(minVal), math.ceil(maxVal)
        edge = 0.02 * (maxVal - minVal)
        low, high = minVal + edge, maxVal - edge

        def at(steps: Any) -> list[float]:
            ticks = (d + math.log10(m) for d in range(lo, hi + 1) for m in steps)
            return [v for v in ticks if low <= v <= high]

        values = at((1,))
        if len(values) < 2:
            values = at((1, 2, 5))
        if len(values) < 2 and -300 < low < high < 300:  # (10**v stays a float)
            values = [math.log10(v) for v in round_steps(10**low, 10**high)]
        return [(None, values)]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if not self.logMode:
            return super().tickStrings(values, scale, spacing)
        return [f"{10**v:.3g}" for v in values]


class EpochAxis(pg.AxisItem):
    """An epoch axis: ticks at whole epochs once the view spans one, fractions only within
    the first (a run's first steps); never an SI-scaled "(x0.001)" label."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.enableAutoSIPrefix(False)

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph's names
        levels = super().tickSpacing(minVal, maxVal, size)
        if not (math.isfinite(minVal) and math.isfinite(maxVal)) or maxVal - minVal < 1:
            return levels
        whole = [(spacing, offset) for spacing, offset in levels if spacing >= 1]
        return whole or [(1.0, 0.0)]


class PlotLegend(pg.LegendItem):
    """A legend as big as its entries' preferred sizes (pyqtgraph's sums the entries' current
    heights, which grow once a parent layout stretched them)."""

    fitted_for: tuple[int, int] | None = None  # what fit_legend last laid out

    def updateSize(self):  # noqa: N802 - pyqtgraph's name
        self.resize(self.layout.preferredSize())

    def clear(self) -> None:
        """Remove every entry; the legend is measured again for the next ones."""
        super().clear()
        self.fitted_for = None

    def removeItem(self, item) -> None:  # noqa: N802 - pyqtgraph's name
        super().removeItem(item)
        self.fitted_for = None


#: How the parts of a plot that change seldom (axes, titles, legends) are drawn: each from a
#: pixmap of itself, redrawn only when it changed. An axis's text costs about a millisecond to
#: draw, and the view repaints every part it overlaps when a curve moves.
CACHED = QGraphicsItem.CacheMode.DeviceCoordinateCache


def cache_pixmaps(plot: pg.PlotItem) -> None:
    """Draw ``plot``'s axes and title from cached pixmaps (see :data:`CACHED`)."""
    for name in ("left", "bottom", "right", "top"):
        plot.getAxis(name).setCacheMode(CACHED)
    plot.titleLabel.setCacheMode(CACHED)


def keep_tick_room(axis: pg.AxisItem, font: Any, widest: str = "0.0001") -> None:
    """Give a vertical ``axis`` room for tick labels as wide as ``widest`` from the start.
    pyqtgraph widens an axis when a label outgrows it, and that lays the whole grid out again
    (60–100 ms of the GUI thread) in the middle of a run: the loss or gradient axis reaching
    "0.001" did so a few times a run. Measured as pyqtgraph measures its labels."""
    rect = QFontMetricsF(font).boundingRect(
        QRectF(0, 0, 100, 100), Qt.AlignmentFlag.AlignCenter, widest
    )
    axis.textWidth = max(axis.textWidth, math.ceil(rect.width()))
    axis._updateWidth()


def retitle(plot: pg.PlotItem, text: str, color: Any = None, size: str = "9pt") -> None:
    """Change ``plot``'s title without laying the grid out again while the new text fits the
    title's box: pyqtgraph's ``setTitle`` resets the title row and its label asks for a relayout
    at every text, and one relayout resizes and redraws every plot (60–100 ms of the GUI
    thread; the family view is retitled each epoch). A text that does not fit (or the first
    title) goes through ``setTitle``, and the box then keeps room for two more digits
    (:func:`_keep_title_room`): "epoch 9" becoming "epoch 10" fits without a relayout."""
    label = plot.titleLabel
    if not (label.isVisible() and label.text) or label.opts.get("justify", "center") != "center":
        _set_title(plot, text, color, size)
        return
    colour = pg.mkColor(color if color is not None else pg.getConfigOption("foreground"))
    label.item.setHtml(
        f"<span style='color: {colour.name(QColor.NameFormat.HexArgb)}; font-size: {size}'>"
        f"{text}</span>"
    )
    bounds = label.itemRect()
    if bounds.height() != label.minimumHeight() or bounds.width() > label.minimumWidth():
        _set_title(plot, text, color, size)  # it does not fit: lay out again
        return
    label.text = text
    label.opts.update(color=color, size=size)
    label.item.setPos(0, 0)  # centre it in the box, as the label's resizeEvent does
    bounds = label.itemRect()
    bounds.moveCenter(label.rect().center())
    label.item.setPos(bounds.topLeft() - label.itemRect().topLeft())


def _set_title(plot: pg.PlotItem, text: str, color: Any, size: str) -> None:
    """``setTitle``, then room for two more digits in the title's box."""
    label = plot.titleLabel
    _keep_title_room(label)
    plot.setTitle(text, color=color, size=size)
    room = QFontMetricsF(label.item.font()).horizontalAdvance("00")
    label.room = label.itemRect().width() + room
    label.updateMin()


def _keep_title_room(label: pg.LabelItem) -> None:
    """Make ``label`` ask the layout for at least ``label.room`` pixels of width: pyqtgraph's
    ``LabelItem.updateMin`` sets its minimum and preferred width to its text's at every text
    and every resize, so a text one digit wider would lay the grid out again."""
    if getattr(label, "room", None) is not None:
        return
    label.room = 0.0
    own = weakref.ref(label)  # no cycle through the label's own dict: freed without the collector

    def update_min() -> None:
        item = own()
        if item is None:
            return
        pg.LabelItem.updateMin(item)
        if item.minimumWidth() < item.room:
            item.setMinimumWidth(item.room)
            hints = item._sizeHint
            for which in (Qt.SizeHint.MinimumSize, Qt.SizeHint.PreferredSize):
                hints[which] = (max(hints[which][0], item.room), hints[which][1])
            item.updateGeometry()

    label.updateMin = update_min


def bounded(name: str) -> bool:
    """Whether a metric is a share in [0, 1] (it goes on the left axis)."""
    return any(word in name for word in BOUNDED_METRICS)


def fit_legend(plot: pg.PlotItem, legend: pg.LegendItem) -> None:
    """Lay the legend's entries out in as many columns as the plot's width holds and reserve
    their height in the row under the bottom axis (an emptied legend keeps its row). Nothing
    is measured again while the entries and the plot's width stay as they were (each refresh
    asks; a legend's layout pass costs milliseconds)."""
    key = (len(legend.items), round(plot.boundingRect().width()))
    if getattr(legend, "fitted_for", None) == key:
        return
    legend.fitted_for = key  # type: ignore[attr-defined]
    entries = [
        sample.boundingRect().width() + label.boundingRect().width() + 8
        for sample, label in legend.items
    ]
    if not entries:
        # Emptied for a new run: the row keeps its height until the run's entries come, so
        # the grid is not laid out twice (every plot resized and redrawn) as a run starts.
        return
    columns = max(1, min(len(entries), int(plot.boundingRect().width() // max(entries))))
    if columns != legend.columnCount:
        legend.setColumnCount(columns)
    height = _legend_height(legend)
    if plot.layout.rowMinimumHeight(LEGEND_ROW) != height:
        plot.layout.setRowFixedHeight(LEGEND_ROW, height)


def _legend_height(legend: pg.LegendItem) -> int:
    """The height of the row ``legend`` needs for its entries as laid out now."""
    legend.updateSize()
    return int(math.ceil(legend.height() + 2))


def reserve_legend_row(plot: pg.PlotItem, legend: pg.LegendItem) -> None:
    """Give ``legend``'s row under ``plot`` the height of one row of entries before it has any,
    measured with a throwaway entry as :func:`fit_legend` measures: the first run's entries
    (one row in most plots) then appear without laying the grid out again, which moved every
    plot up as the first epoch ended and cost the GUI thread 50-100 ms."""
    legend.addItem(pg.PlotDataItem([], []), "Xg")
    height = _legend_height(legend)
    legend.clear()
    plot.layout.setRowFixedHeight(LEGEND_ROW, height)


def mark_points(curve: pg.PlotDataItem, n: int, legend: pg.LegendItem | None = None) -> None:
    """Drop ``curve``'s point marks once it has more than :data:`MARKED_POINTS` points (its
    sample in ``legend`` follows). A curve without marks is left alone."""
    if n <= MARKED_POINTS or curve.opts["symbol"] is None:
        return
    curve.setSymbol(None)
    if legend is not None:
        for sample, _label in legend.items:
            if sample.item is curve:
                sample.update()


def fit_text(item: pg.TextItem, width: float) -> None:
    """Wrap ``item``'s text at ``width`` pixels when it is wider (a note in a narrow plot),
    each line centred."""
    text = item.textItem
    option = text.document().defaultTextOption()
    if option.alignment() != Qt.AlignmentFlag.AlignHCenter:
        option.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        text.document().setDefaultTextOption(option)
    item.setTextWidth(-1)
    natural = text.boundingRect().width()
    item.setTextWidth(min(natural, width) if width > 40 else natural)


def with_alpha(colour: str, share: float) -> QColor:
    """``colour`` with opacity ``share``."""
    c = QColor(colour)
    c.setAlphaF(share)
    return c


def short(text: str, limit: int = 10) -> str:
    """Clip a label for a crowded axis: ``discriminator_fc1`` → ``discrimin…``."""
    return text if len(text) <= limit else text[: limit - 1] + "…"
