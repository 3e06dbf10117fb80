"""Pictures of the data in the data panel's preview, chosen by the data's form.

:class:`DataPictures` draws an :class:`engine.data.summary.DataSummary`: images as one grid
image per class row (and, when given, the same samples after augmentation beside it), a table's
first rows with a small histogram or top-values bar chart per column, line plots of a few
sequences, a scatter of 2-D points, and for classification a bar chart of the samples per class
in each split. The numbers are computed in the background (see ``preview``); this module only
draws them, with pyqtgraph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.data.summary import SPLITS, ColumnSummary, DataSummary, ImageGrid
from gui.formatting import escape_html
from gui.plots.common import COLOURS, short
from gui.widgets import ERROR_COLOUR

ROW_PX = 30  # the height a grid row is drawn at (cells are upscaled to about this)
GRID_AXIS_PX = 24  # the class names left of a grid
GRID_TITLE_PX = 16  # the margins around the grid
HISTOGRAM_ROW_PX = 130
HISTOGRAMS_PER_ROW = 2
SPLIT_COLOURS = {"train": COLOURS[0], "validation": COLOURS[1], "test": COLOURS[2]}
TITLE_SIZE = "9pt"


def colour(i: int) -> str:
    """The colour of class (or series) ``i``."""
    return COLOURS[i % len(COLOURS)]


def _still(plot: pg.PlotItem) -> None:
    """A picture, not an instrument: no mouse panning/zooming, no context menu."""
    plot.setMouseEnabled(x=False, y=False)
    plot.setMenuEnabled(False)
    plot.hideButtons()


def _graphics(height: int) -> pg.GraphicsLayoutWidget:
    view = pg.GraphicsLayoutWidget()
    view.setBackground(None)
    view.setMinimumHeight(height)
    view.setMaximumHeight(height)
    view.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return view


def key(entries: list[tuple[str, str]]) -> str:
    """A colour key as rich text (a coloured square before each name): it wraps in a narrow
    panel and never covers the data, as a legend inside the plot would."""
    return " ".join(
        f"<span style='color:{c}'>■</span>&nbsp;{escape_html(text).replace(' ', '&nbsp;')}"
        for c, text in entries
    )


def _caption() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


class DataPictures(QWidget):
    """The pictures of one :class:`DataSummary` (see the module docstring).

    What tests and callers read: :attr:`grid_images` (one ``ImageItem`` per grid, side by side
    in one plot) and :attr:`grid_titles`,
    :attr:`histograms` (one ``BarGraphItem`` per table column), :attr:`line_curves`,
    :attr:`scatter_items` (one per class), :attr:`balance_bars` (split → ``BarGraphItem``)
    and :attr:`message` (one line when the pictures cannot be made).
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.message = _caption()
        self.grid_caption = _caption()
        self.grid_view = _graphics(200)
        self.grid_view.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        self.table_caption = _caption()
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.columns_view = _graphics(HISTOGRAM_ROW_PX)
        self.lines_caption = _caption()
        self.lines_view = _graphics(240)
        self.points_caption = _caption()
        self.points_view = _graphics(280)
        self.balance_caption = _caption()
        self.balance_view = _graphics(190)
        self._parts = (
            self.message,
            self.grid_caption,
            self.grid_view,
            self.table_caption,
            self.table,
            self.columns_view,
            self.lines_caption,
            self.lines_view,
            self.points_caption,
            self.points_view,
            self.balance_caption,
            self.balance_view,
        )
        for part in self._parts:
            layout.addWidget(part)
        self.summary: DataSummary | None = None
        self.clear()

    # -- what is shown ---------------------------------------------------------------------------

    def clear(self) -> None:
        """Show nothing (no data yet, or it could not be loaded)."""
        for part in self._parts:
            part.hide()
        for view in (self.grid_view, self.columns_view, self.lines_view, self.points_view):
            view.clear()
        self.balance_view.clear()
        self.grid_images: list[pg.ImageItem] = []
        self.grid_titles: list[str] = []
        self._grid_width = 1
        self.histograms: list[pg.BarGraphItem] = []
        self.line_curves: list[pg.PlotDataItem] = []
        self.scatter_items: list[pg.PlotDataItem] = []
        self.balance_bars: dict[str, pg.BarGraphItem] = {}
        self.summary = None

    def show_problem(self, text: str) -> None:
        """One line instead of the pictures (a failure is never a dialog)."""
        self.clear()
        self.message.setText(
            f"<span style='color:{ERROR_COLOUR}'>No pictures: {escape_html(text)}</span>"
        )
        self.message.show()

    def show_summary(self, summary: DataSummary) -> None:
        """Draw ``summary``: the picture its form calls for, then the class balance."""
        self.clear()
        self.summary = summary
        if summary.kind == "images" and summary.grid is not None:
            self._show_grid(summary.grid)
        elif summary.kind == "table":
            self._show_table(summary)
        elif summary.kind == "sequences" and summary.lines:
            self._show_lines(summary)
        elif summary.kind == "points" and summary.points is not None:
            self._show_points(summary)
        if summary.class_counts is not None and summary.class_names:
            self._show_balance(summary.class_counts, summary.class_names)

    # -- images ----------------------------------------------------------------------------------

    def _show_grid(self, grid: ImageGrid) -> None:
        """The grid (and the one after augmentation to its right) as images in one plot, so
        both are drawn at one scale, the class names once along the left."""
        images = [("samples", grid.pixels)]
        if grid.after is not None:
            images.append(("after augmentation", grid.after))
        tall, wide = grid.pixels.shape[:2]
        cell = (tall + 1) / grid.n_rows  # one row with its gap, in pixels
        plot = self.grid_view.addPlot()
        _still(plot)
        plot.invertY(True)
        plot.setAspectLocked(True)
        plot.hideAxis("bottom")
        ticks = [(r + 0.5) * cell - 0.5 for r in range(grid.n_rows)]
        plot.getAxis("left").setTicks(
            [[(y, short(name, 12)) for y, name in zip(ticks, grid.row_labels, strict=True)]]
        )
        plot.getAxis("left").setWidth(GRID_AXIS_PX)
        gap = cell  # a cell's width between the grids
        for i, (title, pixels) in enumerate(images):
            image = pg.ImageItem(pixels, axisOrder="row-major", levels=(0.0, 1.0))
            image.setPos(i * (wide + gap), 0)
            plot.addItem(image)
            self.grid_images.append(image)
            if len(images) > 1:
                label = pg.TextItem(
                    title, anchor=(0.5, 1.0), color=pg.getConfigOption("foreground")
                )
                font = label.textItem.font()
                font.setPointSizeF(8.0)
                label.setFont(font)
                label.setPos(i * (wide + gap) + wide / 2, -1)
                plot.addItem(label)
            self.grid_titles.append(title)
        self._grid_width = len(images) * wide + (len(images) - 1) * gap
        top = -cell * 0.9 if len(images) > 1 else 0
        side = cell if len(images) > 1 else 0  # room for the titles, wider than a grid
        plot.setRange(xRange=(-side, self._grid_width + side), yRange=(top, tall), padding=0.01)
        self._fit_grid_height()
        left_out = f"; {grid.left_out} more classes not shown" if grid.left_out else ""
        classes = self.summary is not None and bool(self.summary.class_names)
        per_row = ", a row per class" if classes else ""
        self.grid_caption.setText(f"{len(grid.samples)} sample images{per_row}{left_out}")
        self.grid_caption.show()
        self.grid_view.show()

    def _fit_grid_height(self) -> None:
        """As tall as the grid drawn at about :data:`ROW_PX` a row, or less when the panel's
        width draws it smaller: no empty band under it."""
        grid = self.summary.grid if self.summary is not None else None
        if not self.grid_images or grid is None:
            return
        tall = grid.pixels.shape[0] * (1.1 if len(self.grid_images) > 1 else 1.0)
        by_rows = max(1.0, round(ROW_PX * grid.n_rows / (grid.pixels.shape[0] + 1)))
        width = self.grid_view.width() or self.width()
        wide = self._grid_width + (
            2 * grid.pixels.shape[0] / grid.n_rows if len(self.grid_images) > 1 else 0
        )
        scale = min(by_rows, max(1.0, (width - 16 - GRID_AXIS_PX) / wide))
        height = int(tall * scale) + GRID_TITLE_PX
        if self.grid_view.minimumHeight() != height or self.grid_view.maximumHeight() != height:
            self.grid_view.setFixedHeight(height)

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_grid_height()

    # -- tables ----------------------------------------------------------------------------------

    def _show_table(self, summary: DataSummary) -> None:
        table = self.table
        table.setColumnCount(len(summary.header))
        table.setRowCount(len(summary.rows))
        table.setHorizontalHeaderLabels(summary.header)
        for r, row in enumerate(summary.rows):
            for c, text in enumerate(row):
                item = QTableWidgetItem(text if text != "" else "—")
                if text == "":
                    item.setToolTip("missing value")
                table.setItem(r, c, item)
        table.resizeRowsToContents()
        height = table.horizontalHeader().height() + 4
        height += sum(table.rowHeight(r) for r in range(table.rowCount()))
        height += table.horizontalScrollBar().sizeHint().height()
        table.setFixedHeight(height)
        shown = len(summary.columns)
        more = (
            f"; histograms of the first {shown} of {summary.total_columns} columns"
            if summary.total_columns > shown
            else ""
        )
        self.table_caption.setText(
            f"First {len(summary.rows)} of {summary.total_rows:,} rows, as loaded{more}"
        )
        for i, column in enumerate(summary.columns):
            if i and i % HISTOGRAMS_PER_ROW == 0:
                self.columns_view.nextRow()
            self.histograms.append(self._column_plot(column))
        for c in range(HISTOGRAMS_PER_ROW):
            self.columns_view.ci.layout.setColumnStretchFactor(c, 1)
        rows = -(-shown // HISTOGRAMS_PER_ROW)
        self.columns_view.setMinimumHeight(rows * HISTOGRAM_ROW_PX)
        self.columns_view.setMaximumHeight(rows * HISTOGRAM_ROW_PX)
        for part in (self.table_caption, self.table, self.columns_view):
            part.setVisible(bool(summary.rows) or part is self.table_caption)

    def _column_plot(self, column: ColumnSummary) -> pg.BarGraphItem:
        missing = f"{column.missing:,} missing" if column.missing else "none missing"
        plot = self.columns_view.addPlot()
        # a short two-line title: a long one would claim the width of its column
        plot.setTitle(f"{escape_html(short(column.name, 14))}<br>{missing}", size="8pt")
        plot.titleLabel.setMinimumWidth(1)  # the plots share the width, whatever the title
        plot.titleLabel.setToolTip(column.name)
        _still(plot)
        if column.numeric and column.edges is not None:
            edges = column.edges
            bars = pg.BarGraphItem(
                x0=edges[:-1],
                x1=edges[1:],
                height=column.counts,
                brush=COLOURS[0],
                pen=pg.mkPen("w", width=0.5),
            )
        else:
            x = np.arange(len(column.counts))
            bars = pg.BarGraphItem(x=x, height=column.counts, width=0.8, brush=COLOURS[1])
            plot.getAxis("bottom").setTicks(
                [[(i, short(n, 8)) for i, n in enumerate(column.labels)]]
            )
        plot.addItem(bars)
        plot.getAxis("left").setWidth(28)
        return bars

    # -- sequences and points ------------------------------------------------------------------

    def _show_lines(self, summary: DataSummary) -> None:
        plot = self.lines_view.addPlot()
        _still(plot)
        names = summary.class_names
        entries: dict[int, str] = {}
        for line, label in zip(summary.lines, summary.line_labels, strict=True):
            number = label if label is not None else len(self.line_curves)
            if names and label is not None:
                entries[number] = str(names[label])
            elif names is None and label is not None:
                entries[number] = f"series {number + 1}"
            curve = plot.plot(
                np.asarray(line, dtype=np.float64), pen=pg.mkPen(colour(number), width=1.5)
            )
            self.line_curves.append(curve)
        plot.setLabel("bottom", "step")
        shown = key([(colour(n), text) for n, text in entries.items()])
        self.lines_caption.setText(
            escape_html(summary.line_title) + (f"<br>{shown}" if shown else "")
        )
        self.lines_caption.show()
        self.lines_view.show()

    def _show_points(self, summary: DataSummary) -> None:
        plot = self.points_view.addPlot()
        _still(plot)
        points, labels = summary.points, summary.point_labels
        entries = []
        for code in np.unique(labels):
            mine = points[labels == code]
            name = summary.class_names[code] if summary.class_names else str(code)
            item = plot.plot(
                mine[:, 0],
                mine[:, 1],
                pen=None,
                symbol="o",
                symbolSize=4,
                symbolPen=None,
                symbolBrush=colour(int(code)),
            )
            self.scatter_items.append(item)
            entries.append((colour(int(code)), f"{name} ({len(mine):,})"))
        plot.setLabel("bottom", summary.axis_names[0])
        plot.setLabel("left", summary.axis_names[1])
        plot.setAspectLocked(True)
        self.points_caption.setText(f"{len(points):,} points by class: {key(entries)}")
        self.points_caption.show()
        self.points_view.show()

    # -- class balance -------------------------------------------------------------------------

    def _show_balance(self, counts: dict[str, np.ndarray], names: list[str]) -> None:
        plot = self.balance_view.addPlot()
        _still(plot)
        splits = [s for s in SPLITS if counts.get(s) is not None and counts[s].sum() > 0]
        width = 0.8 / max(1, len(splits))
        x = np.arange(len(names), dtype=np.float64)
        for i, split in enumerate(splits):
            bars = pg.BarGraphItem(
                x=x - 0.4 + width * (i + 0.5),
                height=counts[split],
                width=width,
                brush=SPLIT_COLOURS[split],
                pen=None,
            )
            plot.addItem(bars)
            self.balance_bars[split] = bars
        every = max(1, len(names) // 12)
        plot.getAxis("bottom").setTicks(
            [[(i, short(str(n), 8)) for i, n in enumerate(names) if i % every == 0]]
        )
        plot.setLabel("left", "samples")
        entries = [(SPLIT_COLOURS[s], f"{s} ({int(counts[s].sum()):,})") for s in splits]
        self.balance_caption.setText(f"Samples per class in each split: {key(entries)}")
        self.balance_caption.show()
        self.balance_view.show()


def bar_heights(bars: Any) -> list[float]:
    """The heights a ``BarGraphItem`` draws (what a user reads off the chart)."""
    return [float(h) for h in np.asarray(bars.opts["height"])]
