"""Graphics items of the canvas: nodes (with their ports), edges, network groups, the label editor.

Items only observe: :class:`~gui.canvas.scene.CanvasScene` creates them from the document, calls
their ``refresh_*`` methods when the document signals a change, and turns gestures into commands.
For speed on large designs a node draws its ports, texts and badge itself (no child items), caches
its pixmap in device coordinates and skips all text when zoomed far out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QKeyEvent,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QStaticText,
)
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsTextItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from engine.blocks import BLOCK_TYPE
from engine.graph import Edge
from engine.layers import REGISTRY, fmt_shape
from gui.canvas import theme as th
from gui.canvas.health import STRIP_WIDTH
from gui.formatting import escape_html
from gui.widgets import colours

if TYPE_CHECKING:
    from gui.canvas.health import HealthStrip
    from gui.canvas.scene import CanvasScene

_FLAG = QGraphicsItem.GraphicsItemFlag
_NODE_FLAGS = _FLAG.ItemIsSelectable | _FLAG.ItemIsMovable
_NODE_FLAGS_OVERVIEW = _NODE_FLAGS | _FLAG.ItemHasNoContents
_EDGE_FLAGS = _FLAG.ItemIsSelectable
_EDGE_FLAGS_OVERVIEW = _EDGE_FLAGS | _FLAG.ItemHasNoContents
_DEVICE_CACHE = QGraphicsItem.CacheMode.DeviceCoordinateCache
_WHITE = QColor("#ffffff")
# A node item's rectangle: its body with the ports (which stick out at both sides) and a margin.
_RECT_LEFT = -th.PORT_RADIUS - 1.0
_RECT_WIDTH = th.NODE_WIDTH + 2 * th.PORT_RADIUS + 2.0
#: The header colour of block instances (a block holds layers of every category).
BLOCK_COLOUR = QColor("#5b4b8a")


def block_title(node) -> str:
    """What a block instance's header says: ``▣ resnet_basic ×2``."""
    repeat = node.params.get("repeat", 1)
    name = node.params.get("block", "?")
    return f"▣ {name}" + (f" ×{repeat}" if isinstance(repeat, int) and repeat > 1 else "")


def node_style(canvas: CanvasScene, node) -> tuple[str, QColor]:
    """Title and header colour of a node: its type's, or a block instance's own."""
    if node.type == BLOCK_TYPE:
        return block_title(node), BLOCK_COLOUR
    return canvas.type_style(node.type)


def block_ports(design, node) -> int | None:
    """The number of input ports of a block instance (its definition's Inputs), else None."""
    if node.type != BLOCK_TYPE:
        return None
    defn = design.blocks.get(node.params.get("block"))
    return len(defn.input_ids) if defn is not None else None


def _lod(option: QStyleOptionGraphicsItem, painter: QPainter) -> float:
    return option.levelOfDetailFromTransform(painter.worldTransform())


