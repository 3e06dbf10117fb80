"""Graphics items of the canvas: nodes (with their ports), edges, network groups, the label editor.

Items only observe: :class:`~gui.canvas.scene.CanvasScene` creates them from the document, calls
their ``refresh_*`` methods when the document signals a change, and turns gestures into commands.
For speed on large designs a node draws its ports, texts and badge itself (no child items), caches
its pixmap in device coordinates and skips all text when zoomed far out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsTextItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from engine.graph import Edge
from engine.layers import REGISTRY, fmt_shape
from gui.canvas import theme as th

if TYPE_CHECKING:
    from gui.canvas.scene import CanvasScene

_FLAG = QGraphicsItem.GraphicsItemFlag
_CHANGE = QGraphicsItem.GraphicsItemChange


def _lod(option: QStyleOptionGraphicsItem, painter: QPainter) -> float:
    return option.levelOfDetailFromTransform(painter.worldTransform())


class NodeItem(QGraphicsRectItem):
    """One layer: header in its category colour, label, output shape, parameters, ports, badge."""

    def __init__(self, canvas: CanvasScene, node_id: str) -> None:
        super().__init__()
        self.canvas = canvas
        self.node_id = node_id
        self.in_edges: list[EdgeItem] = []
        self.out_edges: list[EdgeItem] = []
        self.setFlags(_FLAG.ItemIsSelectable | _FLAG.ItemIsMovable
                      | _FLAG.ItemSendsGeometryChanges)
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setPen(QPen(Qt.PenStyle.NoPen))
        self._syncing = False
        self._height = 0.0
        self.slot_ports: list[int] = []  # input port index shown in each slot, top to bottom
        self.colour = QColor()
        self.title = ""
        self.label_text = ""
        self.label_is_id = True
        self.shape_text = ""
        self.params_text = ""
        self.problems: list[str] = []
        self.type_id = ""
        self._elided: tuple[str, str, str, str] = ("", "", "", "")
        self.refresh_node()
        self.refresh_analysis()

    # -- geometry ----------------------------------------------------------------------------

    @property
    def height(self) -> float:
        """Height of the node body."""
        return self._height

    def input_port_pos(self, port: int) -> QPointF:
        """Local position of input ``port`` (its slot; an unknown port sits at the first)."""
        n = max(1, len(self.slot_ports))
        slot = self.slot_ports.index(port) if port in self.slot_ports else 0
        span = self._height - th.HEADER_HEIGHT
        return QPointF(0.0, th.HEADER_HEIGHT + span * (slot + 1) / (n + 1))

    def output_port_pos(self) -> QPointF:
        """Local position of the output port."""
        return QPointF(th.NODE_WIDTH, th.HEADER_HEIGHT + (self._height - th.HEADER_HEIGHT) / 2)

    def port_at(self, local: QPointF, slack: float = 2.4) -> tuple[str, int] | None:
        """``("out", 0)`` or ``("in", port)`` when ``local`` is on a port, else None."""
        reach = th.PORT_RADIUS * slack
        out = self.output_port_pos()
        if abs(local.x() - out.x()) <= reach and abs(local.y() - out.y()) <= reach:
            return ("out", 0)
        for port in self.slot_ports:
            p = self.input_port_pos(port)
            if abs(local.x() - p.x()) <= reach and abs(local.y() - p.y()) <= reach:
                return ("in", port)
        return None

    def nearest_input_port(self, local: QPointF) -> int | None:
        """The input port closest to ``local`` in height (for drops anywhere on the node)."""
        if not self.slot_ports:
            return None
        return min(self.slot_ports, key=lambda p: abs(self.input_port_pos(p).y() - local.y()))

    # -- refreshing from the document --------------------------------------------------------

    def refresh_node(self) -> None:
        """Re-read type, label and position from the design."""
        node = self.canvas.document.design.node(self.node_id)
        spec = REGISTRY.get(node.type) if node.type in REGISTRY else None
        self.type_id = node.type
        self.title = spec.display_name if spec else f"{node.type}?"
        self.colour = th.category_colour(spec.category if spec else None)
        self.label_text = node.label or node.id
        self.label_is_id = not node.label
        self.refresh_ports()
        self.set_pos_quietly(QPointF(*node.position))
        self._elide()
        self.update()

    def refresh_ports(self) -> None:
        """Recompute the input slots (merges grow a spare one) and the node's height."""
        node = self.canvas.document.design.node(self.node_id)
        spec = REGISTRY.get(node.type) if node.type in REGISTRY else None
        used = sorted({e.port for e in self.canvas.document.design.in_edges(self.node_id)})
        if spec is None:
            slots = used
        elif spec.variadic:
            n = len(spec.port_names(len(used)))
            slots = list(used)
            free = 0
            while len(slots) < n:
                if free not in used:
                    slots.append(free)
                free += 1
        else:
            slots = list(range(spec.inputs)) + [p for p in used if p >= spec.inputs]
        height = th.node_height(len(slots))
        if slots != self.slot_ports or height != self._height:
            self.slot_ports = slots
            self._height = height
            self.setRect(QRectF(-th.PORT_RADIUS - 1, -1, th.NODE_WIDTH + 2 * th.PORT_RADIUS + 2,
                                height + 2))
            for edge in self.in_edges:
                edge.route()

    def refresh_analysis(self) -> None:
        """Re-read output shape, parameter count and problems from the analysis."""
        info = self.canvas.document.analysis.info.get(self.node_id)
        if info is None:
            self.shape_text, self.params_text, self.problems = "→ ?", "", []
        else:
            self.shape_text = "→ " + fmt_shape(info.output_shape) if info.output_shape else "→ ?"
            self.params_text = (f"{info.params:,} parameters" if info.params
                                else "no parameters")
            self.problems = [p.message + (f" — {p.fix}" if p.fix else "") for p in info.problems]
            design_problems = self.canvas.document.analysis.design_problems
            self.problems += [p.message + (f" — {p.fix}" if p.fix else "")
                              for p in design_problems if p.node == self.node_id]
        self._elide()
        tip = f"<b>{self.title}</b> · {self.node_id}"
        spec = REGISTRY.get(self.type_id) if self.type_id in REGISTRY else None
        if spec:
            tip += f"<br>{spec.help}"
        if self.problems:
            tip += "".join(f"<br><span style='color:#d64541'>⚠ {_html(m)}</span>"
                           for m in self.problems)
        self.setToolTip(tip)
        self.update()

    def set_pos_quietly(self, pos: QPointF) -> None:
        """Move to ``pos`` without grid snapping (the document already decided it)."""
        if self.pos() != pos:
            self._syncing = True
            try:
                self.setPos(pos)
            finally:
                self._syncing = False

    def _elide(self) -> None:
        t = self.canvas.theme
        room = th.NODE_WIDTH - 16 - (18 if self.problems else 0)
        mode = Qt.TextElideMode.ElideRight
        self._elided = (t.title_metrics.elidedText(self.title, mode, room),
                        t.body_metrics.elidedText(self.label_text, mode, th.NODE_WIDTH - 16),
                        t.body_metrics.elidedText(self.shape_text, mode, th.NODE_WIDTH - 16),
                        t.body_metrics.elidedText(self.params_text, mode, th.NODE_WIDTH - 16))

    # -- painting ----------------------------------------------------------------------------

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        t = self.canvas.theme
        body = QRectF(0.0, 0.0, th.NODE_WIDTH, self._height)
        selected = self.isSelected()
        if _lod(option, painter) < th.DETAIL_LOD:
            painter.fillRect(body, self.colour)
            if selected or self.problems:
                pen = QPen(t.highlight if selected else th.ERROR_COLOUR, 6.0)
                painter.setPen(pen)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(body)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(t.base)
        painter.drawRoundedRect(body, th.CORNER, th.CORNER)
        header = QPainterPath()
        header.addRoundedRect(QRectF(0.0, 0.0, th.NODE_WIDTH, th.HEADER_HEIGHT + th.CORNER),
                              th.CORNER, th.CORNER)
        clip = QPainterPath()
        clip.addRect(QRectF(0.0, 0.0, th.NODE_WIDTH, th.HEADER_HEIGHT))
        painter.setBrush(self.colour)
        painter.drawPath(header.intersected(clip))
        if selected:
            border = QPen(t.highlight, 2.5)
        elif self.problems:
            border = QPen(th.ERROR_COLOUR, 1.8)
        else:
            border = QPen(t.muted, 1.0)
        painter.setPen(border)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(body, th.CORNER, th.CORNER)

        title, label, shape, params = self._elided
        painter.setFont(t.title_font)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(QRectF(8.0, 0.0, th.NODE_WIDTH - 16.0, th.HEADER_HEIGHT),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, title)
        painter.setFont(t.body_font)
        y = th.HEADER_HEIGHT + 3.0
        align = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        for text, colour in ((label, t.muted if self.label_is_id else t.text),
                             (shape, th.ERROR_COLOUR if shape == "→ ?" else t.text),
                             (params, t.muted)):
            painter.setPen(colour)
            painter.drawText(QRectF(10.0, y, th.NODE_WIDTH - 18.0, th.LINE_HEIGHT), align, text)
            y += th.LINE_HEIGHT

        self._paint_ports(painter, t)
        if self.problems:
            centre = QPointF(th.NODE_WIDTH - 12.0, th.HEADER_HEIGHT / 2)
            painter.setPen(QPen(QColor("#ffffff"), 1.2))
            painter.setBrush(th.ERROR_COLOUR)
            painter.drawEllipse(centre, 7.5, 7.5)
            bold = QFont(t.body_font)
            bold.setBold(True)
            painter.setFont(bold)
            painter.setPen(QColor("#ffffff"))
            painter.drawText(QRectF(centre.x() - 7.5, centre.y() - 7.5, 15.0, 15.0),
                             Qt.AlignmentFlag.AlignCenter, "!")

    def _paint_ports(self, painter: QPainter, t: th.Theme) -> None:
        connected = {e.edge.port for e in self.in_edges}
        for port in self.slot_ports:
            verdict = self.canvas.port_verdict(self.node_id, port)
            if verdict is True:
                painter.setPen(QPen(th.OK_COLOUR.darker(130), 1.5))
                painter.setBrush(th.OK_COLOUR)
                radius = th.PORT_RADIUS + 2.0
            elif verdict is False:
                painter.setPen(QPen(th.ERROR_COLOUR, 1.5))
                painter.setBrush(t.base)
                radius = th.PORT_RADIUS
            else:
                painter.setPen(QPen(t.edge, 1.2))
                painter.setBrush(t.edge if port in connected else t.base)
                radius = th.PORT_RADIUS
            painter.drawEllipse(self.input_port_pos(port), radius, radius)
        painter.setPen(QPen(t.edge, 1.2))
        painter.setBrush(t.edge if self.out_edges else t.base)
        painter.drawEllipse(self.output_port_pos(), th.PORT_RADIUS, th.PORT_RADIUS)

    # -- reactions ---------------------------------------------------------------------------

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):  # noqa: N802
        if change == _CHANGE.ItemPositionChange and not self._syncing and self.canvas.snap_to_grid:
            g = th.GRID
            return QPointF(round(value.x() / g) * g, round(value.y() / g) * g)
        if change == _CHANGE.ItemPositionHasChanged:
            self.canvas.node_item_moved(self)
        return super().itemChange(change, value)


