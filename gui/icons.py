"""Icons drawn from the SVG files in ``resources/icons``, in the current palette's text colour.

The SVGs stroke with ``currentColor``; each paint substitutes the palette's colour for the icon's
mode, so toolbar icons stay readable in dark mode and crisp at any device pixel ratio.
"""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QByteArray, QPoint, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap
from PySide6.QtSvg import QSvgRenderer

from resources import RESOURCES_DIR

ICONS_DIR = RESOURCES_DIR / "icons"


class _SvgIconEngine(QIconEngine):
    """Renders one SVG at whatever size Qt asks, coloured for the mode (normal / disabled)."""

    def __init__(self, svg: bytes) -> None:
        super().__init__()
        self._svg = svg

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        group = (
            QPalette.ColorGroup.Disabled
            if mode == QIcon.Mode.Disabled
            else QPalette.ColorGroup.Normal
        )
        colour = QGuiApplication.palette().color(group, QPalette.ColorRole.WindowText)
        data = self._svg.replace(b"currentColor", colour.name().encode())
        renderer = QSvgRenderer(QByteArray(data))
        renderer.render(painter, QRectF(rect))

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return pixmap

    def clone(self) -> QIconEngine:
        return _SvgIconEngine(self._svg)


@cache
def _svg_bytes(name: str) -> bytes:
    return (ICONS_DIR / f"{name}.svg").read_bytes()


def icon(name: str) -> QIcon:
    """Icon from ``resources/icons/<name>.svg``."""
    return QIcon(_SvgIconEngine(_svg_bytes(name)))


def swatch(colour: str) -> QIcon:
    """A small rounded square of ``colour`` (palette categories, gallery legends)."""
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect x="1.5" y="1.5" '
        f'width="13" height="13" rx="3.5" fill="{colour}" stroke="#00000040"/></svg>'
    )
    return QIcon(_SvgIconEngine(svg.encode()))


def app_icon() -> QIcon:
    """Deepwire's window icon."""
    return QIcon(_SvgIconEngine(_svg_bytes("deepwire")))
