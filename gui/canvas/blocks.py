"""Blocks on the canvas: the block actions, entering a block and the breadcrumb bar.

:class:`BlockCanvas` is the window's central widget: a breadcrumb bar (``design › stage2``)
above a stack of canvas views. The first view shows the document; double-clicking a block
instance shows its definition's inside in a second view over a :class:`BodyDocument`, a
temporary design that holds a copy of the definition's body. The one :class:`Document` stays
the owner of the real design: every edit made inside becomes
:func:`engine.editing.blocks.edit_definition` on the document, ONE undo step
(:class:`~gui.commands.ApplyDesignEdit`), and the inside view follows the document (undo
included). Block actions (Make Block, Expand, Make Unique, Repeat, Save to Library, insert from
the palette) work on the view shown, at any depth.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QPointF, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMenu,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.blocks import BLOCK_TYPE, dependencies
from engine.editing import blocks as edits
from engine.errors import DesignFormatError, first_line
from engine.graph import Design
from engine.io import dumps, load_block
from gui.canvas import theme as th
from gui.canvas.view import CanvasView
from gui.commands import ApplyDesignEdit
from gui.document import Document
from gui.panels.palette import BLOCK_MIME


def body_view(design: Design, name: str) -> Design:
    """A design to show the inside of definition ``name``: a copy of its body, with the
    design's definitions (for nested instances)."""
    body = design.blocks[name].body.copy()
    body.name = name
    body.blocks = {k: v.copy() for k, v in design.blocks.items()}
    body.data = copy.deepcopy(design.data)  # so the summary does not ask for data
    body.training = copy.deepcopy(design.training)
    return body


def _bare(body: Design) -> Design:
    """The body alone: no definitions, data or training sections (what a definition keeps)."""
    bare = body.copy()
    blank = Design()
    bare.blocks = {}
    bare.data, bare.training = blank.data, blank.training
    return bare


def _body_key(body: Design) -> str:
    """The body's content, for comparing."""
    bare = _bare(body)
    bare.name = ""
    return dumps(bare)


class BodyDocument(Document):
    """The inside of one block definition, shown on the canvas while the user is in it.

    Commands pushed here change this temporary design, then go to the owner document as one
    :func:`~engine.editing.blocks.edit_definition` step; the owner's undo stack is the only one
    that counts (this one is cleared whenever the inside follows the owner)."""

    refused = Signal(str)

    def __init__(self, owner: Document, name: str) -> None:
        super().__init__(body_view(owner.design, name))
        self.owner = owner
        self.block = name

    def push(self, command) -> None:  # noqa: D102 - see class
        before = _body_key(self.design)
        self.undo_stack.push(command)
        if _body_key(self.design) != before:
            self.push_design(self.design, command.text())

    def push_design(self, inner: Design, text: str) -> None:
        """Make ``inner`` (a changed copy of this view's design) the definition's body."""
        owner = self.owner.design
        new = owner.copy()
        for name, defn in inner.blocks.items():
            if name not in new.blocks:
                new.blocks[name] = defn.copy()
        body = _bare(inner)
        body.name = owner.blocks[self.block].body.name
        try:
            edit = edits.edit_definition(new, self.block, body=body)
        except edits.BlockEditError as exc:
            self.refused.emit(first_line(exc))
            self.follow()
            return
        self.owner.push(ApplyDesignEdit(self.owner, edit.design, f"{text} in block '{self.block}'"))

    def follow(self) -> bool:
        """Show the owner's current definition again if it differs; False when it is gone."""
        defn = self.owner.design.blocks.get(self.block)
        if defn is None:
            return False
        if _body_key(defn.body) != _body_key(self.design):
            self.reset(body_view(self.owner.design, self.block))
        else:
            self.design.blocks = {k: v.copy() for k, v in self.owner.design.blocks.items()}
        return True