class EdgeItem(QGraphicsPathItem):
    """A wire from a node's output port to another's input port; tooltip and label: its shape."""

    def __init__(self, canvas: CanvasScene, edge: Edge, source: NodeItem, target: NodeItem) -> None:
        super().__init__()
        self.canvas = canvas
        self.edge = edge
        self.source = source
        self.target = target
        self.label = ""
        self._label_rect = QRectF()
        self._bounds = QRectF()
        self._hit_shape = QPainterPath()
        self.setFlag(_FLAG.ItemIsSelectable, True)
        self.setZValue(-1.0)
        self.route()
        self.refresh_label()

    def route(self) -> None:
        """Recompute the curve from the current port positions."""
        p1 = self.source.mapToScene(self.source.output_port_pos())
        p2 = self.target.mapToScene(self.target.input_port_pos(self.edge.port))
        dx = max(40.0, abs(p2.x() - p1.x()) * 0.5)
        path = QPainterPath(p1)
        path.cubicTo(QPointF(p1.x() + dx, p1.y()), QPointF(p2.x() - dx, p2.y()), p2)
        self.prepareGeometryChange()
        self.setPath(path)
        self._hit_shape = QPainterPath()
        self._place_label()

    def refresh_label(self) -> None:
        """Re-read the shape the edge carries (its source's output shape)."""
        info = self.canvas.document.analysis.info.get(self.edge.source)
        shape = info.output_shape if info else None
        self.label = fmt_shape(shape) if shape is not None else ""
        e = self.edge
        self.setToolTip(f"{e.source} → {e.target} (input {e.port + 1})"
                        + (f": {self.label}" if self.label else ": shape unknown"))
        self.prepareGeometryChange()
        self._place_label()
        self.update()

    def _place_label(self) -> None:
        bounds = self.path().boundingRect().adjusted(-3, -3, 3, 3)
        self._label_rect = QRectF()
        if self.label:
            width = self.canvas.theme.body_metrics.horizontalAdvance(self.label) + 8
            mid = self.path().pointAtPercent(0.5)
            rect = QRectF(mid.x() - width / 2, mid.y() - 17, width, 14)
            gap = abs(self.path().elementAt(3).x - self.path().elementAt(0).x) - 2 * th.PORT_RADIUS
            if gap >= width + 6:  # only where it does not hide under the nodes
                self._label_rect = rect
                bounds = bounds.united(rect.adjusted(-1, -1, 1, 1))
        self._bounds = bounds

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._hit_shape.isEmpty():
            stroker = QPainterPathStroker()
            stroker.setWidth(10.0)
            self._hit_shape = stroker.createStroke(self.path())
        return self._hit_shape

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        t = self.canvas.theme
        lod = _lod(option, painter)
        selected = self.isSelected()
        pen = QPen(t.highlight if selected else t.edge, 3.0 if selected else 1.6)
        if lod < th.DETAIL_LOD:
            pen.setCosmetic(True)
            pen.setWidthF(2.0 if selected else 1.0)
            painter.setPen(pen)
            p = self.path()
            painter.drawLine(p.elementAt(0).x, p.elementAt(0).y,
                             p.elementAt(3).x, p.elementAt(3).y)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        if lod >= th.EDGE_LABEL_LOD and not self._label_rect.isNull():
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(t.canvas)
            painter.drawRoundedRect(self._label_rect, 3, 3)
            painter.setFont(t.small_font)
            painter.setPen(t.muted)
            painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


