"""Layer health on the canvas: a strip in each node while a run trains, and gradient flow on wires.

:class:`CanvasHealth` receives the runner's event lists (the ones the plots get), folds them into
an :class:`engine.insight.health.HealthTracker` and, at the plots' rate, gives each node item a
:class:`HealthStrip`: a small sparkline of the layer's gradient norm (or of its output std where it
has no weights) and a warning badge when a problem holds, at the right end of the node's header.
The node's tooltip adds the strip's values and, for each badge, what it means and what to try. With "Show gradient flow on wires" on,
each wire is coloured and thickened by the gradient norm of the layer it comes from (or, for a
layer without weights, of the nearest weighted layer before it).

A new run or another design clears the strips; editing the design keeps them until the next
statistics arrive. The strip paints precomputed geometry only (no allocation per frame).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from engine.insight.health import HealthTracker, NodeHealth
from gui.canvas import theme as th
from gui.formatting import escape_html

if TYPE_CHECKING:
    from gui.canvas.items import NodeItem
    from gui.canvas.scene import CanvasScene

REFRESH_MS = 250  # the strips follow a run 4 times a second, as the layer charts do
STRIP_WIDTH = 54.0
STRIP_HEIGHT = 14.0
BADGE_RADIUS = 5.5
PROBLEM_ROOM = 22.0  # the strip moves left of the node's red design-problem badge, when shown
WARNING = QColor("#e8a317")  # the badge: amber, unlike the red of a design problem
LINE = QColor("#ffffff")  # the sparkline, white on the header's colour
BACK = QColor(0, 0, 0, 70)  # the strip's translucent background
FLOW_LOW = QColor("#9fb7d0")  # wires with the smallest gradient norms: pale and thin …
FLOW_HIGH = QColor("#d8572a")  # … the largest: orange and thick
FLOW_WIDTHS = (1.0, 4.0)  # cosmetic pen widths (pixels) for the smallest and largest norm


class HealthStrip(QGraphicsItem):
    """The health strip of one node: a sparkline and a badge at the right end of its header."""

    def __init__(self, node: NodeItem) -> None:
        super().__init__(node)
        self.health: NodeHealth | None = None
        self._line = QPolygonF()
        self._pen = QPen(LINE, 1.2)
        self._pen.setCosmetic(True)
        self._box = QRectF(0.0, 0.0, STRIP_WIDTH, STRIP_HEIGHT)
        self._shifted = self._box.translated(-PROBLEM_ROOM, 0.0)
        self._bounds = self._box.united(self._shifted).adjusted(-1.0, -1.0, 1.0, 1.0)
        self.setAcceptHoverEvents(False)
        self.setPos(th.NODE_WIDTH - STRIP_WIDTH - 4.0, (th.HEADER_HEIGHT - STRIP_HEIGHT) / 2)

    def set_health(self, health: NodeHealth) -> None:
        """Show ``health``: the sparkline's points are worked out here, not when painting."""
        self.health = health
        values = [v for v in health.sparkline if math.isfinite(v)]
        points = QPolygonF()
        if values:
            low, high = min(values), max(values)
            span = high - low or 1.0
            right = STRIP_WIDTH - (2 * BADGE_RADIUS + 4.0 if health.badges else 2.0)
            step = (right - 2.0) / max(len(values) - 1, 1)
            for i, v in enumerate(values):
                y = STRIP_HEIGHT - 2.0 - (v - low) / span * (STRIP_HEIGHT - 4.0)
                points.append(QPointF(2.0 + i * step, y))
        self._line = points
        self.update()

    def tooltip_html(self) -> str:
        """The strip's part of the node's tooltip: the values, then each badge's advice."""
        health = self.health
        if health is None:
            return ""
        tip = "<br><b>Health</b> · " + escape_html(", ".join(health.lines()) or "no values yet")
        if health.sparkline_of:
            tip += f"<br><i>the line: {escape_html(health.sparkline_of)}, recent steps</i>"
        for badge in health.badges:
            tip += (
                f"<br><span style='color:{WARNING.name()}'>▲ <b>{escape_html(badge.title)}</b>"
                f"</span>: {escape_html(badge.message)}<br>Try: {escape_html(badge.advice)}"
            )
        return tip

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if option.levelOfDetailFromTransform(painter.worldTransform()) < th.DETAIL_LOD:
            if self.health is not None and self.health.badges:
                painter.fillRect(self._box, WARNING)  # zoomed out: an amber block says "look"
            return
        node = self.parentItem()
        t = node.canvas.theme
        if node.problems:  # the red badge sits at the header's right end: keep clear of it
            painter.translate(-PROBLEM_ROOM, 0.0)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(BACK)
        painter.drawRoundedRect(self._box, 3.0, 3.0)
        if len(self._line) > 1:
            painter.setPen(self._pen)
            painter.drawPolyline(self._line)
        if self.health is not None and self.health.badges:
            centre = QPointF(STRIP_WIDTH - BADGE_RADIUS - 1.5, STRIP_HEIGHT / 2)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(WARNING)
            painter.drawEllipse(centre, BADGE_RADIUS, BADGE_RADIUS)
            painter.setPen(QColor("#000000"))
            painter.setFont(t.small_font)
            box = QRectF(centre.x() - BADGE_RADIUS, centre.y() - BADGE_RADIUS, 11.0, 11.0)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, "!")


