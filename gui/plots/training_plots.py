"""Live plots of a training run: losses, metrics, the layers' insides and the family's own view.

:class:`TrainingPlots` takes the lists of events a :class:`~gui.runner.TrainingRunner` drains
(:meth:`TrainingPlots.add_events`) and keeps one pyqtgraph item per curve or image for the whole
run: new points go into growable arrays and the items get ``setData``/``setImage`` once per drain,
never a clear-and-replot. Long step curves draw with peak downsampling and clip to the view.
During a run only the plots in view are refreshed (not those scrolled out of the panel, nor a
hidden panel): each catches up with the whole run when it comes into view. The step plots' x
axes follow the run in rounded steps, so the axes are not redrawn at every refresh.

The grid (one :class:`pyqtgraph.GraphicsLayoutWidget`)::

    Loss (per step and per epoch)      | Metrics per epoch           | family view
    Layer outputs: mean ± std | zeros  | Gradient norm per layer     | (2 rows)

The family view shows what the network makes of the data, one class per view
(:mod:`gui.plots.family`), picked by the epoch sample's ``view`` name.

The grid never squashes below :data:`MIN_WIDTH` × :data:`MIN_HEIGHT` (each row about 200 px
tall), nor below what its titles, axes and legends need: a smaller panel scrolls. An empty
plot says what will appear in it; legends sit under their plot, outside the data, so they never
hide a curve; epoch axes tick at whole epochs and no axis rescales to "(x0.001)".
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget

from engine.graph import Design
from engine.layers import REGISTRY
from engine.training.events import BatchEvent, EpochEvent, TrainStartEvent
from engine.training.samples import EpochSample, view_of_task
from gui.formatting import pretty
from gui.plots.common import (
    CACHED,
    COLOURS,
    MIN_HEIGHT,
    MIN_WIDTH,
    NO_GRADIENTS,
    NO_METRICS,
    PASS_THROUGH,
    REFRESH_MS,
    SAME_AS_LOSS,
    SLOW_GROUPS,
    SLOW_REFRESH_MS,
    TRAIN_COLOUR,
    VAL_COLOUR,
    WAITING,
    EnvelopeCurve,
    EpochAxis,
    FollowRun,
    LogAxis,
    PlotLegend,
    Series,
    bounded,
    cache_pixmaps,
    fit_legend,
    fit_text,
    keep_tick_room,
    mark_points,
    outgrown,
    reserve_legend_row,
    short,
    with_alpha,
)
from gui.plots.family import FAMILY_VIEWS, FamilyView

#: The epoch range empty plots show (after another design is opened).
EMPTY_X_RANGE = (0, 10)


class TrainingPlots(QWidget):
    """The plots of one run at a time; :meth:`add_events` is the only input."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("training_plots")
        pal = QGuiApplication.palette()
        self.fg = pal.color(QPalette.ColorRole.Text)
        self.bg = pal.color(QPalette.ColorRole.Base)
        self.muted = QColor(self.fg)
        self.muted.setAlphaF(0.6)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(self.bg)
        self.view.ci.setContentsMargins(4, 4, 4, 4)
        self.view.ci.setSpacing(6)
        self.view.setMinimumSize(MIN_WIDTH, MIN_HEIGHT)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setWidget(self.view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scroll_area)
        self.placeholders: dict[str, pg.TextItem] = {}
        self._place_note: dict[str, Any] = {}  # key → centres and wraps its note

        self._build_grid()
        self._build_layer_charts()
        self._build_notes_and_legends()
        self.view.ci.geometryChanged.connect(self._keep_grid_whole)

        self._labels: dict[str, str] = {}
        self._skip: set[str] = set()
        # Redrawing costs the GUI thread (and, through the GIL, the training thread) far more
        # than folding events in: the items follow the data at a few hertz, not every drain.
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self._tick)
        self._dirty: set[str] = set()  # refresh groups with news not drawn yet
        # the plots' axes follow the run (not pyqtgraph's auto range: see FollowRun)
        self.follow = {
            "loss": FollowRun(self.loss_plot),
            "metrics": FollowRun(self.metric_plot),
            "grads": FollowRun(self.grad_plot, log_y=True),
        }
        self._shown: dict[str, int] = {}  # per-epoch curve → points it shows
        # a plot scrolled out of view, or the whole panel hidden (a closed or tabbed-away dock),
        # is not redrawn while the run goes on: it catches up as soon as it is in view again
        for bar in (
            self.scroll_area.verticalScrollBar(),
            self.scroll_area.horizontalScrollBar(),
        ):
            bar.valueChanged.connect(self._catch_up)
        self._last_refresh = 0.0
        self._last_slow_refresh = 0.0  # the last refresh of SLOW_GROUPS
        self.family_view: FamilyView | None = None
        self._family_key: tuple | None = None
        self._prepared = False
        self.reset()

    # -- construction helpers ---------------------------------------------------------------------

    def _build_grid(self) -> None:
        """Loss and metrics on top, the layer charts and gradients under them, the family column
        on the right."""
        self.loss_plot = self._plot(0, 0, "Loss (faint: every step)", "epoch", epochs=True)
        self.metric_plot = self._plot(0, 1, "Metrics per epoch", "epoch", epochs=True)
        self.layers = self.view.addLayout(row=1, col=0)
        self.layers.setSpacing(0)
        self.layers.layout.setHorizontalSpacing(12)  # the two charts' end labels apart
        self.layers.setContentsMargins(0, 0, 0, 0)
        self.act_plot = self.plot_in(self.layers, 0, 0, "Layer outputs: mean ± std", "value")
        self.zero_plot = self.plot_in(self.layers, 0, 1, "zeros", "share")
        self.grad_plot = self._style(
            self.view.addPlot(
                row=1, col=1, axisItems={"left": LogAxis("left"), "bottom": EpochAxis("bottom")}
            ),
            "Gradient norm per layer",
            "epoch",
        )
        self.family = self.view.addLayout(row=0, col=2, rowspan=2)
        layout_item = self.view.ci.layout
        for col, stretch in ((0, 4), (1, 4), (2, 3)):
            layout_item.setColumnStretchFactor(col, stretch)
        for plot in (self.loss_plot, self.metric_plot, self.grad_plot):
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setClipToView(True)
            plot.setDownsampling(auto=True, mode="peak")

    def _build_layer_charts(self) -> None:
        """Layer outputs (mean ± std) and their share of zeros: horizontal bars, one per layer."""
        # layers top to bottom in forward order
        self.act_plot.invertY(True)
        self.act_plot.getViewBox().setMouseEnabled(y=False)
        self.zero_plot.invertY(True)
        self.zero_plot.setYLink(self.act_plot)
        self.zero_plot.hideAxis("left")
        self.zero_plot.setXRange(-0.08, 1.08, padding=0)
        self.zero_plot.getAxis("bottom").setTicks([[(0.0, "0"), (0.5, "½"), (1.0, "1")], []])
        self.zero_plot.getViewBox().setMouseEnabled(x=False, y=False)
        self.layers.layout.setColumnStretchFactor(0, 3)
        self.layers.layout.setColumnStretchFactor(1, 1)
        self.act_bars = pg.BarGraphItem(
            x0=[],
            y=[],
            height=0.6,
            width=[],
            brush=with_alpha(TRAIN_COLOUR, 0.35),
            pen=pg.mkPen(None),
        )
        self.act_errors = pg.ErrorBarItem(
            x=np.zeros(0),
            y=np.zeros(0),
            left=np.zeros(0),
            right=np.zeros(0),
            beam=0.25,
            pen=pg.mkPen(TRAIN_COLOUR, width=1.5),
        )
        self.act_means = pg.ScatterPlotItem(
            size=6, brush=pg.mkBrush(TRAIN_COLOUR), pen=pg.mkPen(None)
        )
        self.act_plot.addItem(self.act_bars)
        self.act_plot.addItem(self.act_errors)
        self.act_plot.addItem(self.act_means)
        self.act_plot.addItem(pg.InfiniteLine(0, angle=90, pen=pg.mkPen(self.muted, width=1)))
        self.zero_bars = pg.BarGraphItem(
            x0=[], y=[], height=0.6, width=[], brush=pg.mkBrush(COLOURS[3]), pen=pg.mkPen(None)
        )
        self.zero_plot.addItem(self.zero_bars)

    def _build_notes_and_legends(self) -> None:
        """The gradients' log axis, the metrics' right axis, each plot's note and legend, and
        the best-epoch line."""
        self.grad_plot.setLogMode(y=True)
        # second y axis of the metrics plot, for values that are not shares
        self.metric_right = pg.ViewBox()
        self.metric_plot.scene().addItem(self.metric_right)
        self.metric_plot.getAxis("right").linkToView(self.metric_right)
        self.metric_right.setXLink(self.metric_plot)
        self.metric_plot.getViewBox().sigResized.connect(self._sync_right_axis)
        self.metric_plot.hideAxis("right")
        self._placeholder("loss", self.loss_plot, WAITING["loss"])
        self._placeholder("metrics", self.metric_plot, WAITING["metrics"])
        self._placeholder("layers", self.act_plot, WAITING["layers"])
        # the gradient plot's note: what will appear, or why nothing will (a SOM)
        self.grad_note = self._placeholder("gradients", self.grad_plot, WAITING["gradients"])

        self.loss_legend = self._legend(self.loss_plot)
        self.metric_legend = self._legend(self.metric_plot)
        self.grad_legend = self._legend(self.grad_plot)
        self.best_line = pg.InfiniteLine(
            angle=90,
            movable=False,
            pen=pg.mkPen(self.muted, width=1, style=Qt.PenStyle.DashLine),
            label="best",
            labelOpts={"position": 0.6, "color": self.muted},
        )
        self.best_line.hide()
        self.loss_plot.addItem(self.best_line, ignoreBounds=True)

    def _sync_right_axis(self) -> None:
        vb = self.metric_plot.getViewBox()
        self.metric_right.setGeometry(vb.sceneBoundingRect())
        self.metric_right.linkedViewChanged(vb, self.metric_right.XAxis)

    def _style(self, plot: pg.PlotItem, title: str, x_label: str) -> pg.PlotItem:
        plot.setTitle(title, color=self.fg, size="9pt")
        font = QFont()
        font.setPointSizeF(8.0)
        for name in ("left", "bottom"):
            axis = plot.getAxis(name)
            axis.enableAutoSIPrefix(False)  # "value (x0.001)" with ticks 100–400 misleads
            axis.setPen(pg.mkPen(self.muted))
            axis.setTextPen(pg.mkPen(self.fg))
            # a label space that only grows: a narrower tick label does not relayout the grid
            axis.setStyle(tickFont=font, autoReduceTextSpace=False)
        keep_tick_room(plot.getAxis("left"), font)
        plot.getAxis("bottom").setLabel(x_label, color=self.muted.name(), size="8pt")
        plot.setMenuEnabled(True)
        cache_pixmaps(plot)
        return plot

    def _plot(
        self, row: int, col: int, title: str, x_label: str, epochs: bool = False
    ) -> pg.PlotItem:
        axes = {"bottom": EpochAxis("bottom")} if epochs else None
        return self._style(self.view.addPlot(row=row, col=col, axisItems=axes), title, x_label)

    def plot_in(
        self, layout: pg.GraphicsLayout, row: int, col: int, title: str, x_label: str
    ) -> pg.PlotItem:
        """A styled plot at (row, col) of a sub-layout."""
        return self._style(layout.addPlot(row=row, col=col), title, x_label)

    def _placeholder(self, key: str, plot: pg.PlotItem, text: str) -> pg.TextItem:
        """A centred note in ``plot`` saying what will appear there; hidden when data arrives
        (see :meth:`_show_placeholders` and :meth:`_arrived`)."""
        note = pg.TextItem(text, color=self.muted, anchor=(0.5, 0.5))
        vb = plot.getViewBox()
        note.setParentItem(vb)  # in the view's pixels, not the data's

        def place(_vb: Any = None) -> None:  # centred, wrapped to a narrow plot's width
            fit_text(note, vb.boundingRect().width() - 12)
            note.setPos(vb.boundingRect().center())

        vb.sigResized.connect(place)
        place()
        # kept here, not on the note: a closure on the note's own dict would be a reference
        # cycle through a Qt wrapper (see gc_guard)
        self._place_note[key] = place
        self.placeholders[key] = note
        return note

    def _say(self, key: str, text: str) -> None:
        """Show ``text`` as the note of the plot ``key``."""
        note = self.placeholders[key]
        if note.textItem.toPlainText() != text:
            note.setText(text)
            self._place_note[key]()
        note.show()

    def _show_placeholders(self) -> None:
        """Every plot empty again: each says what will appear in it."""
        for key, text in WAITING.items():
            self._say(key, text)

    def _arrived(self, key: str) -> None:
        note = self.placeholders.get(key)
        if note is not None and note.isVisible():
            note.hide()

    def _legend(self, plot: pg.PlotItem) -> pg.LegendItem:
        """A legend under the plot's bottom axis, outside the data: it never hides a curve.
        :func:`_fit_legend` lays its entries out in as many columns as the width allows."""
        legend = PlotLegend(
            offset=None,
            labelTextSize="8pt",
            verSpacing=-6,
            horSpacing=4,
            labelTextColor=self.fg,
            frame=False,
        )
        legend.layout.setContentsMargins(0, 0, 0, 0)
        legend.setCacheMode(CACHED)
        legend.setParentItem(plot)
        legend.anchor(itemPos=(0.5, 1), parentPos=(0.5, 1), offset=(0, -1))
        plot.legend = legend  # curves added with a name join it
        plot.getViewBox().sigResized.connect(lambda _vb=None: fit_legend(plot, legend))
        reserve_legend_row(plot, legend)
        return legend

    def _curve(
        self,
        plot: pg.PlotItem,
        name: str | None,
        colour: str,
        width: float = 2.0,
        alpha: float = 1.0,
        symbol: bool = False,
    ) -> EnvelopeCurve:
        kwargs: dict[str, Any] = {}
        if symbol:
            kwargs = {
                "symbol": "o",
                "symbolSize": 4,
                # one brush object: pyqtgraph keys its symbol cache by the brush's identity,
                # and a colour string became a new brush (a new cached symbol) at every setData
                "symbolBrush": pg.mkBrush(colour),
                "symbolPen": pg.mkPen(None),
            }
        curve = EnvelopeCurve(
            [], [], pen=pg.mkPen(with_alpha(colour, alpha), width=width), name=name, **kwargs
        )
        plot.addItem(curve)
        curve.setClipToView(True)
        curve.setDownsampling(auto=True, method="peak")
        return curve

    # -- run lifecycle ----------------------------------------------------------------------------

    def describe_design(self, design: Design) -> None:
        """Learn the layer labels and which nodes merely pass data on (called before a run)."""
        self._labels = {n.id: (n.label or n.id) for n in design}
        self._skip = {n.id for n in design if REGISTRY.resolve(n.type) in PASS_THROUGH}

    def reset(self) -> None:
        """Empty every plot (a new run starts)."""
        self.task = ""
        self.loss_names: tuple[str, ...] = ("loss",)
        self.batches_per_epoch = 1
        self.step_series: dict[str, Series] = {}
        self.epoch_series: dict[str, Series] = {}
        self.metric_series: dict[str, Series] = {}
        self.grad_series: dict[str, Series] = {}
        self.step_curves: dict[str, pg.PlotDataItem] = {}
        self.epoch_curves: dict[str, pg.PlotDataItem] = {}
        self.metric_curves: dict[str, pg.PlotDataItem] = {}
        self.grad_curves: dict[str, pg.PlotDataItem] = {}
        for plot, legend in (
            (self.loss_plot, self.loss_legend),
            (self.metric_plot, self.metric_legend),
            (self.grad_plot, self.grad_legend),
        ):
            for item in list(plot.listDataItems()):
                plot.removeItem(item)
            legend.clear()
        for item in list(self.metric_right.addedItems):
            self.metric_right.removeItem(item)
        self.metric_plot.hideAxis("right")
        self._right_metrics: set[str] = set()
        self._duplicates: set[str] = set()
        self._show_placeholders()
        for name in ("left", "bottom"):
            self.grad_plot.showAxis(name)
        self.grad_plot.showGrid(x=True, y=True, alpha=0.15)
        self.best_line.hide()
        self.best_epoch: int | None = None
        self._prepared = False
        self.layer_order: list[str] = []
        self._act_span: tuple[float, float] | None = None
        self.act_stats: dict[str, Any] = {}
        self._set_layer_bars({})
        self.epochs_seen = 0
        self.last_samples: EpochSample | None = None
        self._dirty: set[str] = set()
        for follower in self.follow.values():  # a new run: follow it again
            follower.restart()
        self._shown = {}
        if self._family_key is None:
            self._setup_family("")
        else:
            self._blank_family()

    def clear_run(self) -> None:
        """Forget the last run entirely (another design was opened): empty plots, no layer
        names, and the family view's placeholder instead of the old run's matrix or images."""
        self._labels, self._skip = {}, set()
        self._family_key = None
        self.reset()
        # The old run's axis ranges go too: the empty plots show neutral axes until data comes.
        for plot in (self.loss_plot, self.metric_plot):
            plot.getViewBox().setRange(xRange=EMPTY_X_RANGE, yRange=(0, 1), padding=0)
            plot.enableAutoRange()
        self.grad_plot.getViewBox().setRange(xRange=EMPTY_X_RANGE, yRange=(-2, 1), padding=0)
        self.grad_plot.enableAutoRange()

    @Slot(object)
    def add_events(self, events: list) -> None:
        """Fold a drained list of events into the series; the items follow at most
        ``1000 / REFRESH_MS`` times a second (see :meth:`flush`)."""
        for event in events:
            if isinstance(event, BatchEvent):
                self._on_batch(event)
            elif isinstance(event, EpochEvent):
                self._on_epoch(event)
            elif isinstance(event, TrainStartEvent):
                self._on_start(event)
        if self._dirty:
            self._schedule()

    def _schedule(self) -> None:
        """Refresh now, or arm the timer for the next refresh the dirty groups allow:
        :data:`REFRESH_MS` after the last one, :data:`SLOW_REFRESH_MS` for :data:`SLOW_GROUPS`
        (a timer armed for those alone is brought forward when a curve has news)."""
        now = time.perf_counter()
        wait = REFRESH_MS - (now - self._last_refresh) * 1000
        if not self._dirty - SLOW_GROUPS:
            wait = max(wait, SLOW_REFRESH_MS - (now - self._last_slow_refresh) * 1000)
        if wait <= 0:
            self._tick()
        elif not (
            self._refresh_timer.isActive() and self._refresh_timer.remainingTime() <= wait + 1
        ):
            self._refresh_timer.start(int(wait) + 1)

    @Slot()
    def flush(self) -> None:
        """Draw what arrived since the last refresh now, in every plot (in view or not)."""
        self._refresh_timer.stop()
        self._last_refresh = self._last_slow_refresh = time.perf_counter()
        self._refresh(self._dirty)

    @Slot()
    def _tick(self) -> None:
        """The periodic refresh during a run: only the plots in view (see :meth:`on_screen`);
        the others keep their news until they are shown or scrolled to. :data:`SLOW_GROUPS`
        wait for :data:`SLOW_REFRESH_MS` since their last refresh."""
        self._refresh_timer.stop()
        now = time.perf_counter()
        self._last_refresh = now
        due = {key for key in self._dirty if self.on_screen(key)}
        held: set[str] = set()
        if due & SLOW_GROUPS:
            if (now - self._last_slow_refresh) * 1000 >= SLOW_REFRESH_MS:
                self._last_slow_refresh = now
            else:
                held = due & SLOW_GROUPS
                due -= held
        self._refresh(due)
        if held:
            self._schedule()  # drawn when their interval is up

    @Slot()
    def _catch_up(self) -> None:
        """Draw the news of plots that came into view (scrolled to, or the panel shown)."""
        due = {key for key in self._dirty if self.on_screen(key)}
        if due:
            self._refresh(due)

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        QTimer.singleShot(0, self._catch_up)  # once the panel is laid out and visible

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        if self._dirty:
            QTimer.singleShot(0, self._catch_up)  # a taller panel may show another row

    def _items_of(self, key: str) -> list:
        """The plot items that show the refresh group ``key``."""
        if key in ("loss", "epochs"):
            return [self.loss_plot]
        if key == "metrics":
            return [self.metric_plot]
        if key == "grads":
            return [self.grad_plot]
        if key == "layers":
            return [self.act_plot, self.zero_plot]
        return [self.family]

    def on_screen(self, key: str) -> bool:
        """Whether any plot of the refresh group ``key`` (``loss``, ``epochs``, ``metrics``,
        ``grads``, ``layers``, ``family``) is visible to the user now: the panel shown and the
        plot at least partly inside the scroll area's visible part."""
        if not self.isVisible():
            return False
        viewport = self.view.viewport()
        visible = viewport.visibleRegion().boundingRect()
        if visible.isEmpty():
            return False
        for item in self._items_of(key):
            if not item.isVisible():
                continue
            rect = self.view.mapFromScene(item.sceneBoundingRect()).boundingRect()
            if rect.intersects(visible):
                return True
        return False

    def prepare_run(self, design: Design, task: str) -> None:
        """Set the plots up for a run of ``design`` as ``task`` before it starts, so the work
        of creating items is done before the training thread needs the interpreter."""
        self.describe_design(design)
        self.reset()
        self._begin(task, ("d_loss", "g_loss") if task == "gan" else ("loss",), None)
        self._prepared = True

    def _on_start(self, event: TrainStartEvent) -> None:
        names = tuple(event.loss_names)
        if self._prepared and (event.task, names) == (self.task, self.loss_names):
            self._prepared = False
            if event.class_names and tuple(event.class_names) != self._family_key[1]:
                self._setup_family(event.task, event.class_names)
        else:
            labels, skip = self._labels, self._skip
            self.reset()
            self._labels, self._skip = labels, skip
            self._begin(event.task, names, event.class_names)
        self.batches_per_epoch = max(1, event.batches_per_epoch)
        for follower in self.follow.values():  # the x axes end with the run
            follower.last = float(event.epochs) if event.epochs > 0 else None
        for record in event.history:  # epochs done before a resumed run
            self._add_epoch_metrics(int(record["epoch"]), record)
        self._dirty |= {"loss", "epochs", "metrics"}

    def _begin(self, task: str, loss_names: tuple[str, ...], class_names: list[str] | None) -> None:
        self.task = task
        self.loss_names = loss_names
        for name in self.loss_names:
            self._step_curve(name)
        self._setup_family(task, class_names)
        if task == "som":
            self._say("gradients", NO_GRADIENTS)
            for name in ("left", "bottom"):
                self.grad_plot.hideAxis(name)
            self.grad_plot.showGrid(x=False, y=False)
            self._sync_right_axis()

    def _on_batch(self, event: BatchEvent) -> None:
        bpe = self.batches_per_epoch
        xs = np.asarray(event.steps, dtype=float) / bpe
        for name, values in event.losses.items():
            series = self.step_series.get(name) or self._step_curve(name)
            series.extend(xs, values)
        self._dirty.add("loss")
        if event.activation_stats:
            self.act_stats = {
                k: v for k, v in event.activation_stats.items() if k not in self._skip
            }
            self._dirty.add("layers")
        if event.grad_norms:
            x = event.step / bpe
            for node_id, norm in event.grad_norms.items():
                series = self.grad_series.get(node_id)
                if series is None:
                    series = self.grad_series[node_id] = Series(envelope=True)
                    colour = COLOURS[len(self.grad_curves) % len(COLOURS)]
                    self.grad_curves[node_id] = self._curve(
                        self.grad_plot, self._labels.get(node_id, node_id), colour, width=1.5
                    )
                series.append(x, max(norm, 1e-12) if math.isfinite(norm) else np.nan)
            self._dirty.add("grads")

    def _on_epoch(self, event: EpochEvent) -> None:
        self._add_epoch_metrics(event.epoch, event.metrics)
        if event.is_best and event.metrics.get("val_loss") is not None:
            self.best_epoch = event.epoch
        self.epochs_seen = event.epoch
        if event.samples is not None:
            self.last_samples = event.samples
            self._dirty.add("family")

    def _loss_colour(self, name: str) -> str:
        if len(self.loss_names) > 1 and name in self.loss_names:
            return COLOURS[(2 + self.loss_names.index(name)) % len(COLOURS)]
        return VAL_COLOUR if name == "val_loss" else TRAIN_COLOUR

    def _step_curve(self, name: str) -> Series:
        """The faint per-step curve of one loss (no legend entry: the epoch curve has it)."""
        series = self.step_series[name] = Series(1024, envelope=True)
        self.step_curves[name] = self._curve(
            self.loss_plot, None, self._loss_colour(name), width=1.0, alpha=0.35
        )
        return series

    def _add_epoch_metrics(self, epoch: int, metrics: dict[str, Any]) -> None:
        """Per-epoch values: losses to the loss plot, the rest to the metrics plot."""
        several = len(self.loss_names) > 1
        val_loss = metrics.get("val_loss")
        for name, value in metrics.items():
            if (
                name in ("epoch", "lr", "elapsed_s")
                or value is None
                or not isinstance(value, int | float)
                or name in self._duplicates
            ):
                continue
            is_loss = name in ("train_loss", "val_loss") or name in self.loss_names
            if is_loss:
                if several and name == "train_loss":
                    continue  # the sum of a GAN's two losses means little; each has a curve
                series = self.epoch_series.get(name)
                if series is None:
                    series = self.epoch_series[name] = Series()
                    label = {"train_loss": "train", "val_loss": "validation"}.get(
                        name, pretty(name)
                    )
                    self.epoch_curves[name] = self._curve(
                        self.loss_plot, label, self._loss_colour(name), width=2.0, symbol=True
                    )
                series.append(epoch, value)
                continue
            series = self.metric_series.get(name)
            if series is None:
                if val_loss is not None and value == val_loss:
                    # e.g. a SOM's quantization error or an autoencoder's MSE: already the
                    # validation loss curve
                    self._duplicates.add(name)
                    continue
                series = self.metric_series[name] = Series()
                self.metric_curves[name] = self._metric_curve(name, metrics)
            series.append(epoch, value)
        self._dirty |= {"epochs", "metrics"}

    def _metric_curve(self, name: str, names: Any) -> pg.PlotDataItem:
        """Shares (accuracy, R², …) on the left axis; an unbounded value (MAE, …) gets the right
        axis when shares are plotted too (``names``: the metrics of the same epoch)."""
        colour = COLOURS[(2 + len(self.metric_curves)) % len(COLOURS)]
        if bounded(name) or not any(bounded(n) for n in names):
            return self._curve(self.metric_plot, pretty(name), colour, symbol=True)
        # unbounded next to shares: its own axis on the right
        self._right_metrics.add(name)
        plot = self.metric_plot
        plot.showAxis("right")
        axis = plot.getAxis("right")
        axis.setPen(pg.mkPen(self.muted))
        axis.setTextPen(pg.mkPen(colour))
        curve = pg.PlotDataItem(
            [],
            [],
            pen=pg.mkPen(colour, width=2.0, style=Qt.PenStyle.DashLine),
            symbol="o",
            symbolSize=4,
            symbolBrush=pg.mkBrush(colour),  # one object: see _curve
            symbolPen=pg.mkPen(None),
        )
        self.metric_right.addItem(curve)
        self.metric_legend.addItem(curve, f"{pretty(name)} (right axis)")
        return curve

    # -- drawing ----------------------------------------------------------------------------------

    def _refresh(self, dirty: set[str]) -> None:
        """Bring the refresh groups in ``dirty`` up to date with their series."""
        dirty = set(dirty)
        if not dirty:
            return  # (a tick that held every group back: no scene work either)
        self._dirty -= dirty
        if dirty & {"loss", "epochs"}:  # the loss plot: its steps, its epochs, or both
            if "loss" in dirty:
                for name, series in self.step_series.items():
                    self.step_curves[name].show_series(series)
            if "epochs" in dirty:
                self._show_epochs(self.epoch_series, self.epoch_curves, self.loss_legend)
                if self.best_epoch is not None and self.best_line.value() != self.best_epoch:
                    self.best_line.setValue(self.best_epoch)
                self.best_line.setVisible(self.best_epoch is not None)
            self.follow["loss"].follow([*self.step_series.values(), *self.epoch_series.values()])
            if any(s.n for s in self.step_series.values()) or self.epoch_series:
                self._arrived("loss")
            fit_legend(self.loss_plot, self.loss_legend)
        if "metrics" in dirty:
            self._show_epochs(self.metric_series, self.metric_curves, self.metric_legend)
            self.follow["metrics"].follow(
                s for name, s in self.metric_series.items() if name not in self._right_metrics
            )
            if self.metric_series:
                self._arrived("metrics")
            elif self.epoch_series:  # an epoch came and brought no metric of its own
                names = ", ".join(pretty(name) for name in sorted(self._duplicates))
                self._say("metrics", SAME_AS_LOSS.format(names=names) if names else NO_METRICS)
            fit_legend(self.metric_plot, self.metric_legend)
        if "grads" in dirty:
            for name, series in self.grad_series.items():
                self.grad_curves[name].show_series(series)
            self.follow["grads"].follow(self.grad_series.values())
            if self.grad_series:
                self._arrived("gradients")
            fit_legend(self.grad_plot, self.grad_legend)
        if "layers" in dirty:
            self._set_layer_bars(self.act_stats)
            if self.act_stats:
                self._arrived("layers")
        if "family" in dirty and self.last_samples is not None:
            self._update_family(self.last_samples)
        # pyqtgraph defers auto ranges and view transforms to the paint: items they move
        # during the paint become dirty again and cost a second repaint right after it (a
        # fifth of all repaints during a run). Settled now, they join this refresh's repaint.
        self.view.scene().prepareForPaint()

    @Slot()
    def _keep_grid_whole(self) -> None:
        """Make the view at least as big as the grid's smallest layout (titles, axes and
        legends decide it: a confusion matrix's title alone asks 260 px), so a narrow panel
        scrolls instead of cutting off the plots on the right. Called whenever the grid's
        geometry changes: a grid that outgrew the view is resized past it."""
        need = self.view.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        width = max(MIN_WIDTH, math.ceil(need.width()))
        height = max(MIN_HEIGHT, math.ceil(need.height()))
        if (width, height) != (self.view.minimumWidth(), self.view.minimumHeight()):
            self.view.setMinimumSize(width, height)

    def _show_epochs(
        self, series: dict[str, Series], curves: dict[str, Any], legend: pg.LegendItem
    ) -> None:
        """Per-epoch curves get their points again only when an epoch came: setting a curve's
        data rebuilds its point marks (dropped past :data:`MARKED_POINTS` points)."""
        for name, points in series.items():
            if self._shown.get(name) != points.n:
                self._shown[name] = points.n
                mark_points(curves[name], points.n, legend)
                curves[name].setData(points.x, points.y)

    def _set_layer_bars(self, stats: dict[str, Any]) -> None:
        ids = list(stats)
        ys = np.arange(len(ids), dtype=float)
        means = np.array([stats[i].mean for i in ids], dtype=float)
        stds = np.array([stats[i].std for i in ids], dtype=float)
        zeros = np.array([stats[i].zero_fraction for i in ids], dtype=float)
        self.act_bars.setOpts(x0=np.zeros(len(ids)), y=ys, width=means, height=0.6)
        self.act_errors.setData(x=means, y=ys, left=stds, right=stds)
        self.act_means.setData(means, ys)
        self.zero_bars.setOpts(x0=np.zeros(len(ids)), y=ys, width=zeros, height=0.6)
        if ids != self.layer_order or not ids:
            self.layer_order = ids
            ticks = [
                (float(i), short(self._labels.get(node_id, node_id)))
                for i, node_id in enumerate(ids)
            ]
            self.act_plot.getAxis("left").setTicks([ticks, []])
            if ids:
                self.act_plot.setYRange(-0.6, len(ids) - 0.4, padding=0)
        if ids:
            lo = float(np.min(np.minimum(means - stds, 0)))
            hi = float(np.max(np.maximum(means + stds, 0)))
            hi = hi if hi > lo else lo + 1
            # the axis moves when the bars outgrow its range, not at every refresh
            if outgrown(self._act_span, lo, hi):
                margin = 0.1 * (hi - lo)
                self._act_span = (lo - margin if lo < 0 else lo, hi + margin)
                self.act_plot.setXRange(*self._act_span, padding=0.02)

    # -- family views -----------------------------------------------------------------------------

    def _blank_family(self) -> None:
        """Empty the family view's items, keeping them for the next run of the same kind."""
        for item in self.family_items.values():
            if isinstance(item, pg.ImageItem | pg.ScatterPlotItem):
                item.clear()
        if "counts" in self.family_items:
            self.family_items["counts"].set_counts(None)
        if "family" in self.placeholders:
            self.placeholders["family"].show()

    def _setup_family(self, task: str, class_names: list[str] | None = None) -> None:
        """Create the family view's items for ``task``; a run of the same kind and classes as
        the previous one reuses them."""
        kind = view_of_task(task)
        key = (kind, tuple(class_names or ()))
        if self._family_key is not None and kind == self._family_key[0]:
            # Same view: its items serve again (class names unknown yet: assume the last ones).
            # New class names only relabel it: building a view costs ~20 ms at a run's start.
            if class_names is not None and key != self._family_key:
                self._family_key = key
                self.class_names = list(class_names)
                self.family_items.pop("ticks_for", None)  # the next draw labels the axes
            self._blank_family()
            return
        self._family_key = key
        self.family.clear()
        self.placeholders.pop("family", None)  # went with its plot
        self._place_note.pop("family", None)
        self.family_items: dict[str, Any] = {}
        self.class_names = list(class_names or [])
        view = FAMILY_VIEWS.get(kind)
        self.family_view = view(self, self.family_items) if view is not None else None
        if view is None:
            label = self.family.addLabel(
                "The family view appears when training starts", color=self.muted, size="9pt"
            )
            self.family_items["placeholder"] = label
        else:
            self.family_items["waiting"] = True
            first = next(v for k, v in self.family_items.items() if k.endswith("plot"))
            self._placeholder("family", first, view.waiting)

    def image_plot(
        self, row: int, title: str, key: str = "image", axes: bool = False, cmap: str | None = None
    ) -> pg.PlotItem:
        """A picture plot in row ``row`` of the family column; its items go into
        ``family_items`` as ``key`` and ``<key>_plot``."""
        plot = self.plot_in(self.family, row, 0, title, "")
        plot.invertY(True)
        plot.setAspectLocked(True)
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        if not axes:
            plot.hideAxis("left")
            plot.hideAxis("bottom")
        image = pg.ImageItem(axisOrder="row-major")
        if cmap is not None:
            image.setColorMap(pg.colormap.get(cmap))
        plot.addItem(image)
        self.family_items[key] = image
        self.family_items[f"{key}_plot"] = plot
        return plot

    def _update_family(self, sample: EpochSample) -> None:
        """Draw an epoch's family view when it is the view this run shows."""
        view = self.family_view
        if view is None or sample.view != view.view:
            return
        view.draw(sample, f" — epoch {self.epochs_seen}" if self.epochs_seen else "")
        self._arrived("family")
