"""The family column of the plots: one class per view, chosen by the epoch sample's ``view``.

Each view builds its plot items into the host's ``family_items`` (tests and the host read them by
name) and draws the :mod:`engine.training.samples` type of the same view name: the confusion
matrix (classification), predictions against targets (regression, forecasting), inputs and
reconstructions (autoencoder), the generator's samples from a fixed noise batch (GAN), or the
U-matrix and hit map (SOM).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter
from PySide6.QtWidgets import QGraphicsItem

from engine.training.metrics import image_grid
from engine.training.samples import (
    ConfusionSample,
    GanSample,
    PredictionSample,
    ReconstructionSample,
    SomSample,
)
from gui.plots.common import (
    COLOURS,
    MAX_CELL_TEXT,
    TRAIN_COLOUR,
    retitle,
    short,
    with_alpha,
)

if TYPE_CHECKING:
    from gui.plots.training_plots import TrainingPlots


def set_picture(image: pg.ImageItem, batch: np.ndarray) -> None:
    """Show a batch as tiled pictures, or as a samples × features heat map otherwise."""
    grid = image_grid(batch)
    if grid is None:
        flat = batch.reshape(len(batch), -1).astype(float)
        image.setImage(flat)
    else:
        image.setImage(grid, levels=(0.0, 1.0))


class FamilyView:
    """One view of the family column: :meth:`build` creates its items, :meth:`draw` shows an
    epoch's sample of the same :attr:`view` name."""

    view: ClassVar[str] = ""
    waiting: ClassVar[str] = ""  # what the empty view says until the first epoch

    def __init__(self, plots: TrainingPlots, items: dict[str, Any]) -> None:
        self.plots = plots
        self.items = items
        self.build()

    def build(self) -> None:
        """Create the view's plot items in the family column (called once, on construction)."""
        raise NotImplementedError

    def draw(self, sample: Any, epoch: str) -> None:
        """Show ``sample``; ``epoch`` is `` — epoch N`` for titles (empty before one)."""
        raise NotImplementedError


class ConfusionView(FamilyView):
    """Classification: the validation confusion matrix, shares as colour (one image), counts
    written in the cells (one :class:`CellCounts` item) when there are at most
    ``MAX_CELL_TEXT`` classes."""

    view = ConfusionSample.view
    waiting = "The confusion matrix appears after the first epoch"

    def build(self) -> None:
        plots = self.plots
        plot = plots.image_plot(0, "Confusion matrix (validation)", axes=True)
        plot.setToolTip("Confusion matrix of the validation split: rows true, columns predicted")
        plot.getAxis("bottom").setLabel("predicted", color=plots.muted.name(), size="8pt")
        plot.getAxis("left").setLabel("true", color=plots.muted.name(), size="8pt")
        for name in ("bottom", "left"):
            plot.getAxis(name).setTicks([[], []])  # class labels come with the first matrix
        counts = self.items["counts"] = CellCounts(plots.fg, plots.bg)
        plot.addItem(counts, ignoreBounds=True)

    def draw(self, sample: ConfusionSample, epoch: str) -> None:
        matrix = np.asarray(sample.matrix)
        items, host = self.items, self.plots
        plot = items["image_plot"]
        k = matrix.shape[0]
        totals = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, totals, out=np.zeros(matrix.shape, dtype=float), where=totals > 0)
        image = items["image"]
        if image.lut is None:
            image.setColorMap(pg.ColorMap([0.0, 1.0], [host.bg, QColor(TRAIN_COLOUR)]))
        image.setImage(share, levels=(0.0, 1.0))
        correct = float(np.trace(matrix)) / max(1, int(matrix.sum()))
        retitle(
            plot,
            # short: a title wider than the column widens it past the panel's right edge
            f"Validation{epoch}: {correct:.1%} correct",
            color=host.fg,
            size="9pt",
        )
        if items.get("ticks_for") != k:
            items["ticks_for"] = k
            names = host.class_names if len(host.class_names) == k else [str(i) for i in range(k)]
            ticks = [[(i + 0.5, short(str(n), 4)) for i, n in enumerate(names)], []]
            plot.getAxis("bottom").setTicks(ticks)
            plot.getAxis("left").setTicks(ticks)
            plot.setRange(xRange=(0, k), yRange=(0, k), padding=0.02)
        dark = share > 0.55  # the count is written in the background colour on these cells
        items["counts"].set_counts(matrix if k <= MAX_CELL_TEXT else None, dark)
        if getattr(sample, "boundary", None) is not None:
            draw_boundary(self.plots, items, sample.boundary, epoch)


