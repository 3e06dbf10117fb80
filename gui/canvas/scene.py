"""The canvas scene: draws a :class:`~gui.document.Document` and turns gestures into commands.

The scene keeps ``node id → NodeItem`` and ``Edge → EdgeItem``, follows the document's signals to
add, remove and refresh exactly the affected items, and never writes the design itself: moving,
connecting, deleting, pasting, relabelling and laying out all push :mod:`gui.commands`.
Dragging a wire lives in :mod:`gui.canvas.wiring`, the clipboard in :mod:`gui.canvas.clipboard`.
"""

from __future__ import annotations

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen, QStaticText
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneHelpEvent,
    QGraphicsSceneMouseEvent,
    QMenu,
    QToolTip,
)

from engine.graph import Edge
from engine.layers import REGISTRY
from engine.shapes import network_inputs, network_outputs
from gui import commands as cmd
from gui.canvas import theme as th
from gui.canvas.clipboard import FRAGMENT_MIME, PASTE_STEP, ClipboardMixin  # noqa: F401 (re-exported)
from gui.canvas.items import (
    EdgeItem,
    GroupItem,
    LabelEditor,
    LinkItem,
    NodeItem,
    OverviewItem,
    block_ports,
    input_slots,
    wire_ends,
)
from gui.canvas.layout import layered_layout
from gui.canvas.wiring import PREJUDGE_LIMIT, WiringMixin, _ConnectionDrag  # noqa: F401 (re-exported)
from gui.document import Document, gc_paused

LAYER_MIME = "application/x-deepwire-layer"
# Room to scroll around the design, in scene units.
SCENE_MARGIN = 3000.0