class GroupItem(QGraphicsRectItem):
    """The frame around one network of a multi-network design, titled with its role."""

    MARGIN = 24.0
    TITLE_HEIGHT = 26.0

    def __init__(self, canvas: CanvasScene, network: str, title: str) -> None:
        super().__init__()
        self.canvas = canvas
        self.network = network
        self.title = title
        self.setZValue(-10.0)
        self.setPen(QPen(Qt.PenStyle.NoPen))
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def fit(self, content: QRectF) -> None:
        """Surround ``content`` (the union of the member nodes) with margin and title."""
        m = self.MARGIN
        rect = content.adjusted(-m, -m - self.TITLE_HEIGHT, m, m)
        if rect != self.rect():
            self.setRect(rect)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        t = self.canvas.theme
        rect = self.rect()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(t.group_border, 1.2, Qt.PenStyle.DashLine))
        painter.setBrush(QBrush(t.group_fill))
        painter.drawRoundedRect(rect, 10, 10)
        if _lod(option, painter) >= 0.2:
            font = QFont(t.title_font)
            font.setPointSizeF(11.0)
            painter.setFont(font)
            painter.setPen(t.muted)
            painter.drawText(QRectF(rect.left() + 14, rect.top() + 4, rect.width() - 28,
                                    self.TITLE_HEIGHT),
                             Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                             self.title)


