"""The picture of one step-through stage: one pyqtgraph plot whose few items are made once.

A stage's tensor is drawn by its shape: feature maps and image batches as one tiled image, a
sequence as a time × feature heat map, a vector as bars (one per value), the error check as the
batch's outputs with each target marked, the update as a histogram of the weight changes, and the
SOM's distances and neighbourhood as the map's grid. Every picture is ONE ImageItem or ONE
BarGraphItem (plus one scatter of markers), never an item per value.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg

from engine.training.metrics import image_grid

#: A vector longer than this is drawn as a heat strip, not bars.
MAX_BARS = 256
BAR_COLOUR = "#4c78a8"
MARK_COLOUR = "#e45756"


def _grid(maps: np.ndarray) -> np.ndarray | None:
    """``(k, H, W)`` maps tiled into one image (each map scaled on its own)."""
    k = len(maps)
    flat = maps.reshape(k, -1)
    lo, hi = flat.min(1, keepdims=True), flat.max(1, keepdims=True)
    scaled = ((flat - lo) / np.where(hi > lo, hi - lo, 1.0)).reshape(maps.shape)
    return image_grid(scaled)


class StagePicture(pg.PlotWidget):
    """Draws a :class:`engine.insight.stepper.Stage`; :attr:`shown` says what it drew (tests and
    the panel's note read it): ``images``, ``heatmap``, ``bars``, ``histogram`` or ``""``."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(220)
        self.setMenuEnabled(False)
        self.setMouseEnabled(False, False)
        self.hideButtons()
        self.image = pg.ImageItem(axisOrder="row-major")
        self.gray, self.heat = pg.colormap.get("CET-L1"), pg.colormap.get("viridis")
        self.bars = pg.BarGraphItem(x=[0], height=[0], width=0.8, brush=BAR_COLOUR)
        self.marks = pg.ScatterPlotItem(size=9, brush=MARK_COLOUR, pen=None, symbol="o")
        for item in (self.image, self.bars, self.marks):
            self.addItem(item)
        self.getViewBox().invertY(True)
        self.shown = ""
        self.clear_picture()

    def clear_picture(self) -> None:
        """Show nothing (before the first stage, and for a stage without numbers)."""
        for item in (self.image, self.bars, self.marks):
            item.hide()
        self.setTitle("")
        self.shown = ""

    # -- what each stage shows -------------------------------------------------------------
    def show_stage(self, stage: Any) -> None:
        """Draw ``stage`` (an engine Stage)."""
        self.clear_picture()
        t = stage.tensors
        if stage.kind == "update" and "hist_counts" in t:
            self._histogram(t["hist_counts"], t["hist_edges"])
        elif stage.kind == "error":
            self._error(t["output"], t["target"])
        elif stage.kind in ("distances", "neighbourhood"):
            grids = t[stage.kind]
            mark = " (● best unit)" if stage.kind == "distances" else ""
            self._heat(grids[0], f"{stage.kind}, sample 1{mark}")
            if stage.kind == "distances":
                row, col = t["bmu"][0]
                self.marks.setData([col], [row])
                self.marks.show()
        else:
            name = next((k for k in ("output", "gradient", "input") if t.get(k) is not None), None)
            if name is not None:
                self._tensor(t[name], name, is_input=stage.kind == "data")

    def _tensor(self, value: np.ndarray, name: str, is_input: bool) -> None:
        value = np.asarray(value, dtype=np.float32)
        if value.ndim == 4:  # (N, C, H, W): the batch's pictures, or sample 1's feature maps
            if is_input or value.shape[1] == 1:
                maps = value[:, 0]
                what = "the batch" if is_input else f"{name} of each sample"
            else:
                maps, what = value[0], f"{value.shape[1]} maps of sample 1"
            self._image(_grid(maps), what)
        elif value.ndim == 3:  # (N, T, F): a sequence, time down the side
            self._heat(value[0], f"sample 1: time × {name}")
        elif value.ndim == 2 and is_input and image_grid(value) is not None:
            self._image(_grid(value.reshape(len(value), *_side(value.shape[1]))), "the batch")
        elif value.ndim == 2 and value.shape[1] > MAX_BARS:
            self._heat(value, f"samples × {name}")
        elif value.ndim == 2:
            self._bars(value[0], f"{name}, sample 1")
        elif value.ndim == 1:
            self._bars(value, name)

    def _frame(self, pictures: bool) -> None:
        """Pictures: gray, square pixels, no axes; heat maps and bars: axes, free aspect."""
        for side in ("left", "bottom"):
            self.getPlotItem().showAxis(side, not pictures)
        self.setAspectLocked(pictures)
        self.image.setColorMap(self.gray if pictures else self.heat)

    def _image(self, grid: np.ndarray | None, title: str) -> None:
        if grid is None:
            return
        self._frame(True)
        self.image.setImage(grid, levels=(0.0, 1.0))
        self.image.setRect(0, 0, grid.shape[1], grid.shape[0])
        self.image.show()
        self.getViewBox().invertY(True)
        self.autoRange(padding=0.02)
        self.setTitle(title)
        self.shown = "images"

    def _heat(self, values: np.ndarray, title: str) -> None:
        values = np.asarray(values, dtype=np.float32)
        lo, hi = float(values.min()), float(values.max())
        self._frame(False)
        self.image.setImage(values, levels=(lo, hi if hi > lo else lo + 1.0))
        self.image.setRect(0, 0, values.shape[1], values.shape[0])
        self.image.show()
        self.getViewBox().invertY(True)
        self.autoRange(padding=0.02)
        self.setTitle(title)
        self.shown = "heatmap"

    def _bars(self, values: np.ndarray, title: str) -> None:
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        self._frame(False)
        self.bars.setOpts(x=np.arange(len(values)), height=values, width=0.8, brush=BAR_COLOUR)
        self.bars.show()
        self.getViewBox().invertY(False)
        self.autoRange(padding=0.05)
        self.setTitle(title)
        self.shown = "bars"

    def _histogram(self, counts: np.ndarray, edges: np.ndarray) -> None:
        centres = (edges[:-1] + edges[1:]) / 2.0
        width = float(edges[1] - edges[0]) if len(edges) > 1 else 1.0
        self._frame(False)
        self.bars.setOpts(x=centres, height=counts, width=width * 0.9, brush=BAR_COLOUR)
        self.bars.show()
        self.getViewBox().invertY(False)
        self.autoRange(padding=0.05)
        self.setTitle("weight changes (histogram)")
        self.shown = "histogram"

    def _error(self, output: np.ndarray, target: np.ndarray) -> None:
        """Classification: samples × class outputs with each sample's target marked; else the
        outputs above the targets, row by row."""
        output = np.asarray(output, dtype=np.float32).reshape(len(output), -1)
        target = np.asarray(target)
        labels = target.ndim == 1 and output.shape[1] > 1 and np.all(np.mod(target, 1) == 0)
        if labels:
            self._heat(output, "outputs; ● = target class")
            self.marks.setData(target.astype(float) + 0.5, np.arange(len(target)) + 0.5)
            self.marks.show()
            return
        target = target.astype(np.float32).reshape(len(target), -1)
        rows = np.concatenate([output, target[:, : output.shape[1]]], axis=0)
        self._heat(rows, "outputs (top) · targets (bottom)")


def _side(features: int) -> tuple[int, int]:
    side = int(round(features**0.5))
    return side, side