class NodeItem(QGraphicsRectItem):
    """One layer: header in its category colour, label, output shape, parameters, ports, badge.

    Construction is cheap (a rectangle at a position): the texts are worked out on the first
    detailed paint after a change, so opening a large design costs little for what is not seen.
    """

    # Until set on the item (each attribute set on a Qt item costs, and a big design opens
    # tens of thousands of them): no texts worked out yet, no ports, no height.
    _texts: _NodeTexts | None = None
    slot_ports: list[int] = []  # replaced, never changed in place (items share lists)
    _height = 0.0
    health: HealthStrip | None = None  # set by gui/canvas/health.py while a run reports stats

    def __init__(self, canvas: CanvasScene, node_id: str, slots: list[int] | None = None) -> None:
        super().__init__()
        self.canvas = canvas
        self.node_id = node_id
        self.in_edges: list[EdgeItem] = []
        self.out_edges: list[EdgeItem] = []
        self.setFlags(_NODE_FLAGS_OVERVIEW if canvas.overview_on else _NODE_FLAGS)
        self.setCacheMode(_DEVICE_CACHE)
        node = canvas.document.design.node(node_id)
        self.type_id = node.type
        self.title, self.colour = node_style(canvas, node)
        if slots is None:
            self.refresh_ports()
        else:  # the slots of a new item: no wire to re-route yet
            self.slot_ports = slots  # input port index shown in each slot, top to bottom
            self._height = height = th.node_height(len(slots))
            self.setRect(_RECT_LEFT, -1.0, _RECT_WIDTH, height + 2.0)
        self.setPos(*node.position)

    # -- geometry ----------------------------------------------------------------------------

    @property
    def height(self) -> float:
        """Height of the node body."""
        return self._height

    def input_port_y(self, port: int) -> float:
        """Local height of input ``port`` (its slot; an unknown port sits at the first)."""
        slots = self.slot_ports
        n = len(slots) or 1
        slot = slots.index(port) if port in slots else 0
        return th.HEADER_HEIGHT + (self._height - th.HEADER_HEIGHT) * (slot + 1) / (n + 1)

    def output_port_y(self) -> float:
        """Local height of the output port."""
        return th.HEADER_HEIGHT + (self._height - th.HEADER_HEIGHT) / 2

    def input_port_pos(self, port: int) -> QPointF:
        """Local position of input ``port``."""
        return QPointF(0.0, self.input_port_y(port))

    def output_port_pos(self) -> QPointF:
        """Local position of the output port."""
        return QPointF(th.NODE_WIDTH, self.output_port_y())

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

    def labels_drawn(self, scale: float) -> bool:
        """Whether the node draws its texts (type, label, shape, parameters) at view ``scale``,
        rather than a plain block (zoomed out) or nothing (the overview draws it)."""
        return scale >= th.DETAIL_LOD and not self.flags() & _FLAG.ItemHasNoContents

    # -- what the node shows (worked out lazily) ---------------------------------------------

    def _ensure_texts(self) -> _NodeTexts:
        if self._texts is None:
            self._texts = _NodeTexts(self)
        return self._texts

    @property
    def label_text(self) -> str:
        """The label, or the node id when it has none."""
        return self._ensure_texts().label

    @property
    def label_is_id(self) -> bool:
        """True when the node has no label and shows its id."""
        return self._ensure_texts().label_is_id

    @property
    def shape_text(self) -> str:
        """``→ (N, 16, 8, 8)``, or ``→ ?`` while the shape is unknown."""
        return self._ensure_texts().shape

    @property
    def params_text(self) -> str:
        """``1,234 parameters`` or ``no parameters``."""
        return self._ensure_texts().params

    @property
    def problems(self) -> list[str]:
        """Validation messages about this node (each with its fix)."""
        return self._ensure_texts().problems

    def tooltip_html(self) -> str:
        """Rich tooltip: type, id, help, problems."""
        texts = self._ensure_texts()
        tip = f"<b>{escape_html(self.title)}</b> · {escape_html(self.node_id)}"
        spec = REGISTRY.get(self.type_id) if self.type_id in REGISTRY else None
        if spec:
            tip += f"<br>{escape_html(spec.help)}"
        info = self.canvas.document.analysis.info.get(self.node_id)
        if info is not None and info.input_shapes:
            ins = ", ".join(fmt_shape(s) if s is not None else "?" for s in info.input_shapes)
            tip += f"<br>in: {escape_html(ins)}"
        tip += f"<br>{escape_html(texts.shape)} · {escape_html(texts.params)}"
        tip += "".join(
            f"<br><span style='color:{colours.ERROR_COLOUR}'>⚠ {escape_html(m)}</span>"
            for m in texts.problems
        )
        if self.health is not None:
            tip += self.health.tooltip_html()
        return tip

    # -- refreshing from the document --------------------------------------------------------

    def refresh_node(self) -> None:
        """Re-read type, label and position from the design."""
        node = self.canvas.document.design.node(self.node_id)
        if node.type == BLOCK_TYPE:
            self.title, self.colour = node_style(self.canvas, node)
            self.type_id = node.type
            self.refresh_ports()
        elif node.type != self.type_id:
            self.type_id = node.type
            self.title, self.colour = self.canvas.type_style(node.type)
            self.refresh_ports()
        self._texts = None
        self.update()
        if self.set_pos_quietly(QPointF(*node.position)):
            self.canvas.node_item_moved(self)

    def refresh_ports(self, slots: list[int] | None = None) -> None:
        """Recompute the input slots (merges grow a spare one) and the node's height."""
        if slots is None:
            design = self.canvas.document.design
            used = sorted({e.port for e in design.in_edges(self.node_id)})
            slots = input_slots(self.type_id, used, block_ports(design, design.node(self.node_id)))
        height = th.node_height(len(slots))
        if slots != self.slot_ports or height != self._height:
            self.slot_ports = slots
            self._height = height
            self.setRect(_RECT_LEFT, -1.0, _RECT_WIDTH, height + 2.0)
            for edge in self.in_edges:
                edge.route()
            for edge in self.out_edges:
                edge.route()

    def refresh_analysis(self) -> None:
        """The analysis changed for this node: redraw with fresh shape, parameters, problems."""
        self._texts = None
        self.update()

    def set_pos_quietly(self, pos: QPointF) -> bool:
        """Move to ``pos`` (no snapping: the document decided it); True when it moved."""
        if self.pos() == pos:
            return False
        self.setPos(pos)
        return True

    # -- painting ----------------------------------------------------------------------------

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        t = self.canvas.theme
        body = QRectF(0.0, 0.0, th.NODE_WIDTH, self._height)
        selected = self.isSelected()
        if _lod(option, painter) < th.DETAIL_LOD:
            self._paint_far(painter, t, body, selected)
            return
        texts = self._ensure_texts()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        width = self._paint_frame(painter, t, body, selected, texts.problems)
        self._paint_header(painter, width)
        self._paint_texts(painter, t, texts)
        self._paint_ports(painter, t)
        if texts.problems:
            self._paint_problem_badge(painter, t)

    def _paint_far(self, painter: QPainter, t: th.Theme, body: QRectF, selected: bool) -> None:
        """Zoomed out: a flat coloured block with its title, outlined when selected or faulty."""
        painter.fillRect(body, self.colour)
        if selected or self.canvas.has_problems(self.node_id):
            pen = QPen(t.highlight if selected else th.ERROR_COLOUR, 6.0)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(body)
        draw_block_titles(painter, t, [(body, self.title)])

    def _paint_frame(
        self, painter: QPainter, t: th.Theme, body: QRectF, selected: bool, problems: list[str]
    ) -> float:
        """Border and body; returns the border's width."""
        # Border = a filled outer shape under the body: filling is far cheaper than stroking.
        if selected:
            border, width = t.highlight, 2.5
        elif problems:
            border, width = th.ERROR_COLOUR, 1.8
        else:
            border, width = t.border, 1.0
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(border)
        painter.drawRoundedRect(
            body.adjusted(-width / 2, -width / 2, width / 2, width / 2),
            th.CORNER + width / 2,
            th.CORNER + width / 2,
        )
        painter.setBrush(t.base)
        painter.drawRoundedRect(
            body.adjusted(width / 2, width / 2, -width / 2, -width / 2),
            th.CORNER - width / 2,
            th.CORNER - width / 2,
        )
        if self.type_id == BLOCK_TYPE:  # a block: double border
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(self.colour, 1.2))
            painter.drawRoundedRect(body.adjusted(3.5, 3.5, -3.5, -3.5), th.CORNER, th.CORNER)
            painter.setPen(Qt.PenStyle.NoPen)
        return width

    def _paint_header(self, painter: QPainter, width: float) -> None:
        """Header in the type's colour: rounded on top, square where it meets the body."""
        inset = width / 2
        painter.setBrush(self.colour)
        painter.drawRoundedRect(
            QRectF(inset, inset, th.NODE_WIDTH - width, th.HEADER_HEIGHT),
            th.CORNER - inset,
            th.CORNER - inset,
        )
        painter.fillRect(
            QRectF(inset, th.HEADER_HEIGHT - th.CORNER, th.NODE_WIDTH - width, th.CORNER),
            self.colour,
        )

    def header_title(self) -> QStaticText:
        """The title as the header shows it: cut short of the problem badge and of the health
        strip when they are shown."""
        texts = self._ensure_texts()
        if self.health is None:
            return texts.title
        return self.canvas.title_text(self.title, texts.room - STRIP_WIDTH - 6.0)

    def _paint_texts(self, painter: QPainter, t: th.Theme, texts: _NodeTexts) -> None:
        """Title in the header; label, shape and parameter count in the body."""
        painter.setFont(t.title_font)
        painter.setPen(_WHITE)
        painter.drawStaticText(QPointF(8.0, t.title_top), self.header_title())
        painter.setFont(t.body_font)
        y = th.HEADER_HEIGHT + 3.0 + t.body_top
        for text, colour in (
            (texts.label_static, t.muted if texts.label_is_id else t.text),
            (texts.shape_static, th.ERROR_COLOUR if texts.shape == "→ ?" else t.text),
            (texts.params_static, t.muted),
        ):
            painter.setPen(colour)
            painter.drawStaticText(QPointF(10.0, y), text)
            y += th.LINE_HEIGHT

    def _paint_problem_badge(self, painter: QPainter, t: th.Theme) -> None:
        """A white-rimmed red disc with "!" at the header's right end."""
        centre = QPointF(th.NODE_WIDTH - 12.0, th.HEADER_HEIGHT / 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_WHITE)
        painter.drawEllipse(centre, 8.5, 8.5)
        painter.setBrush(th.ERROR_COLOUR)
        painter.drawEllipse(centre, 7.3, 7.3)
        painter.setFont(t.title_font)
        painter.setPen(_WHITE)
        painter.drawText(
            QRectF(centre.x() - 7.5, centre.y() - 7.5, 15.0, 15.0),
            Qt.AlignmentFlag.AlignCenter,
            "!",
        )

    def _paint_ports(self, painter: QPainter, t: th.Theme) -> None:
        """Ports as filled discs (cheaper than stroked circles): hollow while unconnected."""
        painter.setPen(Qt.PenStyle.NoPen)
        connected = {e.edge.port for e in self.in_edges}
        r = th.PORT_RADIUS
        for port in self.slot_ports:
            centre = QPointF(0.0, self.input_port_y(port))
            verdict = self.canvas.port_verdict(self.node_id, port)
            if verdict is True:
                painter.setBrush(th.OK_COLOUR)
                painter.drawEllipse(centre, r + 2.5, r + 2.5)
                continue
            painter.setBrush(th.ERROR_COLOUR if verdict is False else t.edge)
            painter.drawEllipse(centre, r, r)
            if verdict is False or port not in connected:
                painter.setBrush(t.base)
                painter.drawEllipse(centre, r - 1.6, r - 1.6)
        centre = self.output_port_pos()
        painter.setBrush(t.edge)
        painter.drawEllipse(centre, r, r)
        if not self.out_edges:
            painter.setBrush(t.base)
            painter.drawEllipse(centre, r - 1.6, r - 1.6)