class CanvasScene(WiringMixin, ClipboardMixin, QGraphicsScene):
    """Graphics scene observing one document; ``statusMessage`` explains what a gesture does,
    ``statusKept`` says why one was refused (to stay in the status bar until the next message)."""

    statusMessage = Signal(str)
    statusKept = Signal(str)
    layoutApplied = Signal()  # auto-layout moved the nodes: views frame the design again
    blockOpened = Signal(str)  # double-click on a block instance: show its inside
    #: ``hook(menu, node_id)`` adds entries to a node's context menu (gui/canvas/blocks.py)
    node_menu_hook = None

    def __init__(self, document: Document, parent=None) -> None:
        super().__init__(parent)
        self.document = document
        self.theme = th.Theme.from_palette()
        self.snap_to_grid = True
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self.groups: dict[str, GroupItem] = {}
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setBackgroundBrush(self.theme.canvas)
        self._drag: _ConnectionDrag | None = None
        self._press: dict[str, QPointF] | None = None
        self._drag_serial = 0
        self._editor: LabelEditor | None = None
        self._paste_count = 0
        self._dirty_groups: set[str] = set()
        self._overview_on = False
        self._type_styles: dict[str, tuple[str, QColor]] = {}
        self._titles: dict[tuple[str, float], QStaticText] = {}
        self.overview: OverviewItem | None = None
        self.links: list[LinkItem] = []
        self._layout_columns = None
        self._group_timer = QTimer(self)
        self._group_timer.setSingleShot(True)
        self._group_timer.setInterval(0)
        self._group_timer.timeout.connect(self._refresh_groups)
        document.nodeAdded.connect(self._on_node_added)
        document.nodeRemoved.connect(self._on_node_removed)
        document.nodeChanged.connect(self._on_node_changed)
        document.edgeAdded.connect(self._on_edge_added)
        document.edgeRemoved.connect(self._on_edge_removed)
        document.analysisChanged.connect(self._on_analysis_changed)
        document.designReset.connect(self.rebuild)
        self.selectionChanged.connect(self._invalidate_overview)
        self.rebuild()

    # -- building ----------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Drop every item and draw the document's design from scratch (after new / open)."""
        with gc_paused():
            self._rebuild()

    def _rebuild(self) -> None:
        self._cancel_connection(quiet=True)
        self._editor = None
        self._press = None
        self.clear()
        self.nodes.clear()
        self.edges.clear()
        self.groups.clear()
        design = self.document.design
        slots: dict[tuple, list[int]] = {}  # (type, ports used): slots, shared (never changed)
        for node in design:
            used = (node.type, *sorted({e.port for e in design.in_edges(node.id)}))
            ports = block_ports(design, node)
            shown = slots.get(used) if ports is None else None
            if shown is None:
                shown = input_slots(node.type, list(used[1:]), ports)
                if ports is None:
                    slots[used] = shown
            item = NodeItem(self, node.id, shown)
            self.addItem(item)
            self.nodes[node.id] = item
        nodes = self.nodes
        for edge in design.edges:  # ends from the design's positions (the items sit there)
            source, target = nodes[edge.source], nodes[edge.target]
            sx, sy = design.node(edge.source).position
            tx, ty = design.node(edge.target).position
            ends = wire_ends(source, sx, sy, target, tx, ty, edge.port)
            self._make_edge(edge, ends)
        self.overview = OverviewItem(self)
        self.addItem(self.overview)
        self.overview.setVisible(self._overview_on)  # items were made in the current mode
        self._dirty_groups = set(design.networks)
        self._refresh_groups()
        self._refresh_links()
        self.update_scene_rect()

    def update_scene_rect(self) -> QRectF:
        """Scrollable area: the content plus a wide margin; returns :meth:`content_rect`."""
        found = content = self.content_rect()
        if content.isNull():
            content = QRectF(-500, -400, 1000, 800)
        m = SCENE_MARGIN
        self.setSceneRect(content.adjusted(-m, -m, m, m))
        if self.overview is not None:
            self.overview.set_bounds(self.sceneRect())
        return found

    def _keep_in_scene_rect(self, item: NodeItem) -> None:
        m = SCENE_MARGIN / 2
        if not self.sceneRect().adjusted(m, m, -m, -m).contains(item.sceneBoundingRect()):
            self.update_scene_rect()

    def _make_edge(self, edge: Edge, ends: tuple | None = None) -> EdgeItem:
        source, target = self.nodes[edge.source], self.nodes[edge.target]
        item = EdgeItem(self, edge, source, target, ends)
        self.addItem(item)
        self.edges[edge] = item
        source.out_edges.append(item)
        target.in_edges.append(item)
        return item

    # -- shared drawing resources and the overview -------------------------------------------

    def type_style(self, type_id: str) -> tuple[str, QColor]:
        """Display name and category colour of a layer type (cached)."""
        style = self._type_styles.get(type_id)
        if style is None:
            spec = REGISTRY.get(type_id) if type_id in REGISTRY else None
            style = (
                spec.display_name if spec else f"{type_id}?",
                th.category_colour(spec.category if spec else None),
            )
            self._type_styles[type_id] = style
        return style

    def title_text(self, title: str, width: float) -> QStaticText:
        """A header title cut to ``width``, laid out once (few distinct titles)."""
        key = (title, width)
        text = self._titles.get(key)
        if text is None:
            elided = self.theme.title_metrics.elidedText(title, Qt.TextElideMode.ElideRight, width)
            text = QStaticText(elided)
            text.setTextFormat(Qt.TextFormat.PlainText)
            self._titles[key] = text
        return text

    def problem_node_ids(self) -> set[str]:
        """Nodes with at least one problem."""
        analysis = self.document.analysis
        out = {nid for nid, info in analysis.info.items() if info.problems}
        out.update(p.node for p in analysis.design_problems if p.node)
        return out

    def has_problems(self, node_id: str) -> bool:
        """Whether a node shows the error badge."""
        info = self.document.analysis.info.get(node_id)
        if info is not None and info.problems:
            return True
        return any(p.node == node_id for p in self.document.analysis.design_problems)

    @property
    def overview_on(self) -> bool:
        """True while the design is drawn by the overview (far zoomed out)."""
        return self._overview_on

    def set_overview(self, on: bool) -> None:
        """Switch between per-item drawing and the one-pass overview."""
        if on == self._overview_on:
            return
        self._overview_on = on
        flag = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents
        for node in self.nodes.values():
            node.setFlag(flag, on)
        for edge in self.edges.values():
            edge.setFlag(flag, on)
        if self.overview is not None:
            self.overview.set_bounds(self.sceneRect())
            self.overview.setVisible(on)
            self.overview.invalidate()

    def _invalidate_overview(self) -> None:
        if self._overview_on and self.overview is not None:
            self.overview.invalidate()

    # -- following the document --------------------------------------------------------------

    def _on_node_added(self, node_id: str) -> None:
        item = NodeItem(self, node_id)
        if self._overview_on:
            item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, True)
        self._invalidate_overview()
        self.addItem(item)
        self.nodes[node_id] = item
        self._mark_group(node_id)
        self._keep_in_scene_rect(item)
        self._refresh_links()

    def _on_node_removed(self, node_id: str) -> None:
        item = self.nodes.pop(node_id, None)
        if item is None:
            return
        if self._editor is not None and self._editor.node_id == node_id:
            self._editor.finish(False)
        if self._drag is not None and self._drag.source == node_id:
            self._cancel_connection()
        elif self._drag is not None:
            self._drag.judged.discard(node_id)
        self._invalidate_overview()
        self.removeItem(item)
        self._dirty_groups.update(self.groups)
        self._group_timer.start()
        self._refresh_links()

    def _on_node_changed(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            item.refresh_node()
            self._refresh_links()

    def _on_edge_added(self, edge: Edge) -> None:
        self._invalidate_overview()
        item = self._make_edge(edge)
        item.target.refresh_ports()
        item.source.update()
        item.target.update()
        self._refresh_links()

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self.edges.pop(edge, None)
        if item is None:
            return
        item.source.out_edges.remove(item)
        item.target.in_edges.remove(item)
        self._invalidate_overview()
        self.removeItem(item)
        for end in (item.source, item.target):
            if end.node_id in self.document.design:
                end.refresh_ports()
                end.update()
        self._refresh_links()

    def _on_analysis_changed(self, node_ids: set[str]) -> None:
        self._invalidate_overview()
        for node_id in node_ids:
            item = self.nodes.get(node_id)
            if item is None:
                continue
            item.refresh_analysis()
            for edge in item.out_edges:
                edge.refresh_label()

    def node_item_moved(self, item: NodeItem) -> None:
        """A node item changed position (dragged or synced): reroute its wires, refit its group."""
        for edge in item.in_edges:
            edge.route()
        for edge in item.out_edges:
            edge.route()
        for link in self.links:
            if item in (link.source, link.target):
                link.route()
        self._invalidate_overview()
        if item.node_id in self.nodes:
            self._mark_group(item.node_id)
            self._keep_in_scene_rect(item)

    def _mark_group(self, node_id: str) -> None:
        if len(self.document.design.networks) > 1 or self.groups:
            self._dirty_groups.add(self.document.design.node(node_id).network)
            self._group_timer.start()

    def _refresh_groups(self) -> None:
        """Fit each network's frame around its nodes (only multi-network designs have frames)."""
        design = self.document.design
        dirty, self._dirty_groups = self._dirty_groups, set()
        if len(design.networks) <= 1:
            for group in self.groups.values():
                self.removeItem(group)
            self.groups.clear()
            return
        titles = self.document.network_titles()
        for name in list(self.groups):
            if name not in design.networks:
                self.removeItem(self.groups.pop(name))
        for name in design.networks:
            if name not in self.groups:
                group = GroupItem(self, name, titles[name])
                self.addItem(group)
                self.groups[name] = group
                dirty.add(name)
        for name in dirty:
            group = self.groups.get(name)
            if group is None:
                continue
            members = [
                self.nodes[n.id] for n in design.nodes_in_network(name) if n.id in self.nodes
            ]
            if not members:
                group.setVisible(False)
                continue
            group.setVisible(True)
            group.fit(node_bounds(members))

    def _refresh_links(self) -> None:
        """Draw the links training makes between networks (a GAN's generator output feeds the
        discriminator's input); they follow the networks' roles, not edges."""
        wanted = gan_link_ends(self.document.design)
        have = [(link.source.node_id, link.target.node_id) for link in self.links]
        if have == wanted:
            return
        for link in self.links:
            self.removeItem(link)
        self.links = []
        for source, target in wanted:
            link = LinkItem(
                self,
                self.nodes[source],
                self.nodes[target],
                "feeds fake samples",
                gan_link_tip(source, target),
            )
            self.addItem(link)
            self.links.append(link)

    # -- queries -----------------------------------------------------------------------------

    def drawn_rect(self, content: QRectF | None = None) -> QRectF:
        """Everything the design draws: node bodies, group frames, wires (with their labels and
        return lanes) and links; what Fit frames. ``content`` is :meth:`content_rect` when the
        caller has it already."""
        rect = self.content_rect() if content is None else content
        if self.edges:  # edge items sit at the scene origin: their boxes are scene coordinates
            boxes = [item.box for item in self.edges.values()]
            left = min(b[0] for b in boxes)
            top = min(b[1] for b in boxes)
            right = max(b[2] for b in boxes)
            bottom = max(b[3] for b in boxes)
            rect = rect.united(QRectF(left, top, right - left, bottom - top))
        for link in self.links:
            rect = rect.united(link.sceneBoundingRect())
        return rect

    def content_rect(self) -> QRectF:
        """Union of all node bodies and group frames (empty when the design is empty)."""
        rect = design_bounds(self.document.design, self.nodes)
        for group in self.groups.values():
            if group.isVisible():
                rect = rect.united(group.rect())
        return rect

    def node_at(self, pos: QPointF) -> NodeItem | None:
        """The topmost node under scene position ``pos``."""
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item
        return None

    def network_at(self, pos: QPointF) -> str | None:
        """The network whose frame contains ``pos``, else the nearest frame's (None on a
        single-network design)."""
        best, best_distance = None, float("inf")
        for name, group in self.groups.items():
            if not group.isVisible():
                continue
            rect = group.rect()
            if rect.contains(pos):
                return name
            dx = max(rect.left() - pos.x(), 0.0, pos.x() - rect.right())
            dy = max(rect.top() - pos.y(), 0.0, pos.y() - rect.bottom())
            if dx * dx + dy * dy < best_distance:
                best, best_distance = name, dx * dx + dy * dy
        return best

    def selected_node_ids(self) -> list[str]:
        """Selected nodes, in the design's file order."""
        chosen = {i.node_id for i in self.selectedItems() if isinstance(i, NodeItem)}
        return [n.id for n in self.document.design if n.id in chosen]

    def selected_edges(self) -> list[Edge]:
        """Selected edges, in the design's edge order."""
        chosen = {i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)}
        return [e for e in self.document.design.edges if e in chosen]

    def select_nodes(self, node_ids) -> None:
        """Make exactly ``node_ids`` selected."""
        wanted = set(node_ids)
        self.blockSignals(True)
        try:
            self.clearSelection()
            for nid in wanted:
                item = self.nodes.get(nid)
                if item is not None:
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    # -- edits (each pushes one command) -----------------------------------------------------

    def snap(self, pos: QPointF) -> QPointF:
        """``pos`` on the grid when snapping is on."""
        if not self.snap_to_grid:
            return QPointF(pos)
        g = th.GRID
        return QPointF(round(pos.x() / g) * g, round(pos.y() / g) * g)

    def add_layer(self, type_id: str, pos: QPointF, connect_after: str | None = None) -> str:
        """Add a layer with its top-left at ``pos`` (snapped); returns the new node id."""
        pos = self.snap(pos)
        network = None if connect_after else self.network_at(pos)
        command = cmd.AddNode(
            self.document, type_id, (pos.x(), pos.y()), connect_after=connect_after, network=network
        )
        self.document.push(command)
        self.select_nodes([command.node_id])
        return command.node_id

    def delete_selection(self) -> bool:
        """Delete the selected nodes (with their edges) and selected edges."""
        command = cmd.RemoveItems(self.document, self.selected_node_ids(), self.selected_edges())
        if command.empty:
            return False
        self.document.push(command)
        return True

    def select_all(self) -> None:
        """Select every node and edge."""
        self.blockSignals(True)
        try:
            for item in self.nodes.values():
                item.setSelected(True)
            for item in self.edges.values():
                item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def set_layout_columns(self, columns) -> None:
        """``columns()`` → how many layer columns auto-layout puts side by side (the view's room)."""
        self._layout_columns = columns

    def auto_layout(self, max_columns: int | None = None) -> None:
        """Lay the design out left to right (networks stacked apart, long chains wrapped into
        bands of ``max_columns``, default: what the view has room for) as one undo step."""
        if max_columns is None and self._layout_columns is not None:
            max_columns = self._layout_columns()
        positions = layered_layout(self.document.design, max_columns=max_columns)
        self.document.push(cmd.AutoLayout(self.document, positions))
        self.layoutApplied.emit()

    def start_relabel(self, node_id: str) -> LabelEditor | None:
        """Open the inline label editor on a node."""
        item = self.nodes.get(node_id)
        if item is None:
            return None
        if self._editor is not None:
            self._editor.finish(True)
        node = self.document.design.node(node_id)
        editor = LabelEditor(self, item, node.label or node.id)
        self._editor = editor
        editor.setFocus(Qt.FocusReason.OtherFocusReason)
        cursor = editor.textCursor()
        cursor.select(cursor.SelectionType.Document)
        editor.setTextCursor(cursor)
        self.statusMessage.emit(f"Rename {node_id}: Enter to apply, Esc to cancel")
        return editor

    def finish_relabel(self, editor: LabelEditor, commit: bool) -> None:
        """Close ``editor``; when ``commit``, push a Relabel (the node id as text means no label)."""
        if self._editor is editor:
            self._editor = None
        text = editor.toPlainText().strip()
        editor.hide()
        QTimer.singleShot(0, lambda: self._discard_editor(editor))
        node_id = editor.node_id
        if not commit or node_id not in self.document.design:
            return
        if text == node_id and not self.document.design.node(node_id).label:
            return
        self.document.push(cmd.Relabel(self.document, node_id, text))

    def _discard_editor(self, editor: LabelEditor) -> None:
        try:
            if editor.scene() is self:
                self.removeItem(editor)
            editor.deleteLater()
        except RuntimeError:  # already deleted with its node
            pass

    # -- mouse and keyboard ------------------------------------------------------------------

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.LeftButton:
            item = self.node_at(event.scenePos())
            if item is not None:
                port = item.port_at(item.mapFromScene(event.scenePos()))
                if port is not None and port[0] == "out":
                    self.begin_connection(item.node_id)
                    event.accept()
                    return
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press = {
                i.node_id: i.pos() for i in self.selectedItems() if isinstance(i, NodeItem)
            }

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            self.update_connection(event.scenePos())
            event.accept()
            return
        super().mouseMoveEvent(event)
        if self._press and event.buttons() & Qt.MouseButton.LeftButton:
            self._follow_drag()

    def _follow_drag(self) -> None:
        """While nodes are dragged: keep them on the grid and their wires attached."""
        assert self._press is not None
        for node_id, start in self._press.items():
            item = self.nodes.get(node_id)
            if item is None:
                continue
            if self.snap_to_grid:
                item.set_pos_quietly(self.snap(item.pos()))
            if item.pos() != start:
                self.node_item_moved(item)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            if event.button() == Qt.MouseButton.LeftButton:
                self.finish_connection(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and self._press is not None:
            press, self._press = self._press, None
            self.commit_moves(press)

    def commit_moves(self, press: dict[str, QPointF]) -> bool:
        """Push one MoveNodes for the nodes that moved since ``press`` (their old positions)."""
        moves = {}
        for node_id, old in press.items():
            item = self.nodes.get(node_id)
            if item is not None and item.pos() != old:
                moves[node_id] = ((old.x(), old.y()), (item.pos().x(), item.pos().y()))
        if not moves:
            return False
        self._drag_serial += 1
        self.document.push(cmd.MoveNodes(self.document, moves, self._drag_serial))
        return True

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        item = self.node_at(event.scenePos())
        if item is not None and event.button() == Qt.MouseButton.LeftButton:
            if item.type_id == "Block":
                self.blockOpened.emit(item.node_id)
                event.accept()
                return
            self.start_relabel(item.node_id)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Escape and self._drag is not None:
            self._cancel_connection()
            event.accept()
            return
        super().keyPressEvent(event)

    def helpEvent(self, event: QGraphicsSceneHelpEvent) -> None:  # noqa: N802
        text = self.tooltip_at(event.scenePos())
        if text:
            QToolTip.showText(event.screenPos(), text)
        else:
            QToolTip.hideText()
        event.setAccepted(bool(text))

    def tooltip_at(self, pos: QPointF) -> str:
        """Tooltip for the node or wire at ``pos`` (worked out on demand, not per item)."""
        for item in self.items(pos):
            if isinstance(item, NodeItem):
                return item.tooltip_html()
            if isinstance(item, EdgeItem):
                return item.tooltip_text()
            if isinstance(item, LinkItem):
                return item.tip
        return ""

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:  # noqa: N802
        menu = self.context_menu(event.scenePos())
        if menu is not None:
            menu.exec(event.screenPos())
            event.accept()

    def context_menu(self, pos: QPointF) -> QMenu | None:
        """The menu for a right click at ``pos`` (node, edge or empty canvas)."""
        menu = QMenu()
        item = None
        for candidate in self.items(pos):
            if isinstance(candidate, (NodeItem, EdgeItem)):
                item = candidate
                break
        if isinstance(item, NodeItem):
            if not item.isSelected():
                self.select_nodes([item.node_id])
            node_id = item.node_id
            menu.addAction("Rename", lambda: self.start_relabel(node_id))
            menu.addAction("Duplicate", self.duplicate_selection)
            menu.addAction("Copy", self.copy_selection)
            if self.node_menu_hook is not None:
                self.node_menu_hook(menu, node_id)
            menu.addSeparator()
            menu.addAction("Delete", self.delete_selection)
        elif isinstance(item, EdgeItem):
            edge = item.edge
            menu.addAction(
                f"Disconnect {edge.source} → {edge.target}",
                lambda: self.document.push(cmd.Disconnect(self.document, edge)),
            )
        else:
            menu.addAction("Paste here", lambda: self.paste(pos))
            menu.addAction("Auto-layout", lambda: self.auto_layout())
        return menu

    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:  # noqa: N802
        painter.fillRect(rect, self.theme.canvas)
        step = th.GRID * 5
        if painter.worldTransform().m11() * step < 24:  # closer lines would clutter the view
            return
        left = int(rect.left() // step) * step
        top = int(rect.top() // step) * step
        lines = []
        x = left
        while x < rect.right():
            lines.append(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            lines.append(QLineF(rect.left(), y, rect.right(), y))
            y += step
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(self.theme.grid, 0))
        painter.drawLines(lines)
        painter.restore()


def design_bounds(design, items: dict[str, NodeItem]) -> QRectF:
    """Union of node bodies from the design's positions (pure Python: fast on large designs)."""
    if not len(design):
        return QRectF()
    default = th.node_height(1)  # the least height: taller nodes (wide merges) looked up
    # plain lists (few objects for the garbage collector to count, unlike a zip of them all)
    positions = [n.position for n in design]
    xs = [p[0] for p in positions]
    ys = [p[1] for p in positions]
    left, top, right = min(xs), min(ys), max(xs) + th.NODE_WIDTH
    bottom = max(ys) + default
    for node_id, item in items.items():
        if item._height > default and node_id in design:
            bottom = max(bottom, design.node(node_id).position[1] + item._height)
    return QRectF(left, top, right - left, bottom - top)


def node_bounds(items) -> QRectF:
    """Union of node bodies in scene coordinates."""
    left = top = float("inf")
    right = bottom = float("-inf")
    for item in items:
        pos = item.pos()
        x, y = pos.x(), pos.y()
        left = min(left, x)
        top = min(top, y)
        right = max(right, x + th.NODE_WIDTH)
        bottom = max(bottom, y + item.height)
    if left == float("inf"):
        return QRectF()
    return QRectF(left, top, right - left, bottom - top)


def gan_link_ends(design) -> list[tuple[str, str]]:
    """``[(generator output, discriminator input)]`` when the design has networks with the GAN
    roles, each with one output and one input (what the GAN training loop wires), else ``[]``."""
    gen = design.network_of_role("generator")
    disc = design.network_of_role("discriminator")
    if gen is None or disc is None or gen == disc:
        return []
    outputs, inputs = network_outputs(design, gen), network_inputs(design, disc)
    if len(outputs) != 1 or len(inputs) != 1:
        return []
    return [(outputs[0], inputs[0])]


def gan_link_tip(source: str, target: str) -> str:
    """The tooltip of the generator → discriminator link."""
    return (
        f"Training feeds the generator's output '{source}' to the discriminator's input "
        f"'{target}' as fake samples, beside real ones; the discriminator learns to tell them "
        f"apart and the generator learns to fool it. This link is not a wire: the GAN "
        f"training loop makes it from the networks' roles."
    )