class CanvasHealth(QObject):
    """Feeds a run's statistics to the canvas: strips on nodes, gradient flow on wires."""

    def __init__(self, scene: CanvasScene, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.tracker = HealthTracker()
        self.report: dict[str, NodeHealth] = {}
        self._shown_serial = -1
        self._shown: set[str] = set()  # node ids given a strip
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.flow_action = QAction("Show Gradient Flow on Wires", self)
        self.flow_action.setCheckable(True)
        self.flow_action.setStatusTip(
            "Colour and thicken each wire by the gradient norm of the layer it leaves "
            "(while and after a run trains)"
        )
        self.flow_action.toggled.connect(lambda _on: self._apply_flow())
        scene.document.designReset.connect(self.clear)

    @Slot(object)
    def add_events(self, events: list) -> None:
        """The runner's drained events; the canvas follows at most every ``REFRESH_MS``."""
        changed = False
        for event in events:
            changed |= self.tracker.add(event)
        if changed and not self._timer.isActive():
            self._timer.start()

    @Slot()
    def clear(self) -> None:
        """Drop every strip and wire colour (another design was opened)."""
        self._timer.stop()
        self.tracker.reset()
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Give every node its strip from the latest statistics (and wires their pens)."""
        self._timer.stop()
        if self._shown_serial == self.tracker.serial:
            return
        self._shown_serial = self.tracker.serial
        self.report = self.tracker.report()
        nodes = self.scene.nodes
        for node_id in self._shown - self.report.keys():  # strips of another run: gone
            item = nodes.get(node_id)
            if item is not None and item.health is not None:
                self.scene.removeItem(item.health)
                item.health = None
                item.update()  # its title has the whole header again
        for node_id, health in self.report.items():
            item = nodes.get(node_id)
            if item is not None:
                if item.health is None:
                    item.health = HealthStrip(item)
                    item.update()  # its title is cut short of the strip
                item.health.set_health(health)
        self._shown = set(self.report)
        self._apply_flow()

    def strip_of(self, node_id: str) -> HealthStrip | None:
        """The strip shown on node ``node_id`` (None: none)."""
        item = self.scene.nodes.get(node_id)
        return item.health if item is not None else None

    def _apply_flow(self) -> None:
        on = self.flow_action.isChecked()
        flow = self._flow() if on else {}
        logs = [math.log10(v) for v in flow.values() if v > 0 and math.isfinite(v)]
        low, high = (min(logs), max(logs)) if logs else (0.0, 0.0)
        for edge in self.scene.edges.values():
            value = flow.get(edge.edge.source)
            pen = None
            if value is not None:
                share = 1.0
                if value > 0 and math.isfinite(value):
                    share = (math.log10(value) - low) / (high - low) if high > low else 0.5
                elif value <= 0:
                    share = 0.0
                pen = _flow_pen(round(min(max(share, 0.0), 1.0) * 20) / 20)
            if pen is not edge.flow_pen:
                edge.flow_pen = pen
                edge.update()

    def _flow(self) -> dict[str, float]:
        """Node id → the gradient norm its outgoing wires show: its own, or for a layer without
        weights the one its first input's wire shows (one pass in execution order)."""
        document = self.scene.document
        norms = {nid: h.grad_norm for nid, h in self.report.items() if h.grad_norm is not None}
        out: dict[str, float] = {}
        for node_id in document.analysis.topological_order():
            value = norms.get(node_id)
            if value is None:
                value = next(
                    (out[e.source] for e in document.design.in_edges(node_id) if e.source in out),
                    None,
                )
            if value is not None:
                out[node_id] = value
        return out


@lru_cache(maxsize=32)
def _flow_pen(share: float) -> QPen:
    """The pen of a wire at ``share`` (0: the smallest gradient norm, 1: the largest; in 21
    steps, so wires share pens and an unchanged wire is not repainted)."""
    colour = QColor.fromRgbF(
        FLOW_LOW.redF() + (FLOW_HIGH.redF() - FLOW_LOW.redF()) * share,
        FLOW_LOW.greenF() + (FLOW_HIGH.greenF() - FLOW_LOW.greenF()) * share,
        FLOW_LOW.blueF() + (FLOW_HIGH.blueF() - FLOW_LOW.blueF()) * share,
    )
    pen = QPen(colour, FLOW_WIDTHS[0] + (FLOW_WIDTHS[1] - FLOW_WIDTHS[0]) * share)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    return pen