class _NodeTexts:
    """What a node prints, from the design and the analysis, elided to the node's width."""

    def __init__(self, item: NodeItem) -> None:
        canvas = item.canvas
        node = canvas.document.design.node(item.node_id)
        self.label = node.label or node.id
        self.label_is_id = not node.label
        analysis = canvas.document.analysis
        info = analysis.info.get(item.node_id)
        if info is None:
            self.shape, self.params, self.problems = "→ ?", "", []
        else:
            self.shape = "→ " + fmt_shape(info.output_shape) if info.output_shape else "→ ?"
            if node.type == BLOCK_TYPE and info.output_shape:
                ins = ", ".join(_dims(s) for s in info.input_shapes) or "?"
                self.shape = f"{ins} → {_dims(info.output_shape)}"
            self.params = f"{info.params:,} parameters" if info.params else "no parameters"
            self.problems = [_problem_text(p) for p in info.problems]
            self.problems += [
                _problem_text(p) for p in analysis.design_problems if p.node == item.node_id
            ]
        t = canvas.theme
        room = th.NODE_WIDTH - 16 - (18 if self.problems else 0)
        body = th.NODE_WIDTH - 18
        self.room = room
        self.title = canvas.title_text(item.title, room)
        self.label_static = _static(_elide(t, self.label, body))
        self.shape_static = _static(_elide(t, self.shape, body))
        self.params_static = _static(_elide(t, self.params, body))


