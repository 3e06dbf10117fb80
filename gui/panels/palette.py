"""The layer palette: every registry layer type by category, searchable, draggable onto the canvas.

The palette is generated from :data:`engine.layers.REGISTRY`; it never edits the document. Dragging
an entry carries its type id as ``application/x-deepwire-layer`` (the canvas adds the node where it
is dropped); double-click or Enter emits :attr:`PalettePanel.layerActivated` and the main window
adds the layer at the view centre.

The last category, "Blocks", lists the block library (:mod:`engine.blocks_library`: shipped
blocks, then the user's); a block entry drags as ``application/x-deepwire-block`` carrying its
file path, and double-click or Enter emits :attr:`PalettePanel.blockActivated`.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.layers import CATEGORIES, REGISTRY, LayerSpec
from gui.icons import swatch

LAYER_MIME = "application/x-deepwire-layer"
BLOCK_MIME = "application/x-deepwire-block"
BLOCKS_GROUP = "Blocks"
BLOCK_ROLE = Qt.ItemDataRole.UserRole + 3  # a library block's file path
BLOCK_SWATCH = "#5b4b8a"
TYPE_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1  # id, name and old ids, lower case
TOPIC_ROLE = Qt.ItemDataRole.UserRole + 2  # category and help, searched when no name matches


def layer_tooltip(spec: LayerSpec) -> str:
    """Rich tooltip: name, category, help and the parameters with their ranges."""
    lines = [f"<b>{spec.display_name}</b> <i>({spec.category})</i>", spec.help]
    if spec.params:
        items = "".join(
            f"<li><tt>{p.name}</tt> — {p.help or p.describe_range()}</li>" for p in spec.params
        )
        lines.append(f"<ul style='margin:0'>{items}</ul>")
    return "<br>".join(lines)


class _LayerTree(QTreeWidget):
    """Tree whose drags carry the layer type id and whose Enter key activates the entry."""

    activated_type = Signal(str)
    activated_block = Signal(str)

    def mimeTypes(self) -> list[str]:
        return [LAYER_MIME, BLOCK_MIME]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        paths = [i.data(0, BLOCK_ROLE) for i in items if i.data(0, BLOCK_ROLE)]
        if paths:
            mime.setData(BLOCK_MIME, paths[0].encode("utf-8"))
            return mime
        type_ids = [i.data(0, TYPE_ROLE) for i in items if i.data(0, TYPE_ROLE)]
        if type_ids:
            mime.setData(LAYER_MIME, type_ids[0].encode("utf-8"))
            mime.setText(type_ids[0])
        return mime

    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.CopyAction

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            item = self.currentItem()
            if item is not None and item.data(0, TYPE_ROLE):
                self.activated_type.emit(item.data(0, TYPE_ROLE))
                return
            if item is not None and item.data(0, BLOCK_ROLE):
                self.activated_block.emit(item.data(0, BLOCK_ROLE))
                return
        super().keyPressEvent(event)


class PalettePanel(QWidget):
    """Search box over a category tree of layer types."""

    layerActivated = Signal(str)  # type id: double-click or Enter
    blockActivated = Signal(str)  # a library block's file path: double-click or Enter

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search layers (e.g. conv, norm, lstm)…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.set_filter)
        self.search.returnPressed.connect(self._activate_first_visible)

        self.tree = _LayerTree(self)
        self.tree.setHeaderHidden(True)
        self.tree.setRootIsDecorated(True)
        self.tree.setDragEnabled(True)
        self.tree.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.tree.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setUniformRowHeights(True)
        self.tree.itemDoubleClicked.connect(self._on_double_click)
        self.tree.activated_type.connect(self.layerActivated)
        self.tree.activated_block.connect(self.blockActivated)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.tree)
        self._populate()

    def _populate(self) -> None:
        for category, specs in REGISTRY.by_category().items():
            group = QTreeWidgetItem(self.tree, [category])
            group.setIcon(0, swatch(CATEGORIES[category]))
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = group.font(0)
            font.setBold(True)
            group.setFont(0, font)
            for spec in specs:
                item = QTreeWidgetItem(group, [spec.display_name])
                item.setIcon(0, swatch(CATEGORIES[category]))
                item.setData(0, TYPE_ROLE, spec.type_id)
                item.setData(
                    0,
                    SEARCH_ROLE,
                    " ".join([spec.type_id, spec.display_name, *spec.replaces]).lower(),
                )
                item.setData(0, TOPIC_ROLE, f"{category} {spec.help}".lower())
                item.setToolTip(0, layer_tooltip(spec))
                item.setStatusTip(0, spec.help)
                item.setFlags(
                    Qt.ItemFlag.ItemIsEnabled
                    | Qt.ItemFlag.ItemIsSelectable
                    | Qt.ItemFlag.ItemIsDragEnabled
                )
        group = QTreeWidgetItem(self.tree, [BLOCKS_GROUP])
        group.setIcon(0, swatch(BLOCK_SWATCH))
        group.setFlags(Qt.ItemFlag.ItemIsEnabled)
        font = group.font(0)
        font.setBold(True)
        group.setFont(0, font)
        self._blocks_group = group
        self._blocks_listed = False
        self.tree.expandAll()
        # the block library (files on disk) is read after the window's first paint
        # (MainWindow calls refresh_blocks) or when first needed (block_paths, set_filter)

    def _ensure_blocks(self) -> None:
        if not self._blocks_listed:
            self.refresh_blocks()

    def refresh_blocks(self, *_saved: object) -> None:
        """(Re)list the block library under "Blocks" (after a block is saved to it)."""
        from engine.blocks_library import list_blocks

        first, self._blocks_listed = not self._blocks_listed, True
        group = self._blocks_group
        group.takeChildren()
        for entry in list_blocks():
            shown = entry.name if entry.shipped else f"{entry.name} (yours)"
            item = QTreeWidgetItem(group, [shown])
            item.setIcon(0, swatch(BLOCK_SWATCH))
            item.setData(0, SEARCH_ROLE, f"{entry.name} block".lower())
            item.setData(0, TOPIC_ROLE, f"blocks {entry.description}".lower())
            if entry.error:
                item.setToolTip(0, entry.error)
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                continue
            item.setData(0, BLOCK_ROLE, str(entry.path))
            item.setToolTip(0, f"<b>{entry.name}</b> <i>(block)</i><br>{entry.description}")
            item.setStatusTip(0, entry.description)
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
        if first:
            group.setExpanded(True)
            if self.search.text():
                self.set_filter(self.search.text())

    def block_paths(self) -> dict[str, str]:
        """Library block name → file path, as listed (shown text without "(yours)")."""
        self._ensure_blocks()
        group = self._blocks_group
        out = {}
        for i in range(group.childCount()):
            item = group.child(i)
            if item.data(0, BLOCK_ROLE):
                out[item.text(0).removesuffix(" (yours)")] = item.data(0, BLOCK_ROLE)
        return out

    def set_filter(self, text: str) -> None:
        """Show only layers whose name contains every word of ``text``.

        When no name matches (``activation``, ``upsample images``), the category and help text
        are searched too.
        """
        self._ensure_blocks()
        words = text.lower().split()
        items = [
            self.tree.topLevelItem(g).child(i)
            for g in range(self.tree.topLevelItemCount())
            for i in range(self.tree.topLevelItem(g).childCount())
        ]
        by_name = any(all(w in it.data(0, SEARCH_ROLE) for w in words) for it in items)
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            shown = 0
            for i in range(group.childCount()):
                item = group.child(i)
                text_of = item.data(0, SEARCH_ROLE)
                if not by_name:
                    text_of += " " + item.data(0, TOPIC_ROLE)
                match = all(w in text_of for w in words)
                item.setHidden(not match)
                shown += match
            group.setHidden(shown == 0)
            if words and shown:
                group.setExpanded(True)
        first = self.visible_type_ids()
        if words and first:
            self.tree.setCurrentItem(self._item_for(first[0]))

    def visible_type_ids(self) -> list[str]:
        """Type ids currently shown (after the search filter), in palette order."""
        out = []
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            if group.isHidden():
                continue
            for i in range(group.childCount()):
                if not group.child(i).isHidden() and group.child(i).data(0, TYPE_ROLE):
                    out.append(group.child(i).data(0, TYPE_ROLE))
        return out

    def _item_for(self, type_id: str) -> QTreeWidgetItem | None:
        for g in range(self.tree.topLevelItemCount()):
            group = self.tree.topLevelItem(g)
            for i in range(group.childCount()):
                if group.child(i).data(0, TYPE_ROLE) == type_id:
                    return group.child(i)
        return None

    def item_for(self, type_id: str) -> QTreeWidgetItem | None:
        """The tree entry of a layer type (for tests and keyboard navigation)."""
        return self._item_for(type_id)

    def _on_double_click(self, item: QTreeWidgetItem, _column: int) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.layerActivated.emit(type_id)
        elif item.data(0, BLOCK_ROLE):
            self.blockActivated.emit(item.data(0, BLOCK_ROLE))

    def _activate_first_visible(self) -> None:
        current = self.tree.currentItem()
        if current is not None and not current.isHidden() and current.data(0, TYPE_ROLE):
            self.layerActivated.emit(current.data(0, TYPE_ROLE))
