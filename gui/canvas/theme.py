"""Geometry, colours and fonts shared by the canvas items.

Colours follow the application palette (light or dark) and are looked up once per palette change,
not per paint.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QGuiApplication, QPalette, QPen

from engine.layers import CATEGORIES
from gui.widgets import colours

NODE_WIDTH = 184.0
HEADER_HEIGHT = 22.0
LINE_HEIGHT = 16.0
BODY_LINES = 3  # label, output shape, parameter count
PORT_RADIUS = 5.0
PORT_SPACING = 18.0
CORNER = 5.0
GRID = 20.0
# Below this zoom (view scale) nodes draw as plain coloured blocks without text or ports.
DETAIL_LOD = 0.45
# Zooming out below OVERVIEW_ENTER draws the whole design in one pass (the items draw nothing);
# zooming back in above OVERVIEW_LEAVE returns to per-item drawing. The gap avoids flipping
# ten thousand items back and forth around one zoom level.
OVERVIEW_ENTER = 0.42
OVERVIEW_LEAVE = 0.48
# Below this zoom edges draw straight and without shape labels.
EDGE_LABEL_LOD = 0.8
# Smallest on-screen size (pixels) of a node's text that counts as readable. Fit and the zoom a
# design opens with never go below the zoom at which the node fonts reach it (Theme.label_zoom).
MIN_TEXT_PX = 9.0
NODE_FONT_PT = 9.5

# The status colours are the one palette of gui.widgets.colours, as QColors.
UNKNOWN_CATEGORY_COLOUR = colours.UNKNOWN_CATEGORY_COLOUR
ERROR_COLOUR = QColor(colours.ERROR_COLOUR)
OK_COLOUR = QColor(colours.OK_COLOUR)


def node_height(n_inputs: int) -> float:
    """Height of a node with ``n_inputs`` input ports (grows for wide merges)."""
    body = HEADER_HEIGHT + BODY_LINES * LINE_HEIGHT + 8.0
    return max(body, HEADER_HEIGHT + n_inputs * PORT_SPACING + 8.0)


def category_colour(category: str | None) -> QColor:
    """The palette colour of a layer category."""
    return QColor(CATEGORIES.get(category or "", UNKNOWN_CATEGORY_COLOUR))


@dataclass
class Theme:
    """Colours and fonts derived from the current application palette."""

    base: QColor
    text: QColor
    muted: QColor
    border: QColor
    edge: QColor
    highlight: QColor
    group_fill: QColor
    group_border: QColor
    grid: QColor
    canvas: QColor
    title_font: QFont
    body_font: QFont
    small_font: QFont
    body_metrics: QFontMetricsF
    title_metrics: QFontMetricsF
    small_metrics: QFontMetricsF
    title_top: float  # where a title's static text starts so it is centred in the header
    body_top: float  # likewise for a body line within LINE_HEIGHT
    small_top: float  # likewise for an edge label within its 14-unit box
    label_zoom: float  # smallest zoom at which node texts are drawn and at least MIN_TEXT_PX high
    edge_pen: QPen
    edge_selected_pen: QPen
    edge_cosmetic: QPen
    highlight_cosmetic: QPen

    @classmethod
    def from_palette(cls, palette: QPalette | None = None) -> Theme:
        """Build the theme for ``palette`` (default: the application's)."""
        pal = palette or QGuiApplication.palette()
        base = pal.color(QPalette.ColorRole.Base)
        window = pal.color(QPalette.ColorRole.Window)
        text = pal.color(QPalette.ColorRole.Text)
        dark = base.lightnessF() < 0.5
        muted = QColor(text)
        muted.setAlphaF(0.62)
        edge = QColor("#c4c9d0") if dark else QColor("#4a525c")
        group_fill = QColor(text)
        group_fill.setAlphaF(0.05)
        group_border = QColor(text)
        group_border.setAlphaF(0.25)
        canvas = window.darker(115) if dark else window.lighter(103)
        grid = _blend(canvas, text, 0.07)  # opaque: cheap to rasterise
        title = QFont()
        title.setPointSizeF(NODE_FONT_PT)
        title.setBold(True)
        body = QFont()
        body.setPointSizeF(NODE_FONT_PT)
        small = QFont()
        small.setPointSizeF(7.5)
        highlight = pal.color(QPalette.ColorRole.Highlight)
        edge_cosmetic = QPen(edge, 1.0)
        edge_cosmetic.setCosmetic(True)
        highlight_cosmetic = QPen(highlight, 2.0)
        highlight_cosmetic.setCosmetic(True)
        return cls(
            base=base,
            text=text,
            muted=muted,
            border=_blend(base, text, 0.55),
            edge=edge,
            highlight=highlight,
            group_fill=group_fill,
            group_border=group_border,
            grid=grid,
            canvas=canvas,
            title_font=title,
            body_font=body,
            small_font=small,
            body_metrics=QFontMetricsF(body),
            title_metrics=QFontMetricsF(title),
            small_metrics=QFontMetricsF(small),
            title_top=(HEADER_HEIGHT - QFontMetricsF(title).height()) / 2,
            body_top=(LINE_HEIGHT - QFontMetricsF(body).height()) / 2,
            small_top=(14.0 - QFontMetricsF(small).height()) / 2,
            label_zoom=max(
                DETAIL_LOD, OVERVIEW_LEAVE, MIN_TEXT_PX / min(font_px(title), font_px(body))
            ),
            edge_pen=_cosmetic(edge, 1.0),
            edge_selected_pen=_cosmetic(highlight, 2.0),
            edge_cosmetic=edge_cosmetic,
            highlight_cosmetic=highlight_cosmetic,
        )


def font_px(font: QFont) -> float:
    """Height of ``font`` in screen pixels at 100 % zoom (points at the screen's logical DPI)."""
    if font.pixelSize() > 0:
        return float(font.pixelSize())
    screen = QGuiApplication.primaryScreen()
    dpi = screen.logicalDotsPerInchY() if screen is not None else 96.0
    return font.pointSizeF() * dpi / 72.0


def _cosmetic(colour: QColor, width: float) -> QPen:
    """A pen of ``width`` screen pixels at any zoom. One-pixel cosmetic pens take Qt's fast
    stroker: a long curved wire strokes ten times faster than with a 1.6-unit pen."""
    pen = QPen(colour, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
    pen.setCosmetic(True)
    return pen


def _blend(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(
        a.redF() + (b.redF() - a.redF()) * t,
        a.greenF() + (b.greenF() - a.greenF()) * t,
        a.blueF() + (b.blueF() - a.blueF()) * t,
    )
