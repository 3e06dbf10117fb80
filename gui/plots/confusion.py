"""A stand-alone confusion matrix (the Evaluate panel's): shares of each true class as colour in
one image, counts written in the cells by the live plots' :class:`~gui.plots.family.CellCounts`."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

from gui.plots.common import MAX_CELL_TEXT, TRAIN_COLOUR, short
from gui.plots.family import CellCounts

DARK_SHARE = 0.55  # cells coloured past this share get their count in the background colour


class ConfusionMatrixPlot(pg.PlotWidget):
    """Rows: true class, columns: predicted; :meth:`show_matrix` draws one matrix."""

    def __init__(self, parent: QWidget | None = None) -> None:
        palette = parent.palette() if parent is not None else QPalette()
        self.bg = QColor(palette.color(QPalette.ColorRole.Base))
        self.fg = QColor(palette.color(QPalette.ColorRole.Text))
        super().__init__(parent, background=self.bg)
        plot = self.getPlotItem()
        plot.invertY(True)
        plot.setAspectLocked(True)
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        plot.hideButtons()
        muted = self.fg.name()
        plot.getAxis("bottom").setLabel("predicted", color=muted, size="8pt")
        plot.getAxis("left").setLabel("true", color=muted, size="8pt")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(pg.ColorMap([0.0, 1.0], [self.bg, QColor(TRAIN_COLOUR)]))
        plot.addItem(self.image)
        self.counts = CellCounts(self.fg, self.bg)
        plot.addItem(self.counts, ignoreBounds=True)
        self.matrix = np.zeros((0, 0), dtype=np.int64)
        self.setMinimumSize(160, 220)

    def show_matrix(self, matrix: list[list[int]] | np.ndarray, names: list[str]) -> None:
        """Draw ``matrix`` (k × k counts) with the class ``names`` as ticks."""
        matrix = np.asarray(matrix, dtype=np.int64)
        self.matrix = matrix
        k = matrix.shape[0]
        totals = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
        self.image.setImage(share, levels=(0.0, 1.0))
        plot = self.getPlotItem()
        ticks = [[(i + 0.5, short(str(n), 4)) for i, n in enumerate(names)], []]
        plot.getAxis("bottom").setTicks(ticks)
        plot.getAxis("left").setTicks(ticks)
        plot.setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        self.counts.set_counts(matrix if k <= MAX_CELL_TEXT else None, share > DARK_SHARE)
