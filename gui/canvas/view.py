"""The canvas widget: zoom, pan, fit, palette drops and the edit actions the main window shows."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QResizeEvent,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from engine.layers import REGISTRY
from gui.canvas import theme as th
from gui.canvas.items import GroupItem
from gui.canvas.layout import COLUMN_SPACING
from gui.canvas.scene import LAYER_MIME, CanvasScene
from gui.document import Document

MIN_SCALE = 0.03
MAX_SCALE = 4.0
FIT_MAX_SCALE = 1.25
FIT_MARGIN = 40.0  # scene units around what Fit frames
WHEEL_STEP = 1.15

_AUTO = object()


class CanvasView(QGraphicsView):
    """Shows a :class:`CanvasScene`; owns the canvas actions (copy, paste, delete, fit, …).

    The actions are added to this widget with a widget-with-children shortcut context, so their
    shortcuts work while the canvas has focus; the main window may also put them in its menus.
    """

    selectionChangedIds = Signal(list)
    statusMessage = Signal(str)
    statusKept = Signal(str)  # a message to keep in the status bar until the next one
    zoomChanged = Signal(float)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self._scene = CanvasScene(document, self)
        self.setScene(self._scene)
        self.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setCacheMode(QGraphicsView.CacheModeFlag.CacheBackground)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAcceptDrops(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._pan_from: QPoint | None = None
        self._space_pan = False
        # Until the user zooms or scrolls, the view keeps the design fitted as it resizes (the
        # window opening, docks appearing), so a design opens framed in whatever room it gets.
        self._auto_fit = True
        self._readable_fit_state = None  # the view after a Fit that could not show everything
        self._scene.selectionChanged.connect(self._emit_selection)
        self._scene.statusMessage.connect(self.statusMessage)
        self._scene.statusKept.connect(self.statusKept)
        self._scene.layoutApplied.connect(self.fit)
        self._scene.set_layout_columns(self.layout_columns)
        for bar in (self.horizontalScrollBar(), self.verticalScrollBar()):
            bar.actionTriggered.connect(self._user_took_over)
        document.designReset.connect(self._after_reset)
        self._make_actions()

    # -- public API --------------------------------------------------------------------------

    def scene(self) -> CanvasScene:  # noqa: D102 - typed override
        return self._scene

    def zoom(self) -> float:
        """Current scale (1.0 = 100 %)."""
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by ``factor`` (clamped to the allowed zoom range)."""
        self._auto_fit = False
        current = self.zoom()
        target = min(MAX_SCALE, max(MIN_SCALE, current * factor))
        if abs(target - current) < 1e-9:
            return
        if anchor is not None:
            before = self.mapToScene(anchor.toPoint())
            old = self.transformationAnchor()
            self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
            self.scale(target / current, target / current)
            after = self.mapToScene(anchor.toPoint())
            delta = after - before
            self.translate(delta.x(), delta.y())
            self.setTransformationAnchor(old)
        else:
            self.scale(target / current, target / current)
        self._sync_overview()
        self.zoomChanged.emit(target)

    def set_zoom(self, scale: float) -> None:
        """Scale to exactly ``scale`` (clamped), keeping the view centre."""
        self.zoom_by(scale / self.zoom())

    def label_zoom(self) -> float:
        """The smallest zoom at which node texts are drawn and readable (see theme)."""
        return self._scene.theme.label_zoom

    def fit(self, whole: bool = False) -> bool:
        """Frame the whole design (nodes, wires, frames) at a readable zoom, at most 125 %.

        When the design is too large to show whole with its texts readable, the zoom stops at
        :meth:`label_zoom` and the view shows the design's start (top left): scroll or zoom out
        for the rest. ``whole`` frames it all at any zoom instead. Returns True when all of it is
        in view.
        """
        self._auto_fit = not whole
        rect = self._scene.drawn_rect(self._scene.update_scene_rect())
        if rect.isNull():
            self.setTransform(QTransform())
            self.centerOn(0, 0)
            self._sync_overview()
            self.zoomChanged.emit(1.0)
            return True
        frame = rect.adjusted(-FIT_MARGIN, -FIT_MARGIN, FIT_MARGIN, FIT_MARGIN)
        room = self.viewport().rect()
        scale = min(room.width() / frame.width(), room.height() / frame.height())
        lowest = MIN_SCALE if whole else self.label_zoom()
        scale = min(FIT_MAX_SCALE, max(lowest, scale))
        self.setTransform(QTransform.fromScale(scale, scale))
        seen_w, seen_h = room.width() / scale, room.height() / scale
        x = frame.center().x() if frame.width() <= seen_w else frame.left() + seen_w / 2
        y = frame.center().y() if frame.height() <= seen_h else frame.top() + seen_h / 2
        self.centerOn(QPointF(x, y))
        self._sync_overview()
        self.zoomChanged.emit(self.zoom())
        return frame.width() <= seen_w + 1e-6 and frame.height() <= seen_h + 1e-6

    def fit_action_triggered(self) -> None:
        """Fit to View (Ctrl+0): readable first; pressed again on a design too big for that, the
        whole design however small."""
        state = (
            self.transform(),
            self.horizontalScrollBar().value(),
            self.verticalScrollBar().value(),
        )
        if self._readable_fit_state is not None and state == self._readable_fit_state:
            self._readable_fit_state = None
            self.fit(whole=True)
            return
        if self.fit():
            self._readable_fit_state = None
            return
        self._readable_fit_state = (
            self.transform(),
            self.horizontalScrollBar().value(),
            self.verticalScrollBar().value(),
        )
        self.statusMessage.emit(
            "Showing the start of the design at a readable size; "
            "Fit to View again (Ctrl+0) shows all of it"
        )

    def visible_scene_rect(self) -> QRectF:
        """The part of the scene the viewport shows."""
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def layout_columns(self) -> int:
        """How many layer columns Auto-layout puts side by side: as many as fit the viewport's
        width at :meth:`label_zoom` (so a laid-out chain wraps instead of running off screen)."""
        width = self.viewport().width() / self.label_zoom()
        width -= 2 * FIT_MARGIN + 2 * GroupItem.MARGIN + th.NODE_WIDTH
        return max(2, int(width // COLUMN_SPACING) + 1)

    def center_on_node(self, node_id: str) -> None:
        """Scroll so ``node_id`` is in the middle, zooming in when it would be unreadable."""
        item = self._scene.nodes.get(node_id)
        if item is None:
            return
        self._auto_fit = False
        if self.zoom() < 0.7:
            self.set_zoom(1.0)
        self.centerOn(item.sceneBoundingRect().center())

    def select_nodes(self, node_ids) -> None:
        """Select exactly ``node_ids``."""
        self._scene.select_nodes(node_ids)

    def selected_node_ids(self) -> list[str]:
        """Selected node ids in file order."""
        return self._scene.selected_node_ids()

    def add_layer(self, type_id: str, scene_pos: QPointF | None = None, connect_after=_AUTO) -> str:
        """Add a layer (palette double-click / Enter / drop) and select it.

        Without ``scene_pos``: when exactly one node is selected the new layer goes to its right,
        wired after it if that connection is allowed; otherwise at the view centre.
        """
        if connect_after is _AUTO:
            selected = self.selected_node_ids()
            connect_after = selected[0] if len(selected) == 1 else None
        if scene_pos is None:
            if connect_after is not None:
                pos = self._scene.nodes[connect_after].pos()
                scene_pos = QPointF(pos.x() + th.NODE_WIDTH + 56.0, pos.y())
            else:
                centre = self.mapToScene(self.viewport().rect().center())
                scene_pos = centre - QPointF(th.NODE_WIDTH / 2, th.HEADER_HEIGHT)
        node_id = self._scene.add_layer(type_id, scene_pos, connect_after=connect_after)
        item = self._scene.nodes[node_id]
        visible = self.mapToScene(self.viewport().rect()).boundingRect()
        if not visible.contains(item.sceneBoundingRect()):
            self.centerOn(item)
        return node_id

    # -- actions -----------------------------------------------------------------------------

    def _action(self, text: str, slot, shortcuts=(), tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        std = QKeySequence.StandardKey
        s = self._scene
        self.cut_action = self._action(
            "Cu&t", s.cut_selection, [std.Cut], "Copy the selected layers and delete them"
        )
        self.copy_action = self._action(
            "&Copy",
            s.copy_selection,
            [std.Copy],
            "Copy the selected layers and the wires among them",
        )
        self.paste_action = self._action(
            "&Paste",
            self._paste_here,
            [std.Paste],
            "Paste layers (at the pointer when it is on the canvas)",
        )
        self.duplicate_action = self._action(
            "D&uplicate",
            s.duplicate_selection,
            ["Ctrl+D"],
            "Copy the selected layers beside themselves",
        )
        self.delete_action = self._action(
            "&Delete",
            s.delete_selection,
            [std.Delete, "Backspace"],
            "Delete the selected layers and wires",
        )
        self.select_all_action = self._action(
            "Select &All", s.select_all, [std.SelectAll], "Select every layer and wire"
        )
        self.fit_action = self._action(
            "&Fit to View", self.fit_action_triggered, ["Ctrl+0"], "Zoom to show the whole design"
        )
        self.zoom_in_action = self._action(
            "Zoom &In", lambda: self.zoom_by(WHEEL_STEP**2), ["Ctrl++", "Ctrl+="], "Zoom in"
        )
        self.zoom_out_action = self._action(
            "Zoom &Out", lambda: self.zoom_by(WHEEL_STEP**-2), ["Ctrl+-"], "Zoom out"
        )
        self.auto_layout_action = self._action(
            "Auto-&Layout",
            lambda: s.auto_layout(),
            ["Ctrl+L"],
            "Arrange layers left to right by depth",
        )
        self.snap_action = self._action(
            "&Snap to Grid", self._toggle_snap, [], "Keep layers on a 20-pixel grid when moved"
        )
        self.snap_action.setCheckable(True)
        self.snap_action.setChecked(s.snap_to_grid)

    def edit_actions(self) -> list[QAction]:
        """Cut, copy, paste, duplicate, delete, select all (in Edit-menu order)."""
        return [
            self.cut_action,
            self.copy_action,
            self.paste_action,
            self.duplicate_action,
            self.delete_action,
            self.select_all_action,
        ]

    def view_actions(self) -> list[QAction]:
        """Zoom in/out, fit, auto-layout, snap to grid (in View-menu order)."""
        return [
            self.zoom_in_action,
            self.zoom_out_action,
            self.fit_action,
            self.auto_layout_action,
            self.snap_action,
        ]

    def _toggle_snap(self, on: bool) -> None:
        self._scene.snap_to_grid = bool(on)

    def _paste_here(self) -> None:
        local = self.viewport().mapFromGlobal(self.cursor().pos())
        inside = self.viewport().rect().contains(local)
        self._scene.paste(self.mapToScene(local) if inside else None)

    # -- reactions -------------------------------------------------------------------------

    def _after_reset(self) -> None:
        self._auto_fit = True
        QTimer.singleShot(0, self.fit)

    def _user_took_over(self, _action: int = 0) -> None:
        self._auto_fit = False

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        if self._auto_fit and self.isVisible():
            self.fit()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if self._auto_fit:
            self.fit()

    def _emit_selection(self) -> None:
        self.selectionChangedIds.emit(self._scene.selected_node_ids())

    def _sync_overview(self) -> None:
        zoom = self.zoom()
        if self._scene.overview_on:
            self._scene.set_overview(zoom < th.OVERVIEW_LEAVE)
        else:
            self._scene.set_overview(zoom < th.OVERVIEW_ENTER)

    def paintEvent(self, event) -> None:  # noqa: N802
        self._sync_overview()  # also catches transforms set directly (fitInView, setTransform)
        super().paintEvent(event)

    # -- input -------------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if steps:
            self.zoom_by(WHEEL_STEP**steps, event.position())
            event.accept()
        else:
            super().wheelEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.MouseButton.MiddleButton or (
            self._space_pan and event.button() == Qt.MouseButton.LeftButton
        ):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            now = event.position().toPoint()
            delta = now - self._pan_from
            self._pan_from = now
            self.pan_by(delta.x(), delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space_pan else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def pan_by(self, dx: int, dy: int) -> None:
        """Scroll the content by (dx, dy) pixels, as a middle-button drag does."""
        self._auto_fit = False
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() - dx)
        v.setValue(v.value() - dy)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        editing = self._scene.focusItem() is not None
        if event.key() == Qt.Key.Key_Space and not editing:
            if not event.isAutoRepeat():
                self._space_pan = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Space and self._space_pan and not event.isAutoRepeat():
            self._space_pan = False
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    # -- palette drops -----------------------------------------------------------------------

    def _layer_type(self, event) -> str | None:
        mime = event.mimeData()
        if mime is None or not mime.hasFormat(LAYER_MIME):
            return None
        type_id = bytes(mime.data(LAYER_MIME)).decode("utf-8", "replace").strip()
        return type_id if type_id in REGISTRY else None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._layer_type(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._layer_type(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragLeaveEvent(self, event) -> None:  # noqa: N802
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        type_id = self._layer_type(event)
        if type_id is None:
            event.ignore()
            return
        point = self.mapToScene(event.position().toPoint())
        self.drop_layer(type_id, point)
        event.acceptProposedAction()
        self.setFocus()

    def drop_layer(self, type_id: str, scene_point: QPointF) -> str:
        """Create a ``type_id`` node centred under ``scene_point`` (its body contains it)."""
        top_left = scene_point - QPointF(th.NODE_WIDTH / 2, th.HEADER_HEIGHT / 2)
        node_id = self._scene.add_layer(type_id, top_left, connect_after=None)
        self.statusMessage.emit(f"Added {REGISTRY.get(type_id).display_name} as {node_id}")
        return node_id