def _dims(shape) -> str:
    """A block's shape in its node, compact so input and output fit: ``16×8×8``."""
    return "×".join(str(d) for d in shape) if shape else "?"


def _static(text: str) -> QStaticText:
    """Pre-laid-out text: drawing it is several times cheaper than drawText."""
    static = QStaticText(text)
    static.setTextFormat(Qt.TextFormat.PlainText)
    return static


def _elide(t: th.Theme, text: str, width: float) -> str:
    if t.body_metrics.horizontalAdvance(text) <= width:
        return text
    return t.body_metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)


def _problem_text(problem) -> str:
    return problem.message + (f" — {problem.fix}" if problem.fix else "")


def input_slots(type_id: str, used: list[int], ports: int | None = None) -> list[int]:
    """Input ports a node shows, top to bottom, given the ports its edges use (sorted);
    ``ports``: a block instance's input count."""
    if ports is not None:
        return list(range(ports)) + [p for p in used if p >= ports]
    spec = REGISTRY.get(type_id) if type_id in REGISTRY else None
    if spec is None:
        return list(used)
    if spec.variadic:
        n = len(spec.port_names(len(used)))
        slots = list(used)
        free = 0
        while len(slots) < n:
            if free not in used:
                slots.append(free)
            free += 1
        return slots
    return list(range(spec.inputs)) + [p for p in used if p >= spec.inputs]


