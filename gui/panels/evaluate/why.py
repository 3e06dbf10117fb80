""" "Why this prediction?": which inputs drove the model's prediction for the selected sample
(a row of the worst samples, the Try it sample or drawing), by :mod:`engine.insight.saliency`
(Captum's Saliency, Integrated Gradients or Grad-CAM), computed in a
:class:`~gui.workers.BackgroundCall`. A picture shows the map as a coloured overlay on the image
and the chosen conv layer's feature maps as one grid; a table shows one bar per feature."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import Slot
from PySide6.QtWidgets import QComboBox, QGroupBox, QLabel, QVBoxLayout, QWidget

from gui.widgets import ERROR_COLOUR, LazyWidget, growing_form, narrow
from gui.workers import BackgroundCall

#: The methods in the combo: (words shown, engine name).
METHOD_ITEMS = (
    ("Saliency", "saliency"),
    ("Integrated Gradients", "integrated_gradients"),
    ("Grad-CAM", "grad_cam"),
)
INSTALL_LINE = 'Needs Captum: pip install "deepwire[insight]" (or pip install captum)'
OVERLAY_ALPHA = 0.6  # how strongly the map covers the picture
MAP_SIDE = 200  # pixels of the picture view


def captum_installed() -> bool:
    """Whether Captum can be imported (looked up without importing it: it loads torch)."""
    return importlib.util.find_spec("captum") is not None


def explain(
    predictor: Any, sample: np.ndarray, prepared: bool, method: str, layer: str | None
) -> tuple[Any, dict[str, np.ndarray] | None]:
    """The attribution and (for a model with conv layers) ``layer``'s feature maps; runs in
    the worker (it imports torch and Captum)."""
    from engine.insight.saliency import Explainer

    explainer = Explainer(predictor)
    result = explainer.explain(sample, method, layer=layer, prepared=prepared)
    maps = None
    if explainer.conv_layers:
        maps = explainer.feature_maps(sample, layer or explainer.conv_layers[-1], prepared)
    return result, maps


def tile(maps: np.ndarray, columns: int | None = None, gap: int = 1) -> np.ndarray:
    """``C × H × W`` maps as one image (each scaled to [0, 1] on its own), NaN between them."""
    c, h, w = maps.shape
    columns = columns or int(np.ceil(np.sqrt(c * 2)))  # wider than tall: a strip
    rows = int(np.ceil(c / columns))
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, np.float32)
    for k in range(c):
        m = maps[k].astype(np.float32)
        span = float(m.max() - m.min())
        m = (m - m.min()) / span if span > 0 else np.zeros_like(m)
        r, q = divmod(k, columns)
        out[r * (h + gap) : r * (h + gap) + h, q * (w + gap) : q * (w + gap) + w] = m
    return out


class WhyBox(QGroupBox):
    """The "Why this prediction?" group; :meth:`set_predictor` and :meth:`set_sample` feed it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Why this prediction?", parent)
        self.predictor: Any = None
        self.sample: tuple[np.ndarray, bool, np.ndarray, str] | None = None
        self.call: BackgroundCall | None = None
        self.result: Any = None  # engine.insight.saliency.Attribution shown
        self.maps: dict[str, np.ndarray] | None = None
        self._pending = False
        layout = QVBoxLayout(self)
        self.method_box = narrow(QComboBox())
        for text, name in METHOD_ITEMS:
            self.method_box.addItem(text, name)
        self.method_box.setToolTip(
            "Saliency: |gradient| of the class score per input. Integrated Gradients: the "
            "gradient summed from an all-zero input. Grad-CAM: where the conv layer looked."
        )
        self.layer_box = narrow(QComboBox())
        self.layer_box.setToolTip("The conv layer for Grad-CAM and the feature maps")
        choices = growing_form()
        choices.addRow("Method", self.method_box)
        choices.addRow("Layer", self.layer_box)
        layout.addLayout(choices)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        layout.addWidget(self.state_label)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error_label.hide()
        layout.addWidget(self.error_label)
        # the views are built when first shown or first drawn into (not with the window)
        self.lazy_views = LazyWidget(self._build_views)
        layout.addWidget(self.lazy_views)
        self.method_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.layer_box.currentIndexChanged.connect(lambda _i: self.refresh())
        self.set_predictor(None)

    def _build_views(self) -> QWidget:
        self.views = pg.GraphicsLayoutWidget()
        self.views.setMinimumHeight(MAP_SIDE)
        self.views.setMaximumHeight(MAP_SIDE + 80)
        self.picture_view = self.views.addViewBox(row=0, col=0, lockAspect=True, invertY=True)
        self.picture_view.setMouseEnabled(False, False)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item = pg.ImageItem(axisOrder="row-major")
        self.overlay_item.setOpacity(OVERLAY_ALPHA)
        self.overlay_item.setColorMap(pg.colormap.get("inferno"))
        self.picture_view.addItem(self.image_item)
        self.picture_view.addItem(self.overlay_item)
        self.maps_plot = self.views.addPlot(row=0, col=1, title="Feature maps")
        self.maps_plot.invertY(True)
        self.maps_plot.setAspectLocked(True)
        self.maps_plot.hideAxis("left")
        self.maps_plot.hideAxis("bottom")
        self.maps_plot.setMouseEnabled(False, False)
        self.maps_item = pg.ImageItem(axisOrder="row-major")
        self.maps_item.setColorMap(pg.colormap.get("viridis"))
        self.maps_plot.addItem(self.maps_item)
        self.views.ci.layout.setColumnStretchFactor(1, 2)
        # a table's bars: a widget of its own, so the pictures' row takes no room
        self.bars_view = pg.PlotWidget(title="Attribution per feature")
        self.bars_view.setMinimumHeight(MAP_SIDE)
        self.bars_view.setMaximumHeight(MAP_SIDE + 80)
        self.bars_plot = self.bars_view.getPlotItem()
        self.bars_plot.setMouseEnabled(False, False)
        self.bars = pg.BarGraphItem(x=[], height=[], width=0.7, brush="#e0803a")
        self.bars_plot.addItem(self.bars)
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.views)
        layout.addWidget(self.bars_view)
        self._clear_views(building=True)
        return box

    # -- inputs ---------------------------------------------------------------------------------

    def set_predictor(self, predictor: Any) -> None:
        """Explain with ``predictor`` (an :class:`engine.evaluate.Predictor`; None: nothing)."""
        gone = not shiboken6.isValid(self.lazy_views)
        if gone or (self.lazy_views.built and not shiboken6.isValid(self.image_item)):
            return  # the window is closing: its views are gone
        self.predictor = predictor
        self.sample = None
        self.result = None
        self.maps = None
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        layers = self._conv_layers()
        for nid in layers:
            self.layer_box.addItem(nid, nid)
        if layers:
            self.layer_box.setCurrentIndex(len(layers) - 1)
        self.layer_box.blockSignals(False)
        self.layer_box.setEnabled(bool(layers))
        grad_cam = self.method_box.model().item(2)
        grad_cam.setEnabled(bool(layers) and self._picture_shape() is not None)
        grad_cam.setToolTip("" if layers else "Grad-CAM needs a Conv2d layer; this design has none")
        if self.method_box.currentData() == "grad_cam" and not grad_cam.isEnabled():
            self.method_box.setCurrentIndex(0)
        missing = predictor is not None and not captum_installed()
        self.method_box.setEnabled(predictor is not None and not missing)
        self._clear_views()
        if predictor is None:
            self.state_label.setText("Evaluate a checkpoint, then pick a sample to see why")
        elif missing:
            self.state_label.setText(INSTALL_LINE)
        else:
            self.state_label.setText(
                "Select a worst sample, or try a sample, to see which inputs drove its prediction"
            )

    def set_sample(
        self, sample: np.ndarray, prepared: bool, shown: np.ndarray, title: str = ""
    ) -> None:
        """Explain ``sample`` (preprocessed when ``prepared``, else raw); ``shown`` is the
        sample as a person sees it (the picture under the map)."""
        self.sample = (np.asarray(sample), prepared, np.asarray(shown), title)
        self.refresh()

    def _conv_layers(self) -> list[str]:
        if self.predictor is None:
            return []
        from torch import nn  # the predictor exists: torch is loaded

        layers = self.predictor.net.layers.items()
        return [nid for nid, mod in layers if isinstance(mod, nn.Conv2d)]

    def _picture_shape(self) -> tuple[int, int, int] | None:
        return self.predictor.image_shape if self.predictor is not None else None

    # -- computing ------------------------------------------------------------------------------

    @Slot()
    def refresh(self) -> bool:
        """Explain the current sample with the chosen method (after a running one ends)."""
        if self.predictor is None or self.sample is None or not self.method_box.isEnabled():
            return False
        if self.call is not None and self.call.running:
            self._pending = True
            return False
        self._pending = False
        sample, prepared, _shown, title = self.sample
        method = self.method_box.currentData()
        self.call = BackgroundCall(
            explain,
            self.predictor,
            sample,
            prepared,
            method,
            self.layer_box.currentData(),
            parent=self,
            name="deepwire-explain",
        )
        self.call.done.connect(self._on_done)
        self.state_label.setText(f"{self.method_box.currentText()} of {title or 'the sample'}…")
        self.call.start()
        return True

    @property
    def busy(self) -> bool:
        """True while an explanation runs."""
        return self.call is not None and self.call.running

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Join the running explanation (window close, tests)."""
        return self.call.wait(timeout) if self.call is not None else True

    @Slot(object, object)
    def _on_done(self, outcome: Any, error: str | None) -> None:
        if self.sender() is not self.call:
            return
        if self._pending:
            self.refresh()
            return
        if error is not None:
            self.result = None
            self.error_label.setText(f"Cannot explain this sample: {error}")
            self.error_label.show()
            self.state_label.clear()
            self._clear_views()
            return
        self.error_label.hide()
        self.result, self.maps = outcome
        self._show()

    # -- showing --------------------------------------------------------------------------------

    def _clear_views(self, building: bool = False) -> None:
        """Empty, hidden views (nothing to do before they are built: they are built so)."""
        if not building and not self.lazy_views.built:
            return
        self.image_item.clear()
        self.overlay_item.clear()
        self.maps_item.clear()
        self.bars.setOpts(x=[], height=[])
        self.picture_view.setVisible(False)
        self.maps_plot.setVisible(False)
        self.views.setVisible(False)
        self.bars_view.setVisible(False)

    def _show(self) -> None:
        self.lazy_views.widget()
        result, (_s, _p, shown, title) = self.result, self.sample
        words = dict((name, text) for text, name in METHOD_ITEMS)[result.method]
        where = f" at {result.layer}" if result.layer else ""
        line = (
            f"{words}{where} for class {result.target_name}"
            if result.probabilities
            else (f"{words}{where} for {result.target_name}")
        )
        if result.probabilities:
            line += f" (p = {result.probabilities[result.target]:.0%})"
        if title:
            line = f"{title}: {line}"
        if result.map.size and float(np.nanmax(result.map)) <= 0:
            line += "; nothing here speaks for that class (the map is zero)"
        self.state_label.setText(line)
        self._clear_views()
        picture = self._picture_shape()
        if picture is not None and result.map.ndim == 2:
            self.views.setVisible(True)
            self._show_picture(shown, picture, result.map)
        else:
            self._show_bars(result)
        if self.maps and picture is not None:
            layer, maps = next(iter(self.maps.items()))
            self.maps_item.setImage(tile(maps), levels=(0, 1))
            self.maps_plot.setTitle(f"Feature maps of {layer} ({len(maps)} channels)", size="9pt")
            self.maps_plot.setVisible(True)
            self.maps_plot.autoRange(padding=0.02)

    def _show_picture(
        self, shown: np.ndarray, shape: tuple[int, int, int], heat: np.ndarray
    ) -> None:
        c, h, w = shape
        image = np.asarray(shown, dtype=np.float32).reshape(c, h, w)
        image = image[0] if c == 1 else np.moveaxis(image, 0, -1)
        lo, hi = float(image.min()), float(image.max())
        self.image_item.setImage(image, levels=(lo, hi if hi > lo else lo + 1))
        top = float(heat.max())
        self.overlay_item.setImage(heat, levels=(0.0, top if top > 0 else 1.0))
        self.picture_view.setVisible(True)
        self.picture_view.autoRange(padding=0.02)

    def _show_bars(self, result: Any) -> None:
        values = np.asarray(result.map, dtype=np.float64).reshape(-1)
        names = result.names or [f"x{i}" for i in range(len(values))]
        x = np.arange(len(values))
        self.bars.setOpts(x=x, height=values, width=0.7)
        axis = self.bars_plot.getAxis("bottom")
        axis.setTicks([[(int(i), str(n)) for i, n in zip(x, names, strict=True)]])
        self.bars_plot.setTitle(f"{result.target_name}: attribution per feature", size="9pt")
        self.bars_view.setVisible(True)
        self.bars_plot.autoRange()

    @property
    def bar_values(self) -> list[float]:
        """The bar heights shown (tests)."""
        if not self.lazy_views.built:
            return []
        heights = self.bars.opts.get("height")
        return [] if heights is None else list(np.asarray(heights, dtype=float))


__all__ = ["WhyBox", "explain", "tile"]
