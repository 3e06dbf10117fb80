"""Connect-drag for the canvas scene: dragging a wire from an output port to an input.

:class:`WiringMixin` judges the input ports a drag may land on (``Document.can_connect``), follows
the pointer with a dashed wire, explains a refusing port in a note beside the pointer and connects on
release, replacing the wire that already fed that input (one undo step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem

from engine.graph import Edge
from gui import commands as cmd
from gui.canvas.items import NodeItem, NoteItem

# At most this many nodes get their ports judged when a connection drag starts; others are judged
# when the pointer reaches them.
PREJUDGE_LIMIT = 400


@dataclass
class _ConnectionDrag:
    """State of one drag from an output port."""

    source: str
    ancestors: set[str]
    line: QGraphicsPathItem
    verdicts: dict[tuple[str, int], tuple[bool, str]] = field(default_factory=dict)
    judged: set[str] = field(default_factory=set)
    hover: tuple[str, int] | None = None
    note: NoteItem | None = None  # the refusal's reason, beside the pointer


class WiringMixin:
    """Connection dragging for :class:`~gui.canvas.scene.CanvasScene` (uses its ``document``,
    ``nodes``, ``theme``, ``node_at`` and status signals); state lives in ``self._drag``."""

    _drag: _ConnectionDrag | None = None

    def port_verdict(self, node_id: str, port: int) -> bool | None:
        """During a connection drag: whether input ``port`` of ``node_id`` accepts it (if judged)."""
        if self._drag is None:
            return None
        verdict = self._drag.verdicts.get((node_id, port))
        return None if verdict is None else verdict[0]

    def connect_ports(self, source_id: str, target_id: str, port: int) -> tuple[bool, str]:
        """Connect if allowed, replacing the wire that feeds that input (one undo step);
        returns (done, message for the status bar)."""
        doc = self.document
        ok, reason = doc.can_connect(source_id, target_id, port, replace=True)
        if not ok:
            message = f"Cannot connect {source_id} → {target_id}: {reason}"
            self.statusKept.emit(message)
            return False, message
        edge = Edge(source_id, target_id, port)
        fed = [e for e in doc.design.in_edges(target_id) if e.port == port]
        if fed:
            doc.push(cmd.ReplaceEdge(doc, edge))
            message = (
                f"Connected {source_id} → {target_id} (replaces the wire from {fed[0].source})"
            )
        else:
            doc.push(cmd.Connect(doc, edge))
            message = f"Connected {source_id} → {target_id}"
        self.statusMessage.emit(message)
        return True, message

    # -- connection dragging -----------------------------------------------------------------

    def begin_connection(self, source_id: str, views_rect: QRectF | None = None) -> None:
        """Start dragging a wire from ``source_id``'s output; judges ports in ``views_rect``."""
        self._cancel_connection(quiet=True)
        source = self.nodes[source_id]
        line = QGraphicsPathItem()
        pen = QPen(self.theme.highlight, 2.0, Qt.PenStyle.DashLine)
        line.setPen(pen)
        line.setZValue(20.0)
        self.addItem(line)
        ancestors = nx.ancestors(self.document.design.graph, source_id)
        self._drag = _ConnectionDrag(source_id, ancestors, line)
        start = source.mapToScene(source.output_port_pos())
        self._draw_line(start, start)
        rect = views_rect if views_rect is not None else self._visible_rect()
        if rect is not None:
            candidates = [i for i in self.items(rect) if isinstance(i, NodeItem)]
            for item in candidates[:PREJUDGE_LIMIT]:
                self._judge(item)
        self.statusMessage.emit(
            f"Connect {source_id}: release over an input port (green accepts); elsewhere cancels"
        )

    def _visible_rect(self) -> QRectF | None:
        rect = None
        for view in self.views():
            r = view.mapToScene(view.viewport().rect()).boundingRect()
            rect = r if rect is None else rect.united(r)
        return rect

    def _judge(self, item: NodeItem) -> None:
        drag = self._drag
        if drag is None or item.node_id in drag.judged:
            return
        drag.judged.add(item.node_id)
        for port in item.slot_ports:
            drag.verdicts[(item.node_id, port)] = self.document.can_connect(
                drag.source, item.node_id, port, ancestors=drag.ancestors, replace=True
            )
        item.update()

    def _draw_line(self, start: QPointF, end: QPointF) -> None:
        path = QPainterPath(start)
        dx = max(40.0, abs(end.x() - start.x()) * 0.5)
        if end.x() < start.x():  # dragged back to the left: a short S, not a swing off screen
            dx = min(dx, 80.0)
        path.cubicTo(QPointF(start.x() + dx, start.y()), QPointF(end.x() - dx, end.y()), end)
        assert self._drag is not None
        self._drag.line.setPath(path)

    def update_connection(self, pos: QPointF) -> None:
        """Follow the pointer: snap to an accepting port, explain a refusing one beside it."""
        drag = self._drag
        if drag is None:
            return
        source = self.nodes[drag.source]
        start = source.mapToScene(source.output_port_pos())
        target = self.node_at(pos)
        hover = None
        end = pos
        refusal = ""
        if target is not None and target.node_id != drag.source and target.slot_ports:
            self._judge(target)
            local = target.mapFromScene(pos)
            on_port = target.port_at(local)
            if on_port and on_port[0] == "in":
                port = on_port[1]
            else:
                accepting = [p for p in target.slot_ports if drag.verdicts[(target.node_id, p)][0]]
                port = accepting[0] if accepting else target.nearest_input_port(local)
            hover = (target.node_id, port)
            ok, reason = drag.verdicts[hover]
            if ok:
                end = target.mapToScene(target.input_port_pos(port))
            else:
                refusal = reason
        elif target is not None and target.node_id != drag.source:
            hover = (target.node_id, -1)
            refusal = f"'{target.node_id}' is an Input; it takes no incoming edges"
        self._draw_line(start, end)
        self._show_note(pos, f"Cannot connect: {refusal}" if refusal else "")
        if hover == drag.hover:
            return
        drag.hover = hover
        if hover is None:
            self.statusMessage.emit(
                f"Connect {drag.source}: release over an input port; elsewhere cancels"
            )
        elif refusal:
            self.statusKept.emit(f"Cannot connect {drag.source} → {hover[0]}: {refusal}")
        else:
            fed = [e.source for e in self.document.design.in_edges(hover[0]) if e.port == hover[1]]
            replaces = f"; replaces the wire from {fed[0]}" if fed else ""
            self.statusMessage.emit(
                f"Release to connect {drag.source} → {hover[0]} (input {hover[1] + 1}){replaces}"
            )

    def _show_note(self, pos: QPointF, text: str) -> None:
        """Show ``text`` beside the pointer at ``pos`` (hide it when empty)."""
        drag = self._drag
        if drag is None:
            return
        if not text:
            if drag.note is not None:
                drag.note.setVisible(False)
            return
        if drag.note is None:
            drag.note = NoteItem(self.theme)
            self.addItem(drag.note)
        note = drag.note
        note.set_text(text)
        note.setPos(pos)
        views = self.views()
        if views:  # keep it inside the view: flip it to the pointer's other side near an edge
            view = views[0]
            at = view.mapFromScene(pos)
            room = view.viewport().rect()
            size = note.size()
            note.set_flip(
                at.x() + note.OFFSET.x() + size.width() > room.right(),
                at.y() + note.OFFSET.y() + size.height() > room.bottom(),
            )
        note.setVisible(True)

    @property
    def refusal_note(self) -> NoteItem | None:
        """The note beside the pointer while a dragged wire hovers a refusing input."""
        drag = self._drag
        if drag is None or drag.note is None or not drag.note.isVisible():
            return None
        return drag.note

    def finish_connection(self, pos: QPointF) -> bool:
        """Drop the wire at ``pos``: connect when the port there accepts (replacing the wire
        that fed it); otherwise cancel, keeping the reason in the status bar."""
        drag = self._drag
        if drag is None:
            return False
        self.update_connection(pos)
        hover = drag.hover
        verdict = drag.verdicts.get(hover) if hover else None
        self._cancel_connection(quiet=True)
        if hover is not None and verdict is not None and verdict[0]:
            ok, _ = self.connect_ports(drag.source, hover[0], hover[1])
            return ok
        if verdict is not None:
            self.statusKept.emit(f"Not connected: {verdict[1]}")
        elif hover is not None and hover[1] == -1:
            self.statusKept.emit(
                f"Not connected: '{hover[0]}' is an Input; it takes no incoming edges"
            )
        else:
            self.statusMessage.emit("Connection cancelled")
        return False

    def _cancel_connection(self, quiet: bool = False) -> None:
        drag = self._drag
        if drag is None:
            return
        self._drag = None
        for item in (drag.line, drag.note):
            if item is None:
                continue
            try:
                self.removeItem(item)
            except RuntimeError:
                pass
        for node_id in drag.judged:
            item = self.nodes.get(node_id)
            if item is not None:
                item.update()
        if not quiet:
            self.statusMessage.emit("Connection cancelled")

    @property
    def connecting(self) -> bool:
        """True while a wire is being dragged."""
        return self._drag is not None