def boundary_colours(probabilities: np.ndarray, bg: QColor) -> np.ndarray:
    """An RGB picture (uint8, rows × cols × 3) of class probabilities: each class's colour
    mixed by its probability, faded toward ``bg`` where the network is unsure."""
    k = probabilities.shape[-1]
    palette = np.array([QColor(COLOURS[i % len(COLOURS)]).getRgb()[:3] for i in range(k)], float)
    mixed = probabilities @ palette
    sure = (probabilities.max(-1, keepdims=True) - 1 / k) / (1 - 1 / k)
    alpha = 0.25 + 0.5 * np.clip(sure, 0, 1)
    back = np.array(bg.getRgb()[:3], float)
    return (back * (1 - alpha) + mixed * alpha).round().astype(np.uint8)


def draw_boundary(plots: TrainingPlots, items: dict[str, Any], grid: Any, epoch: str) -> None:
    """The decision boundary of a 2-D classifier under its training points (one image, one
    scatter), in the family column under the confusion matrix; built on the first grid."""
    if "boundary_plot" not in items:
        plot = plots.plot_in(plots.family, 1, 0, "Decision boundary", "")
        plot.setToolTip(
            "The class the network gives each point of the plane (colour; faint where unsure), "
            "with the training points on top"
        )
        plot.getViewBox().setMouseEnabled(x=False, y=False)
        items["boundary"] = pg.ImageItem(axisOrder="row-major")
        plot.addItem(items["boundary"])
        items["boundary_points"] = pg.ScatterPlotItem(size=5, pen=pg.mkPen(plots.fg, width=0.6))
        plot.addItem(items["boundary_points"])
        items["boundary_plot"] = plot
    image, plot = items["boundary"], items["boundary_plot"]
    image.setImage(boundary_colours(np.asarray(grid.probabilities), plots.bg), levels=(0, 255))
    image.setRect(QRectF(*grid.extent))
    points = np.asarray(grid.points, dtype=float)
    shown = items.get("boundary_shown")
    scatter = items["boundary_points"]
    # the same points every epoch: set once a run (a new run's blank view emptied the scatter)
    if shown is None or not len(scatter.data) or not np.array_equal(shown, points):
        items["boundary_shown"] = points
        labels = np.asarray(grid.labels, dtype=int)
        brushes = [pg.mkBrush(COLOURS[k % len(COLOURS)]) for k in range(labels.max(initial=0) + 1)]
        scatter.setData(points[:, 0], points[:, 1], brush=[brushes[k] for k in labels])
    if items.get("boundary_extent") != grid.extent:
        items["boundary_extent"] = grid.extent
        x0, y0, w, h = grid.extent
        plot.setRange(xRange=(x0, x0 + w), yRange=(y0, y0 + h), padding=0)
    retitle(plot, f"Decision boundary{epoch}", color=plots.fg, size="9pt")


class CellCounts(pg.GraphicsObject):
    """The counts of a confusion matrix, written in its cells by one item (not an item per
    cell: a hundred text items cost more to lay out and paint than the rest of the plots).

    The text keeps its size in pixels whatever the zoom, in the background colour on dark
    cells; it is left out when the cells are too small to hold it."""

    def __init__(self, fg: QColor, bg: QColor) -> None:
        super().__init__()
        self.fg, self.bg = QColor(fg), QColor(bg)
        self.counts = np.zeros((0, 0), dtype=np.int64)
        self.dark = np.zeros((0, 0), dtype=bool)
        self.font = QFont()
        self.drawn = 0  # labels written by the last paint (tests, benchmarks)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def set_counts(self, matrix: np.ndarray | None, dark: np.ndarray | None = None) -> None:
        """Show ``matrix``'s counts (None: none); ``dark`` marks cells whose colour is dark."""
        counts = np.zeros((0, 0), dtype=np.int64) if matrix is None else np.asarray(matrix)
        dark = np.zeros(counts.shape, dtype=bool) if dark is None else np.asarray(dark, bool)
        if (
            counts.shape == self.counts.shape
            and np.array_equal(counts, self.counts)
            and (np.array_equal(dark, self.dark))
        ):
            return
        if counts.shape != self.counts.shape:
            self.prepareGeometryChange()
            self.font.setPointSizeF(7.0 if len(counts) > 8 else 8.0)
        self.counts, self.dark = counts.astype(np.int64), dark
        self.update()

    def labels(self) -> list[tuple[int, int, str, bool]]:
        """``(row, column, text, on_dark_cell)`` of every count shown (zero counts are blank)."""
        return [
            (r, c, str(int(n)), bool(self.dark[r, c]))
            for (r, c), n in np.ndenumerate(self.counts)
            if n
        ]

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        k = len(self.counts)
        return QRectF(0.0, 0.0, float(k), float(k))

    def paint(self, painter: QPainter, *_args) -> None:
        self.drawn = 0
        labels = self.labels()
        if not labels:
            return
        to_px = painter.transform()
        cell = to_px.mapRect(QRectF(0.0, 0.0, 1.0, 1.0))
        metrics = QFontMetricsF(self.font)
        widest = max(metrics.horizontalAdvance(text) for _r, _c, text, _d in labels)
        if cell.width() < widest + 2 or cell.height() < metrics.height():
            return  # too small to read: the colours alone tell
        painter.save()
        painter.resetTransform()
        painter.setFont(self.font)
        w, h = abs(cell.width()), abs(cell.height())
        for r, c, text, dark in labels:
            centre = to_px.map(QPointF(c + 0.5, r + 0.5))
            painter.setPen(self.bg if dark else self.fg)
            box = QRectF(centre.x() - w / 2, centre.y() - h / 2, w, h)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
            self.drawn += 1
        painter.restore()


