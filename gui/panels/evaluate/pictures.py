"""Pictures of samples (nearest-neighbour scaled, so an 8×8 digit is readable), the drawing pad
of "Try it", and a list of class probabilities as horizontal bars."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QGridLayout, QLabel, QProgressBar, QSizePolicy, QWidget

PAD_SIZE = 168  # the drawing pad's side in pixels
PEN_SHARE = 0.11  # the pen's width as a share of the pad (about one pixel of an 8×8 digit)
MAX_BARS = 10  # class probabilities listed (the most likely first)


def picture(inputs: np.ndarray, shape: tuple[int, int, int], side: int = 64) -> QPixmap:
    """``inputs`` (one sample, any layout of C·H·W values) as a picture about ``side`` pixels
    high, scaled up without smoothing. Values in [0, 1] are shown as they are; others are
    stretched from their minimum to their maximum."""
    channels, height, width = shape
    arr = np.asarray(inputs, dtype=np.float64).reshape(channels, height, width)
    low, high = float(np.nanmin(arr)), float(np.nanmax(arr))
    if low < 0.0 or high > 1.0:
        arr = (arr - low) / (high - low) if high > low else np.zeros_like(arr)
    pixels = np.ascontiguousarray(
        (np.clip(np.nan_to_num(arr), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
    )
    if channels == 1:
        image = QImage(pixels[0].tobytes(), width, height, width, QImage.Format.Format_Grayscale8)
    else:
        rgb = np.ascontiguousarray(np.moveaxis(pixels, 0, -1))
        image = QImage(rgb.tobytes(), width, height, 3 * width, QImage.Format.Format_RGB888)
    factor = max(1, side // max(height, 1))
    return QPixmap.fromImage(image.copy()).scaled(
        width * factor,
        height * factor,
        Qt.AspectRatioMode.KeepAspectRatio,
        Qt.TransformationMode.FastTransformation,
    )


#: Line colours of a sequence picture's first features (the rest are not drawn).
SEQUENCE_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c")


def sequence_picture(inputs: np.ndarray, width: int = 120, height: int = 48) -> QPixmap:
    """A sequence sample ``(steps, features)`` as a small line plot: its first features
    (:data:`SEQUENCE_COLOURS`), each stretched to the picture's height, steps left to right."""
    arr = np.asarray(inputs, dtype=np.float64)
    arr = arr.reshape(arr.shape[0], -1) if arr.ndim >= 2 else arr.reshape(-1, 1)
    pixmap = QPixmap(width, height)
    pixmap.fill(QColor("white"))
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QPen(QColor("#d0d0d0"), 1))
    painter.drawRect(0, 0, width - 1, height - 1)
    steps = arr.shape[0]
    xs = np.linspace(2, width - 3, steps) if steps > 1 else np.array([width / 2])
    for k, colour in enumerate(SEQUENCE_COLOURS[: arr.shape[1]]):
        col = np.nan_to_num(arr[:, k])
        low, high = float(col.min()), float(col.max())
        ys = (
            (height - 3) - (col - low) / (high - low) * (height - 6)
            if high > low
            else np.full(steps, height / 2)
        )
        painter.setPen(QPen(QColor(colour), 1.5))
        points = [QPointF(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]
        painter.drawPolyline(points)
    painter.end()
    return pixmap


def gray_array(image: QImage) -> np.ndarray:
    """A QImage as an ``(H, W)`` uint8 gray array."""
    gray = image.convertToFormat(QImage.Format.Format_Grayscale8)
    raw = np.frombuffer(gray.constBits(), dtype=np.uint8, count=gray.sizeInBytes())
    return raw.reshape(gray.height(), gray.bytesPerLine())[:, : gray.width()].copy()


class DrawingPad(QWidget):
    """A square the mouse draws on in white on black (the digits are light ink on a dark
    background); :attr:`drawn` fires when a stroke ends."""

    drawn = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFixedSize(PAD_SIZE, PAD_SIZE)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setToolTip("Draw with the mouse; the model sees it at its input size")
        self.image = QImage(PAD_SIZE, PAD_SIZE, QImage.Format.Format_Grayscale8)
        self._last: QPoint | None = None
        self.clear()

    def clear(self) -> None:
        """Wipe the pad black."""
        self.image.fill(QColor("black"))
        self.update()

    @property
    def empty(self) -> bool:
        """True when nothing is drawn."""
        return not gray_array(self.image).any()

    def stroke(self, points: list[tuple[float, float]]) -> None:
        """Draw a stroke through ``points`` given as shares (0–1) of the pad's side (tests and
        the mouse both end here)."""
        painter = QPainter(self.image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(QColor("white"), PAD_SIZE * PEN_SHARE)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
        painter.setPen(pen)
        pts = [QPoint(int(x * PAD_SIZE), int(y * PAD_SIZE)) for x, y in points]
        if len(pts) == 1:
            painter.drawPoint(pts[0])
        for a, b in zip(pts, pts[1:], strict=False):
            painter.drawLine(a, b)
        painter.end()
        self.update()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        self._last = event.position().toPoint()
        self._draw_to(self._last)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._last is not None:
            self._draw_to(event.position().toPoint())

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:  # noqa: N802 - Qt's name
        if self._last is not None:
            self._last = None
            self.drawn.emit()

    def _draw_to(self, point: QPoint) -> None:
        last = self._last or point
        self.stroke(
            [
                (last.x() / PAD_SIZE, last.y() / PAD_SIZE),
                (point.x() / PAD_SIZE, point.y() / PAD_SIZE),
            ]
        )
        self._last = point

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.drawImage(0, 0, self.image)
        painter.setPen(QColor("#808080"))
        painter.drawRect(0, 0, PAD_SIZE - 1, PAD_SIZE - 1)


class ProbabilityBars(QWidget):
    """Class probabilities as labelled horizontal bars, the most likely first."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setVerticalSpacing(2)
        self.grid.setColumnStretch(1, 1)
        self.rows: list[tuple[str, float]] = []  # what is shown: (class, probability)

    def show_probabilities(self, names: list[str], probabilities: list[float]) -> None:
        """List the (up to :data:`MAX_BARS`) most likely classes."""
        while self.grid.count():
            item = self.grid.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        order = sorted(range(len(names)), key=lambda i: -probabilities[i])[:MAX_BARS]
        self.rows = [(names[i], float(probabilities[i])) for i in order]
        for row, (name, p) in enumerate(self.rows):
            label = QLabel(name)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(p * 1000))
            bar.setTextVisible(False)
            bar.setFixedHeight(12)
            bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            value = QLabel(f"{p:.1%}")
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            value.setMinimumWidth(value.fontMetrics().horizontalAdvance("100.0%") + 4)
            self.grid.addWidget(label, row, 0)
            self.grid.addWidget(bar, row, 1)
            self.grid.addWidget(value, row, 2)
