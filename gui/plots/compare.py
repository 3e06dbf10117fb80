"""Runs compared: their loss and main metric per epoch, overlaid (one colour per run, a legend
with the runs' names). The Runs panel shows it under its table when two or more runs are
selected; :mod:`engine.run_compare` chooses what is drawn."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QHBoxLayout, QWidget

from engine.run_compare import curve, loss_key, main_metric
from gui.formatting import pretty
from gui.plots.common import (
    COLOURS,
    MARKED_POINTS,
    EpochAxis,
    PlotLegend,
    cache_pixmaps,
    fit_legend,
    short,
)
from gui.widgets.lazy import LazyWidget


def run_colour(index: int) -> str:
    """The colour of the ``index``-th compared run (the table's rows use it too)."""
    return COLOURS[index % len(COLOURS)]


class ComparePlots(QWidget):
    """Two plots side by side: the loss and the main metric of every compared run per epoch.

    :attr:`curves` maps (plot name, run name) to its ``PlotDataItem`` (tests read the data).
    The plots are built when first shown (or read): until then :meth:`set_runs` keeps the runs.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self._curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.runs: list[Any] = []
        self.loss_key: str | None = None
        self.metric_key: str | None = None
        self.lazy_plots = LazyWidget(self._build_plots)
        layout.addWidget(self.lazy_plots)

    def _build_plots(self) -> QWidget:
        """The two plots, drawing the runs set so far."""
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        self.loss_plot = self._plot("loss")
        self.metric_plot = self._plot("metric")
        layout.addWidget(self.loss_plot, 1)
        layout.addWidget(self.metric_plot, 1)
        self._draw()
        return box

    @property
    def curves(self) -> dict[tuple[str, str], pg.PlotDataItem]:
        """(plot name, run name) → its curve (the plots are built now if they were not)."""
        self.lazy_plots.widget()
        return self._curves

    def _plot(self, name: str) -> pg.PlotWidget:
        pal = QGuiApplication.palette()
        fg = pal.color(QPalette.ColorRole.Text)
        muted = QColor(fg)
        muted.setAlphaF(0.6)
        self.fg = fg
        widget = pg.PlotWidget(axisItems={"bottom": EpochAxis("bottom")})
        widget.setObjectName(f"compare_{name}")
        widget.setBackground(pal.color(QPalette.ColorRole.Base))
        widget.setMinimumSize(200, 150)
        item = widget.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setMenuEnabled(False)
        font = QFont()
        font.setPointSizeF(8.0)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.enableAutoSIPrefix(False)
            axis.setPen(pg.mkPen(muted))
            axis.setTextPen(pg.mkPen(fg))
            axis.setStyle(tickFont=font)
        item.getAxis("bottom").setLabel("epoch", color=muted.name(), size="8pt")
        cache_pixmaps(item)
        # under the bottom axis, outside the data (as the training plots' legends)
        legend = PlotLegend(
            offset=None,
            labelTextSize="8pt",
            verSpacing=-6,
            horSpacing=4,
            labelTextColor=fg,
            frame=False,
        )
        legend.layout.setContentsMargins(0, 0, 0, 0)
        legend.setParentItem(item)
        legend.anchor(itemPos=(0.5, 1), parentPos=(0.5, 1), offset=(0, -1))
        item.legend = legend
        item.getViewBox().sigResized.connect(lambda _vb=None: fit_legend(item, legend))
        return widget

    def set_runs(self, runs: list[Any]) -> None:
        """Draw ``runs`` (:class:`~engine.runs.RunRecord`), the i-th in :func:`run_colour`."""
        self.runs = list(runs)
        self.loss_key = loss_key(runs)
        self.metric_key = main_metric(runs)
        if self.lazy_plots.built:
            self._draw()

    def _draw(self) -> None:
        runs = self.runs
        self._curves.clear()
        for name, widget, key in (
            ("loss", self.loss_plot, self.loss_key),
            ("metric", self.metric_plot, self.metric_key),
        ):
            item = widget.getPlotItem()
            item.legend.clear()
            item.clear()
            title = pretty(key) if key else ("loss" if name == "loss" else "no metric")
            item.setTitle(title, color=self.fg, size="9pt")
            widget.setVisible(name == "loss" or key is not None or not runs)
            if key is None:
                continue
            for i, run in enumerate(runs):
                xs, ys = curve(run, key)
                pen = pg.mkPen(run_colour(i), width=2)
                data = item.plot(
                    xs,
                    ys,
                    pen=pen,
                    symbol="o" if len(xs) <= MARKED_POINTS else None,
                    symbolSize=5,
                    symbolBrush=run_colour(i),
                    symbolPen=None,
                    name=short(run.name, 28),
                )
                data.setToolTip(run.name)
                self._curves[(name, run.name)] = data
            item.enableAutoRange()
            fit_legend(item, item.legend)

    def curve_data(self, plot: str, run_name: str) -> tuple[list[float], list[float]]:
        """The (x, y) points drawn for ``run_name`` in plot ``"loss"`` or ``"metric"``."""
        xs, ys = self.curves[(plot, run_name)].getData()
        return ([] if xs is None else list(xs)), ([] if ys is None else list(ys))


__all__ = ["ComparePlots", "run_colour"]