class ScatterView(FamilyView):
    """Regression and forecasting: predictions against targets, with the diagonal."""

    view = PredictionSample.view
    waiting = "Predictions against targets appear after the first epoch"

    def build(self) -> None:
        plots = self.plots
        plot = plots.plot_in(plots.family, 0, 0, "Predictions vs targets (validation)", "target")
        plot.getAxis("left").setLabel("prediction", color=plots.muted.name(), size="8pt")
        plot.showGrid(x=True, y=True, alpha=0.15)
        self.items["diagonal"] = plot.plot(
            [], [], pen=pg.mkPen(plots.muted, width=1, style=Qt.PenStyle.DashLine)
        )
        self.items["scatter"] = pg.ScatterPlotItem(
            size=5, brush=pg.mkBrush(with_alpha(TRAIN_COLOUR, 0.6)), pen=pg.mkPen(None)
        )
        plot.addItem(self.items["scatter"])
        self.items["plot"] = plot

    def draw(self, sample: PredictionSample, epoch: str) -> None:
        items = self.items
        target = np.asarray(sample.target, dtype=float).reshape(-1)
        pred = np.asarray(sample.prediction, dtype=float).reshape(-1)
        n = min(len(target), len(pred))
        items["scatter"].setData(target[:n], pred[:n])
        if n:
            lo = float(min(target[:n].min(), pred[:n].min()))
            hi = float(max(target[:n].max(), pred[:n].max()))
            items["diagonal"].setData([lo, hi], [lo, hi])


class ReconstructionView(FamilyView):
    """Autoencoders: validation inputs above their reconstructions."""

    view = ReconstructionSample.view
    waiting = "Inputs and their reconstructions appear after the first epoch"

    def build(self) -> None:
        self.plots.image_plot(0, "Inputs (validation)", key="inputs")
        self.plots.image_plot(1, "Reconstructions", key="outputs")

    def draw(self, sample: ReconstructionSample, epoch: str) -> None:
        items = self.items
        set_picture(items["inputs"], np.asarray(sample.inputs))
        set_picture(items["outputs"], np.asarray(sample.outputs))
        retitle(items["outputs_plot"], f"Reconstructions{epoch}", color=self.plots.fg, size="9pt")


class GanView(FamilyView):
    """GANs: the generator's samples from the fixed noise batch."""

    view = GanSample.view
    waiting = "Generator samples appear after the first epoch"

    def build(self) -> None:
        self.plots.image_plot(0, "Generator samples (fixed noise)")

    def draw(self, sample: GanSample, epoch: str) -> None:
        items = self.items
        if sample.grid is None:
            set_picture(items["image"], np.asarray(sample.samples))
        else:
            items["image"].setImage(np.asarray(sample.grid), levels=(0.0, 1.0))
        retitle(
            items["image_plot"],
            f"Generator samples (fixed noise){epoch}",
            color=self.plots.fg,
            size="9pt",
        )


class SomView(FamilyView):
    """Self-organising maps: the U-matrix and the hits per unit."""

    view = SomSample.view
    waiting = "The U-matrix and hit map appear after the first epoch"

    def build(self) -> None:
        self.plots.image_plot(
            0, "U-matrix (dark: similar neighbours)", key="u_matrix", cmap="viridis"
        )
        self.plots.image_plot(1, "Hits per unit", key="hit_map", cmap="inferno")

    def draw(self, sample: SomSample, epoch: str) -> None:
        items = self.items
        items["u_matrix"].setImage(np.asarray(sample.u_matrix, dtype=float))
        hits = np.asarray(sample.hit_map, dtype=float)
        items["hit_map"].setImage(hits)
        retitle(
            items["hit_map_plot"],
            f"Hits per unit{epoch} ({int((hits == 0).sum())} unused)",
            color=self.plots.fg,
            size="9pt",
        )


#: view name → the class that shows it.
FAMILY_VIEWS: dict[str, type[FamilyView]] = {
    cls.view: cls for cls in (ConfusionView, ScatterView, ReconstructionView, GanView, SomView)
}
#: What each empty view says until its first epoch arrives.
FAMILY_WAITING = {name: cls.waiting for name, cls in FAMILY_VIEWS.items()}