class BlockCanvas(QWidget):
    """The breadcrumb bar over the canvas views, and the block actions."""

    statusMessage = Signal(str)
    refused = Signal(str)  # a block action was refused: one line
    librarySaved = Signal(object)  # Path of a block saved to the user's library
    levelChanged = Signal()  # entered or left a block

    def __init__(self, document: Document, view: CanvasView, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.main_view = view
        self.path: list[tuple[str, str]] = []  # (instance id, block name) per level
        self.inner: BodyDocument | None = None
        self.inner_view: CanvasView | None = None
        #: Questions (tests replace them): ``ask_name(title, default)``, ``ask_repeat(current)``
        self.ask_name: Callable[[str, str], str | None] = self._ask_name
        self.ask_repeat: Callable[[int], int | None] = self._ask_repeat

        self.crumbs = QWidget(self)
        self.crumbs.setObjectName("block_breadcrumb")
        self._crumb_layout = QHBoxLayout(self.crumbs)
        self._crumb_layout.setContentsMargins(6, 2, 6, 2)
        self._crumb_layout.setSpacing(2)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(view)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.crumbs)
        layout.addWidget(self.stack, 1)
        self._make_actions()
        self._hook(view)
        document.analysisChanged.connect(self._follow)
        document.designReset.connect(self._on_reset)
        self._fill_crumbs()

    # -- where we are ------------------------------------------------------------------------

    def current_view(self) -> CanvasView:
        """The view shown: the design, or the inside of the block entered."""
        return self.inner_view if self.inner_view is not None else self.main_view

    def current_document(self) -> Document:
        """The document of the view shown (the design's, or a :class:`BodyDocument`)."""
        return self.inner if self.inner is not None else self.document

    def crumb_texts(self) -> list[str]:
        """What the breadcrumb shows: ``["design", "stage2", …]``."""
        return [self._design_title()] + [
            inst if inst == name else f"{inst} ({name})" for inst, name in self.path
        ]

    def enter(self, instance_id: str) -> bool:
        """Show the inside of block instance ``instance_id`` of the view shown."""
        design = self.current_document().design
        if instance_id not in design or design.node(instance_id).type != BLOCK_TYPE:
            self.refused.emit(f"'{instance_id}' is not a block instance; select one to enter")
            return False
        name = design.node(instance_id).params.get("block")
        if name not in self.document.design.blocks:
            self.refused.emit(f"'{instance_id}' uses block {name!r}, which is not defined")
            return False
        self.path.append((instance_id, name))
        self._show()
        return True

    def go_to(self, level: int) -> None:
        """Go back to breadcrumb ``level`` (0: the design)."""
        if level >= len(self.path) and (level or self.inner is None):
            return
        self.path = self.path[:level]
        self._show()

    def _show(self) -> None:
        if self.inner_view is not None:
            self.stack.removeWidget(self.inner_view)
            self.inner_view.deleteLater()
            self.inner.deleteLater()
            self.inner_view = None
            self.inner = None
        if self.path:
            self.inner = BodyDocument(self.document, self.path[-1][1])
            self.inner.setParent(self)
            self.inner.refused.connect(self.refused)
            self.inner_view = CanvasView(self.inner, self)
            self.inner_view.setObjectName("block_canvas")
            self._hook(self.inner_view)
            self.stack.addWidget(self.inner_view)
            self.stack.setCurrentWidget(self.inner_view)
            self.inner_view.fit()
        else:
            self.stack.setCurrentWidget(self.main_view)
        self.current_view().setFocus()
        self._fill_crumbs()
        self.levelChanged.emit()

    def _on_reset(self) -> None:
        """A new design was opened: back to the top."""
        self.go_to(0)
        self._fill_crumbs()

    def _follow(self, _changed=None) -> None:
        """The document changed: the inside view follows (or steps out of a block gone)."""
        if self.inner is None:
            self.crumbs.setVisible(bool(self.document.design.blocks))
            return
        names = self.document.design.blocks
        keep = 0
        while keep < len(self.path) and self.path[keep][1] in names:
            keep += 1
        if keep < len(self.path):
            self.go_to(keep)
            return
        self.inner.follow()

    def _hook(self, view: CanvasView) -> None:
        scene = view.scene()
        scene.blockOpened.connect(self.enter)
        scene.node_menu_hook = self._node_menu
        view.viewport().installEventFilter(self)
        view.statusMessage.connect(self.statusMessage)

    def _design_title(self) -> str:
        path = self.document.path
        return path.stem if path is not None else (self.document.design.name or "design")

    def _fill_crumbs(self) -> None:
        while self._crumb_layout.count():
            item = self._crumb_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        texts = self.crumb_texts()
        for level, text in enumerate(texts):
            if level:
                self._crumb_layout.addWidget(QLabel("›"))
            if level == len(texts) - 1:
                label = QLabel(f"<b>{text}</b>")
                label.setTextFormat(Qt.TextFormat.RichText)
                self._crumb_layout.addWidget(label)
            else:
                button = QToolButton()
                button.setText(text)
                button.setAutoRaise(True)
                button.setToolTip(f"Back to {text}")
                button.clicked.connect(lambda _c=False, n=level: self.go_to(n))
                self._crumb_layout.addWidget(button)
        if self.path:
            hint = QLabel(
                "  editing block '" + self.path[-1][1] + "': changes apply to every instance; "
                "shapes are from its example input"
            )
            hint.setStyleSheet("color: gray;")
            self._crumb_layout.addWidget(hint)
        self._crumb_layout.addStretch(1)
        self.crumbs.setVisible(bool(self.path) or bool(self.document.design.blocks))

    # -- actions -----------------------------------------------------------------------------

    def _make_actions(self) -> None:
        def action(text: str, slot, shortcut: str | None = None, tip: str = "") -> QAction:
            a = QAction(text, self)
            a.triggered.connect(lambda _checked=False: slot())
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
            a.setStatusTip(tip)
            return a

        self.make_action = action(
            "Make &Block…", self.make_block, "Ctrl+B", "Turn the selected layers into a block"
        )
        self.enter_action = action(
            "&Enter Block", self.enter_selected, None, "Show the selected block's inside"
        )
        self.expand_action = action(
            "E&xpand Block", self.expand, None, "Put the block's layers back in its place"
        )
        self.unique_action = action(
            "Make &Unique", self.make_unique, None, "Give this instance its own copy of the block"
        )
        self.repeat_action = action(
            "&Repeat Block…", self.repeat, None, "Chain N copies of the block in this node"
        )
        self.save_action = action(
            "&Save Block to Library…",
            self.save_to_library,
            None,
            "Save the block to your library (it appears in the palette)",
        )

    def block_actions(self) -> list[QAction]:
        """The actions for the Edit menu."""
        return [
            self.make_action,
            self.enter_action,
            self.expand_action,
            self.unique_action,
            self.repeat_action,
            self.save_action,
        ]

    def _node_menu(self, menu: QMenu, node_id: str) -> None:
        design = self.current_document().design
        if node_id in design and design.node(node_id).type == BLOCK_TYPE:
            menu.addSeparator()
            for a in self.block_actions()[1:]:
                menu.addAction(a)
        else:
            menu.addAction(self.make_action)

    def _selected_instance(self) -> str | None:
        ids = self.current_view().selected_node_ids()
        design = self.current_document().design
        blocks = [n for n in ids if design.node(n).type == BLOCK_TYPE]
        if len(ids) != 1 or not blocks:
            self.refused.emit("select one block instance first")
            return None
        return blocks[0]

    def apply(self, edit: edits.BlockEdit) -> None:
        """Apply a block edit of the shown design as one undo step; select its instance."""
        doc = self.current_document()
        if isinstance(doc, BodyDocument):
            doc.push_design(edit.design, edit.text)
        else:
            doc.push(ApplyDesignEdit(doc, edit.design, edit.text))
        if edit.instance is not None and edit.instance in self.current_document().design:
            self.current_view().select_nodes([edit.instance])
        self.statusMessage.emit(edit.text)

    def _run(self, make: Callable[[], edits.BlockEdit]) -> bool:
        try:
            edit = make()
        except edits.BlockEditError as exc:
            self.refused.emit(first_line(exc))
            return False
        self.apply(edit)
        return True

    def make_block(self, name: str | None = None) -> bool:
        """Make a block of the selected layers (asks its name)."""
        ids = self.current_view().selected_node_ids()
        if not ids:
            self.refused.emit("select the layers to make a block of first")
            return False
        design = self.current_document().design
        if name is None:
            default = "block"
            i = 1
            while default in design.blocks or default in self.document.design.blocks:
                i += 1
                default = f"block{i}"
            name = self.ask_name("Make Block", default)
            if not name:
                return False
        if name in self.document.design.blocks:
            self.refused.emit(f"a block called '{name}' exists already; choose another name")
            return False
        return self._run(lambda: edits.make_block(design, ids, name.strip()))

    def enter_selected(self) -> bool:
        """Show the inside of the selected block instance; False when none is selected."""
        inst = self._selected_instance()
        return inst is not None and self.enter(inst)

    def expand(self) -> bool:
        """Inline the selected instance's layers in its place (one undo step)."""
        inst = self._selected_instance()
        design = self.current_document().design
        return inst is not None and self._run(lambda: edits.expand(design, inst))

    def make_unique(self) -> bool:
        """Give the selected instance its own copy of the definition (one undo step)."""
        inst = self._selected_instance()
        if inst is None:
            return False
        design = self.current_document().design
        taken = set(self.document.design.blocks) | set(design.blocks)
        base = design.node(inst).params.get("block", "block")
        name, i = f"{base}_2", 2
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        return self._run(lambda: edits.make_unique(design, inst, name))

    def repeat(self, n: int | None = None) -> bool:
        """Set the selected instance's repeat count (asked for when ``n`` is None)."""
        inst = self._selected_instance()
        if inst is None:
            return False
        design = self.current_document().design
        if n is None:
            n = self.ask_repeat(int(design.node(inst).params.get("repeat", 1)))
            if n is None:
                return False
        return self._run(lambda: edits.set_repeat(design, inst, n))

    def save_to_library(self, user_dir: Path | None = None) -> Path | None:
        """Save the selected instance's definition to the user's block folder."""
        from engine.blocks_library import save_user_block

        inst = self._selected_instance()
        if inst is None:
            return None
        blocks = self.document.design.blocks
        defn = blocks[self.current_document().design.node(inst).params["block"]]
        used = {n: blocks[n] for n in dependencies(blocks, defn)}
        try:
            path = save_user_block(defn, used, user_dir)
        except (OSError, ValueError) as exc:
            self.refused.emit(f"could not save block '{defn.name}': {first_line(exc)}")
            return None
        self.statusMessage.emit(f"Saved block '{defn.name}' to {path}")
        self.librarySaved.emit(path)
        return path

    def insert_library_block(self, path: str | Path, scene_point: QPointF | None = None) -> str:
        """Add an instance of the library block in file ``path`` (palette drop or double-click);
        returns its id ('' when refused)."""
        try:
            defn, used = load_block(path)
        except (DesignFormatError, OSError) as exc:
            self.refused.emit(first_line(exc))
            return ""
        view = self.current_view()
        if scene_point is None:
            scene_point = view.mapToScene(view.viewport().rect().center())
        top_left = view.scene().snap(scene_point - QPointF(th.NODE_WIDTH / 2, th.HEADER_HEIGHT / 2))
        design = self.current_document().design
        network = view.scene().network_at(scene_point)
        try:
            edit = edits.insert_block(design, defn, used, (top_left.x(), top_left.y()), network)
        except edits.BlockEditError as exc:
            self.refused.emit(first_line(exc))
            return ""
        self.apply(edit)
        return edit.instance or ""

    # -- palette drops -----------------------------------------------------------------------

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove, QEvent.Type.Drop):
            mime = event.mimeData()
            if mime is not None and mime.hasFormat(BLOCK_MIME):
                if kind == QEvent.Type.Drop:
                    path = bytes(mime.data(BLOCK_MIME)).decode("utf-8", "replace")
                    view = self.current_view()
                    self.insert_library_block(path, view.mapToScene(event.position().toPoint()))
                event.acceptProposedAction()
                return True
        return super().eventFilter(watched, event)

    # -- questions ---------------------------------------------------------------------------

    def _ask_name(self, title: str, default: str) -> str | None:
        text, ok = QInputDialog.getText(self, title, "Block name:", text=default)
        return text.strip() if ok and text.strip() else None

    def _ask_repeat(self, current: int) -> int | None:
        n, ok = QInputDialog.getInt(
            self, "Repeat Block", "Number of copies in a chain:", current, 1, 64
        )
        return n if ok else None
