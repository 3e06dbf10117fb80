"""The plots of a search (the Search panel): the optimization history and the parameter
importances, both pyqtgraph.

- History: one point per finished trial (x: trial number, y: its value; complete trials
  filled, pruned ones hollow) and the best-so-far line over the complete ones.
- Importances: one horizontal bar per parameter (Optuna's importance evaluator, computed by the
  search's worker thread), most important on top.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFontMetrics, QGuiApplication, QPalette
from PySide6.QtWidgets import QVBoxLayout, QWidget

from gui.plots.common import COLOURS, short
from gui.widgets.lazy import LazyWidget

HISTORY_COLOUR, BEST_COLOUR, BAR_COLOUR = COLOURS[0], COLOURS[3], COLOURS[2]
WAITING_HISTORY = "Each finished trial's value appears here"
WAITING_IMPORTANCE = "Parameter importances appear\nafter two complete trials"


class TrialAxis(pg.AxisItem):
    """An axis of trial numbers: whole numbers only."""

    def tickSpacing(self, minVal, maxVal, size):  # noqa: N802, N803 - pyqtgraph's names
        return [
            (max(1.0, spacing), offset)
            for spacing, offset in super().tickSpacing(minVal, maxVal, size)
        ]


class SearchPlots(QWidget):
    """History above, importances below; :meth:`set_trials` and :meth:`set_importances` are
    the inputs (records with ``number``, ``state``, ``value``). The plots are built when first
    shown (or read); until then the inputs are kept and drawn then."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.records: list[Any] = []
        self.importances: dict[str, float] = {}
        self.lazy_view = LazyWidget(self._build_view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.lazy_view)

    def _build_view(self) -> QWidget:
        """The two plots, drawing the inputs given so far."""
        pal = QGuiApplication.palette()
        self.fg = pal.color(QPalette.ColorRole.Text)
        self.view = pg.GraphicsLayoutWidget()
        self.view.setBackground(pal.color(QPalette.ColorRole.Base))
        self.view.ci.setContentsMargins(2, 2, 2, 2)

        self.history = self._plot(0, "", "trial", "value (lower is better)")
        # the key sits in the title, where it never covers a point
        self.history.setTitle(
            f"Optimization history: <span style='color:{HISTORY_COLOUR}'>● trial</span>"
            f" &nbsp;<span style='color:{BEST_COLOUR}'>━ best so far</span>",
            color=self.fg,
            size="10pt",
        )
        self.points = pg.ScatterPlotItem(
            size=8, pen=pg.mkPen(HISTORY_COLOUR), brush=pg.mkBrush(HISTORY_COLOUR)
        )
        self.history.addItem(self.points)
        self.best_line = self.history.plot([], [], pen=pg.mkPen(BEST_COLOUR, width=2))
        self.history_note = self._note(self.history, WAITING_HISTORY)

        self.importance = self._plot(1, "Parameter importances", "importance", "")
        self.bars = pg.BarGraphItem(x0=[], y=[], height=0.6, width=[], brush=BAR_COLOUR)
        self.importance.addItem(self.bars)
        self.importance.getAxis("left").setStyle(autoExpandTextSpace=True)
        self.importance.getAxis("bottom").enableAutoSIPrefix(False)
        self.importance_note = self._note(self.importance, WAITING_IMPORTANCE)
        self.view.ci.layout.setRowStretchFactor(0, 3)
        self.view.ci.layout.setRowStretchFactor(1, 2)
        self._draw_trials()
        self._draw_importances()
        return self.view

    def _plot(self, row: int, title: str, bottom: str, left: str) -> pg.PlotItem:
        axes = {"bottom": TrialAxis("bottom")} if bottom == "trial" else None
        plot = self.view.addPlot(row=row, col=0, axisItems=axes)
        if title:
            plot.setTitle(title, color=self.fg, size="10pt")
        plot.setLabel("bottom", bottom, color=self.fg)
        if left:
            plot.setLabel("left", left, color=self.fg)
        plot.showGrid(x=True, y=True, alpha=0.2)
        plot.setMenuEnabled(False)
        for name in ("left", "bottom"):
            plot.getAxis(name).setTextPen(self.fg)
        return plot

    def _note(self, plot: pg.PlotItem, text: str) -> pg.TextItem:
        note = pg.TextItem(text, color=self.fg, anchor=(0.5, 0.5))
        plot.addItem(note, ignoreBounds=True)
        note.setPos(0.5, 0.5)
        plot.setXRange(0, 1, padding=0)
        plot.setYRange(0, 1, padding=0)
        return note

    # -- input --------------------------------------------------------------------------------------

    def clear(self) -> None:
        """Empty plots (a new search starts)."""
        self.set_trials([])
        self.set_importances({})

    def set_trials(self, records: Iterable[Any]) -> None:
        """Draw every finished trial with a value, and the best-so-far line."""
        self.records = list(records)
        if self.lazy_view.built:
            self._draw_trials()

    def _draw_trials(self) -> None:
        done = sorted(
            (r for r in self.records if r.value is not None and r.state in ("complete", "pruned")),
            key=lambda r: r.number,
        )
        spots = [
            {
                "pos": (r.number, r.value),
                "brush": pg.mkBrush(HISTORY_COLOUR) if r.state == "complete" else None,
                "symbol": "o",
            }
            for r in done
        ]
        self.points.setData(spots)
        xs, best = [], []  # a step line: it drops at the trial that found a lower value
        low = None
        for r in done:
            if r.state != "complete":
                continue
            if low is not None:
                xs.append(r.number)
                best.append(low)
            low = r.value if low is None else min(low, r.value)
            xs.append(r.number)
            best.append(low)
        self.best_line.setData(xs, best)
        self.history_note.setVisible(not done)
        if done:  # half a trial of room each side, so no point sits on the edge
            self.history.setXRange(done[0].number - 0.5, done[-1].number + 0.5, padding=0)
            self.history.enableAutoRange(axis="y")
        else:
            self.history.setXRange(0, 1, padding=0)
            self.history.setYRange(0, 1, padding=0)

    def set_importances(self, importances: Mapping[str, float]) -> None:
        """One bar per parameter, the most important on top."""
        self.importances = dict(importances)
        if self.lazy_view.built:
            self._draw_importances()

    def _draw_importances(self) -> None:
        items = sorted(self.importances.items(), key=lambda kv: kv[1])  # bottom → top
        ys = np.arange(len(items), dtype=float)
        widths = np.array([float(v) for _, v in items])
        self.bars.setOpts(x0=np.zeros(len(items)), y=ys, width=widths, height=0.6)
        labels = [short(k, 22) for k, _ in items]
        left = self.importance.getAxis("left")
        left.setTicks([list(enumerate(labels))])
        metrics = QFontMetrics(left.style.get("tickFont") or self.font())
        left.setWidth(max([40] + [metrics.horizontalAdvance(t) + 14 for t in labels]))
        self.importance_note.setVisible(not items)
        if items:
            self.importance.setXRange(0, max(1e-9, float(widths.max())), padding=0.05)
            self.importance.setYRange(-0.6, len(items) - 0.4, padding=0)
        else:
            self.importance.setXRange(0, 1, padding=0)
            self.importance.setYRange(0, 1, padding=0)

    # -- reading (tests) ----------------------------------------------------------------------------

    def history_points(self) -> list[tuple[float, float]]:
        """The (trial, value) points drawn (the plots are built now if they were not)."""
        self.lazy_view.widget()
        xs, ys = self.points.getData()
        return list(zip(np.asarray(xs).tolist(), np.asarray(ys).tolist(), strict=True))

    def best_points(self) -> list[tuple[float, float]]:
        """The best-so-far line's points (a step line: each drop is two points)."""
        self.lazy_view.widget()
        xs, ys = self.best_line.getData()
        if xs is None:
            return []
        return list(zip(np.asarray(xs).tolist(), np.asarray(ys).tolist(), strict=True))