class EdgeItem(QGraphicsItem):
    """A wire from a node's output port to another's input port, labelled with its shape.

    Only the end points are kept up to date; the curve is built when first needed (painting in
    detail, hit tests), so a large design opens fast. The label sits on the wire's midpoint,
    drawn when zoomed in and where it fits between the nodes; the tooltip always tells the shape.
    """

    # Until set on the item (attribute sets on Qt items cost, and a big design has tens of
    # thousands of wires): no label, curve or hit shape worked out yet, no return lane.
    _label: str | None = None
    _label_static: QStaticText | None = None
    _label_width = 0.0
    _lane: float | None = None
    _path: QPainterPath | None = None
    _hit_shape: QPainterPath | None = None
    flow_pen: QPen | None = None  # gradient flow (gui/canvas/health.py), when shown

    def __init__(
        self,
        canvas: CanvasScene,
        edge: Edge,
        source: NodeItem,
        target: NodeItem,
        ends: tuple[float, float, float, float, float | None] | None = None,
    ) -> None:
        """``ends``: :func:`wire_ends` when the caller knows the nodes' positions already."""
        super().__init__()
        self.canvas = canvas
        self.edge = edge
        self.source = source
        self.target = target
        self.setFlags(_EDGE_FLAGS_OVERVIEW if canvas.overview_on else _EDGE_FLAGS)
        self.setZValue(-1.0)
        # Not in a scene yet: no prepareGeometryChange, and no curve or hit shape to drop.
        self._set_ends(*(self._ends() if ends is None else ends))

    def _ends(self) -> tuple[float, float, float, float, float | None]:
        """The wire's end points in scene coordinates and its return lane (None: forward)."""
        s, t = self.source.pos(), self.target.pos()
        return wire_ends(self.source, s.x(), s.y(), self.target, t.x(), t.y(), self.edge.port)

    def _place(self, x1: float, y1: float, x2: float, y2: float, lane: float | None) -> None:
        """Take these end points and lane: the curve is rebuilt lazily, the box now."""
        self._path = None
        self._hit_shape = None
        self.prepareGeometryChange()
        self._set_ends(x1, y1, x2, y2, lane)

    def _set_ends(self, x1: float, y1: float, x2: float, y2: float, lane: float | None) -> None:
        self.ends = (x1, y1, x2, y2)  # in scene coordinates
        self._lane = lane
        # The label is centred on the wire's midpoint, which lies inside the wire's box.
        left, top, right, bottom = wire_box(x1, y1, x2, y2, lane)
        self.box = (left - 3.0, top - 9.0, right + 3.0, bottom + 9.0)  # _bounds as edges
        self._bounds = QRectF(left - 3.0, top - 9.0, right - left + 6.0, bottom - top + 18.0)

    @property
    def label(self) -> str:
        """The shape the wire carries, ``(N, 64)``; empty while unknown."""
        if self._label is None:
            info = self.canvas.document.analysis.info.get(self.edge.source)
            shape = info.output_shape if info else None
            self._label = fmt_shape(shape) if shape is not None else ""
        return self._label

    def tooltip_text(self) -> str:
        """``conv1 → pool (input 1): (N, 16, 8, 8)``."""
        e = self.edge
        return f"{e.source} → {e.target} (input {e.port + 1}): " + (self.label or "shape unknown")

    def route(self) -> None:
        """Follow the current port positions (the curve itself is rebuilt lazily)."""
        x1, y1, x2, y2, lane = ends = self._ends()
        if (x1, y1, x2, y2) == self.ends and lane == self._lane:
            return
        self._place(*ends)

    def path(self) -> QPainterPath:
        """The wire's curve in scene coordinates."""
        if self._path is None:
            self._path = wire_path(*self.ends, self._lane)
        return self._path

    def straight_lines(self) -> list[QLineF]:
        """The wire drawn cheaply when zoomed out: one line, or the return lane's legs."""
        x1, y1, x2, y2 = self.ends
        lane = self._lane
        if lane is None:
            return [QLineF(x1, y1, x2, y2)]
        a, b = x1 + WIRE_STUB, x2 - WIRE_STUB
        points = [
            QPointF(x1, y1),
            QPointF(a, y1),
            QPointF(a, lane),
            QPointF(b, lane),
            QPointF(b, y2),
            QPointF(x2, y2),
        ]
        return [QLineF(p, q) for p, q in zip(points, points[1:])]

    def refresh_label(self) -> None:
        """The source's shape changed: re-read the label on the next paint."""
        self._label = None
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._hit_shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10.0)
            self._hit_shape = stroker.createStroke(self.path())
        return self._hit_shape

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        t = self.canvas.theme
        lod = _lod(option, painter)
        selected = self.isSelected()
        x1, y1, x2, y2 = self.ends
        if lod < th.DETAIL_LOD:
            painter.setPen(t.highlight_cosmetic if selected else t.edge_cosmetic)
            painter.drawLines(self.straight_lines())
            return
        path = self.path()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(t.edge_selected_pen if selected else self.flow_pen or t.edge_pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(path)
        if lod < th.EDGE_LABEL_LOD or not self.label:
            return
        if self._label_static is None or self._label_static.text() != self.label:
            self._label_static = _static(self.label)
            self._label_width = t.small_metrics.horizontalAdvance(self.label) + 8
        width = self._label_width
        if abs(x2 - x1) - 2 * th.PORT_RADIUS < width + 6:
            return  # no room between the two nodes
        mid = path.pointAtPercent(0.5)
        rect = QRectF(mid.x() - width / 2, mid.y() - 7, width, 14)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(t.edge)
        painter.drawRoundedRect(rect.adjusted(-0.8, -0.8, 0.8, 0.8), 4.8, 4.8)
        painter.setBrush(t.canvas)
        painter.drawRoundedRect(rect, 4, 4)
        painter.setFont(t.small_font)
        painter.setPen(t.muted)
        painter.drawStaticText(
            QPointF(rect.left() + 4, rect.top() + t.small_top), self._label_static
        )


def _bend(x1: float, x2: float) -> float:
    """Horizontal reach of a wire's control points: wires leave and enter ports level."""
    return max(40.0, abs(x2 - x1) * 0.5)


# A wire whose target is not to the right of its source leaves its port by this much, runs back
# along a horizontal lane between the nodes and enters the target's port level (like a wrapped
# line of text), rather than a curve swinging across the nodes.
WIRE_STUB = 20.0
WIRE_CORNER = 10.0
LANE_CLEARANCE = 24.0


def wire_ends(
    source: NodeItem, sx: float, sy: float, target: NodeItem, tx: float, ty: float, port: int
) -> tuple[float, float, float, float, float | None]:
    """A wire's end points in scene coordinates and its return lane (None: forward), from its
    nodes at (sx, sy) and (tx, ty) into input ``port``."""
    x1 = sx + th.NODE_WIDTH
    y1 = sy + source.output_port_y()
    y2 = ty + target.input_port_y(port)
    if forward(x1, y1, tx, y2):  # most wires: no lane to find
        return x1, y1, tx, y2, None
    lane = wire_lane(x1, y1, tx, y2, (sy, sy + source._height), (ty, ty + target._height))
    return x1, y1, tx, y2, lane


def forward(x1: float, y1: float, x2: float, y2: float) -> bool:
    """Whether a wire from (x1, y1) to (x2, y2) is drawn as a curve: its target well right of
    its source, or right of it and level with it (two nodes side by side, a short straight
    wire, not a loop under them)."""
    return x2 >= x1 + 2 * WIRE_STUB or (x2 > x1 and abs(y2 - y1) < 0.5)


def wire_lane(
    x1: float,
    y1: float,
    x2: float,
    y2: float,
    source_span: tuple[float, float],
    target_span: tuple[float, float],
) -> float | None:
    """Height of the return lane of a backward wire (None for a :func:`forward` wire).

    ``*_span`` are the (top, bottom) of the two nodes: the lane runs in the gap between them, or
    below both when they overlap in height.
    """
    if forward(x1, y1, x2, y2):
        return None
    (s_top, s_bottom), (t_top, t_bottom) = source_span, target_span
    if t_top >= s_bottom:
        return (s_bottom + t_top) / 2
    if s_top >= t_bottom:
        return (t_bottom + s_top) / 2
    return max(s_bottom, t_bottom) + LANE_CLEARANCE


def wire_path(x1: float, y1: float, x2: float, y2: float, lane: float | None) -> QPainterPath:
    """A wire from an output port at (x1, y1) to an input port at (x2, y2)."""
    if lane is None:
        dx = _bend(x1, x2)
        path = QPainterPath(QPointF(x1, y1))
        path.cubicTo(QPointF(x1 + dx, y1), QPointF(x2 - dx, y2), QPointF(x2, y2))
        return path
    a, b = x1 + WIRE_STUB, x2 - WIRE_STUB
    return _rounded([(x1, y1), (a, y1), (a, lane), (b, lane), (b, y2), (x2, y2)], WIRE_CORNER)


def wire_box(
    x1: float, y1: float, x2: float, y2: float, lane: float | None
) -> tuple[float, float, float, float]:
    """(left, top, right, bottom) of a box that holds :func:`wire_path` (no path is built)."""
    if lane is None:
        dx = _bend(x1, x2)
        return min(x1, x2 - dx), min(y1, y2), max(x1 + dx, x2), max(y1, y2)
    return min(x2 - WIRE_STUB, x1), min(y1, y2, lane), max(x1 + WIRE_STUB, x2), max(y1, y2, lane)


def wire_bounds(x1: float, y1: float, x2: float, y2: float, lane: float | None) -> QRectF:
    """A box that holds :func:`wire_path` (cheap: no path is built)."""
    left, top, right, bottom = wire_box(x1, y1, x2, y2, lane)
    return QRectF(left, top, right - left, bottom - top)


def _rounded(points: list[tuple[float, float]], radius: float) -> QPainterPath:
    """A polyline through ``points`` with its corners rounded (radius shrinks on short legs)."""
    path = QPainterPath(QPointF(*points[0]))
    for i in range(1, len(points) - 1):
        px, py = points[i - 1]
        cx, cy = points[i]
        nx_, ny = points[i + 1]
        before = max(abs(cx - px), abs(cy - py))
        after = max(abs(nx_ - cx), abs(ny - cy))
        r = min(radius, before / 2, after / 2)
        if r <= 0.0:
            path.lineTo(cx, cy)
            continue
        path.lineTo(cx - r * _sign(cx - px), cy - r * _sign(cy - py))
        path.quadTo(QPointF(cx, cy), QPointF(cx + r * _sign(nx_ - cx), cy + r * _sign(ny - cy)))
    path.lineTo(QPointF(*points[-1]))
    return path


def _sign(value: float) -> float:
    return (value > 0) - (value < 0)


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

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
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
            painter.drawText(
                QRectF(rect.left() + 14, rect.top() + 4, rect.width() - 28, self.TITLE_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                self.title,
            )


class OverviewItem(QGraphicsItem):
    """The whole design drawn in one pass when zoomed far out (the per-item paints are off).

    Nodes become blocks in their category colours, wires straight lines, selected and invalid
    nodes are outlined. The lists are rebuilt lazily after a change, on the next paint.
    """

    def __init__(self, canvas: CanvasScene) -> None:
        super().__init__()
        self.canvas = canvas
        self._dirty = True
        self._bounds = QRectF()
        self._rects: dict[int, tuple[QColor, list[QRectF]]] = {}
        self._titles: list[tuple[QRectF, str]] = []
        self._lines: list[QLineF] = []
        self._selected: list[QRectF] = []
        self._invalid: list[QRectF] = []
        self.setZValue(-5.0)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        # Cached in device pixels: a pan scrolls the picture and draws only the new strip.
        self.setCacheMode(_DEVICE_CACHE)
        self.setFlag(_FLAG.ItemUsesExtendedStyleOption, True)  # exposedRect: titles in view only
        self.setVisible(False)

    def invalidate(self) -> None:
        """Something changed: rebuild before the next paint."""
        self._dirty = True
        if self.isVisible():
            self.update()

    def set_bounds(self, rect: QRectF) -> None:
        """The area the overview may draw in (the scene rect)."""
        if rect != self._bounds:
            self.prepareGeometryChange()
            self._bounds = QRectF(rect)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def _rebuild(self) -> None:
        canvas = self.canvas
        rects: dict[int, tuple[QColor, list[QRectF]]] = {}
        selected, invalid, titles = [], [], []
        problems = canvas.problem_node_ids()
        chosen = {i for i in canvas.selectedItems() if isinstance(i, NodeItem)}
        width = th.NODE_WIDTH
        for node_id, item in canvas.nodes.items():
            pos = item.pos()
            rect = QRectF(pos.x(), pos.y(), width, item._height)
            colour = item.colour
            bucket = rects.get(id(colour))
            if bucket is None:
                bucket = rects[id(colour)] = (colour, [])
            bucket[1].append(rect)
            titles.append((rect, item.title))
            if item in chosen:
                selected.append(rect)
            elif node_id in problems:
                invalid.append(rect)
        lines = []
        for item in canvas.edges.values():
            lines.extend(item.straight_lines())
        self._rects, self._lines, self._titles = rects, lines, titles
        self._selected, self._invalid = selected, invalid
        self._dirty = False

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._dirty:
            self._rebuild()
        t = self.canvas.theme
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(t.edge_cosmetic)
        painter.drawLines(self._lines)
        painter.setPen(Qt.PenStyle.NoPen)
        for colour, rects in self._rects.values():
            painter.setBrush(colour)
            painter.drawRects(rects)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if self._invalid:
            pen = QPen(th.ERROR_COLOUR, 2.0)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawRects(self._invalid)
        if self._selected:
            painter.setPen(t.highlight_cosmetic)
            painter.drawRects(self._selected)
        exposed = option.exposedRect
        draw_block_titles(
            painter, t, [(r, title) for r, title in self._titles if exposed.intersects(r)]
        )


BLOCK_TITLE_PX = 10  # the type name on a zoomed-out block, in screen pixels (readable, ≥ 9)


def draw_block_titles(painter: QPainter, t: th.Theme, blocks: list[tuple[QRectF, str]]) -> None:
    """Write each block's layer type on it in screen-sized text, where the block has room."""
    transform = painter.worldTransform()
    if transform.m11() * th.NODE_WIDTH < 4 * BLOCK_TITLE_PX or not blocks:
        return
    font = block_title_font(t)
    metrics = QFontMetricsF(font)
    if transform.m22() * th.node_height(1) < metrics.height() + 2:
        return
    painter.save()
    painter.resetTransform()
    painter.setFont(font)
    painter.setPen(_WHITE)
    flags = Qt.AlignmentFlag.AlignCenter
    for rect, title in blocks:
        box = transform.mapRect(rect).adjusted(3, 0, -3, 0)
        text = metrics.elidedText(title, Qt.TextElideMode.ElideRight, box.width())
        if len(text) > 2:  # more than an ellipsis
            painter.drawText(box, flags, text)
    painter.restore()


def block_title_font(t: th.Theme) -> QFont:
    """The font of a zoomed-out block's title (its size in pixels, whatever the zoom)."""
    font = QFont(t.title_font)
    font.setPixelSize(BLOCK_TITLE_PX)
    return font


class NoteItem(QGraphicsItem):
    """A short note beside the pointer, in the error colour, the same size at any zoom (why a
    dragged wire cannot connect where it hovers). Long reasons wrap; the note flips to the
    pointer's left or above it where the view's edge is near."""

    OFFSET = QPointF(16.0, 18.0)  # screen pixels below right of the pointer
    PAD = 6.0
    MAX_WIDTH = 380.0

    def __init__(self, theme: th.Theme) -> None:
        super().__init__()
        self.theme = theme
        self.text = ""
        self._size = QRectF()
        self._rect = QRectF()
        self._flip = (False, False)
        self.setFlag(_FLAG.ItemIgnoresTransformations, True)
        self.setZValue(30.0)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def set_text(self, text: str) -> None:
        """Show ``text`` (wrapped to at most MAX_WIDTH pixels)."""
        if text == self.text:
            return
        self.text = text
        box = self.theme.body_metrics.boundingRect(
            QRectF(0, 0, self.MAX_WIDTH, 10_000.0), int(Qt.TextFlag.TextWordWrap), text
        )
        self._size = QRectF(0, 0, box.width() + 2 * self.PAD, box.height() + 2 * self.PAD)
        self._relayout()

    def size(self) -> QRectF:
        """The note's box in screen pixels (at the origin)."""
        return QRectF(self._size)

    def set_flip(self, left: bool, up: bool) -> None:
        """Put the note left of / above the pointer instead of right / below."""
        if (left, up) != self._flip:
            self._flip = (left, up)
            self._relayout()

    def _relayout(self) -> None:
        w, h = self._size.width(), self._size.height()
        x = -self.OFFSET.x() - w if self._flip[0] else self.OFFSET.x()
        y = -self.OFFSET.y() / 2 - h if self._flip[1] else self.OFFSET.y()
        self.prepareGeometryChange()
        self._rect = QRectF(x, y, w, h)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._rect.adjusted(-1, -1, 1, 1)

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(th.ERROR_COLOUR, 1.2))
        painter.setBrush(self.theme.base)
        painter.drawRoundedRect(self._rect, 4, 4)
        painter.setFont(self.theme.body_font)
        painter.setPen(th.ERROR_COLOUR)
        inner = self._rect.adjusted(self.PAD, self.PAD, -self.PAD, -self.PAD)
        painter.drawText(inner, int(Qt.TextFlag.TextWordWrap), self.text)


class LinkItem(QGraphicsPathItem):
    """A dashed connector the canvas draws between two networks where training, not an edge,
    passes data (a GAN's generator output → discriminator input). Not editable: it cannot be
    selected, moved or deleted; it follows the two nodes and explains itself in its tooltip."""

    def __init__(
        self, canvas: CanvasScene, source: NodeItem, target: NodeItem, label: str, tip: str
    ) -> None:
        super().__init__()
        self._mid = QPointF()
        self.canvas = canvas
        self.source = source
        self.target = target
        self.label = label
        self.tip = tip
        self.setToolTip(tip)
        pen = QPen(canvas.theme.muted, 1.6, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self.setPen(pen)
        self.setZValue(-2.0)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.route()

    def route(self) -> None:
        """Follow the two nodes: from the source's output port to the target's left side."""
        s, t = self.source.pos(), self.target.pos()
        x1, y1 = s.x() + th.NODE_WIDTH, s.y() + self.source.output_port_y()
        x2, y2 = t.x(), t.y() + self.target.output_port_y()
        lane = wire_lane(
            x1, y1, x2, y2, (s.y(), s.y() + self.source.height), (t.y(), t.y() + self.target.height)
        )
        path = wire_path(x1, y1, x2, y2, lane)
        self._mid = path.pointAtPercent(0.5)
        self.setPath(path)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return super().boundingRect().united(self._label_rect())

    def _label_rect(self) -> QRectF:
        width = self.canvas.theme.body_metrics.horizontalAdvance(self.label) + 12
        return QRectF(self._mid.x() - width / 2, self._mid.y() - 9, width, 18)

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(10.0)
        shape = stroker.createStroke(self.path())
        shape.addRect(self._label_rect())
        return shape

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(self.pen())
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path())
        if _lod(option, painter) < th.DETAIL_LOD:
            return
        t = self.canvas.theme
        rect = self._label_rect()
        painter.setBrush(t.canvas)
        painter.drawRoundedRect(rect, 5, 5)
        painter.setFont(t.body_font)
        painter.setPen(t.muted)
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.label)


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

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
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