class LabelEditor(QGraphicsTextItem):
    """Inline editor for a node's label: Enter commits, Esc cancels, leaving the field commits."""

    def __init__(self, canvas: CanvasScene, node: NodeItem, text: str) -> None:
        super().__init__()
        self.canvas = canvas
        self.node_id = node.node_id
        self._done = False
        self.setPlainText(text)
        self.setFont(canvas.theme.body_font)
        self.setDefaultTextColor(canvas.theme.text)
        self.setTextWidth(th.NODE_WIDTH - 14)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextEditorInteraction)
        self.setZValue(10.0)
        # Parent after construction: a QGraphicsTextItem built with its parent can vanish.
        self.setParentItem(node)
        self.setPos(6.0, th.HEADER_HEIGHT)

    def background(self) -> QColor:
        """Fill behind the text so the node's own label does not show through."""
        return self.canvas.theme.base

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem,
              widget: QWidget | None = None) -> None:
        painter.fillRect(self.boundingRect(), self.background())
        painter.setPen(QPen(self.canvas.theme.highlight, 1.0))
        painter.drawRect(self.boundingRect().adjusted(0, 0, -1, -1))
        super().paint(painter, option, widget)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish(True)
        elif event.key() == Qt.Key.Key_Escape:
            self.finish(False)
        else:
            super().keyPressEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802
        super().focusOutEvent(event)
        self.finish(True)

    def finish(self, commit: bool) -> None:
        """End editing once; the scene applies the label (as a command) when ``commit``."""
        if self._done:
            return
        self._done = True
        self.canvas.finish_relabel(self, commit)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
