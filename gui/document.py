"""The editor's document: one engine design, its shape analysis, its undo stack and its file.

:class:`Document` is the only writer of the design in the application. Views never change the
design: they build :mod:`gui.commands` and :meth:`Document.push` them; the commands call the
low-level ``_`` mutators below, which keep :attr:`Document.analysis` up to date incrementally and
emit one signal per change. Loading a file builds a fresh design and clears the undo stack; it
never replays commands.

Undo stacks and Python's cyclic garbage collector: a document's :class:`QUndoStack` owns its
commands in C++ and, through PySide, holds their Python wrappers. When a document, its stack and
its commands were all garbage together (a closed window's document, a block's inside), the
collector could clear a command before its stack: PySide 6.11 then hands the command back to
Python, which deletes it while the C++ stack still lists it, and the stack deletes it a second
time when the document goes (a segfault, faulthandler: "Garbage-collecting", in
``QUndoStack::clear`` under ``~QUndoStack``). Which object the collector clears first follows
its own list order (changed by ``gc.freeze``/``unfreeze`` around a training run, among others).
So commands refer to their document weakly (:class:`gui.commands.DocumentCommand`), and every
undo stack stays reachable from :data:`_undo_stacks` until its document's C++ object is
destroyed: a stack and its commands are never garbage for the collector to clear, and the
document's destructor deletes them in the order Qt expects.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from engine.editing.connections import can_connect
from engine.gc_pause import gc_paused
from engine.graph import Design, Edge, Node
from engine.io import load_design, save_design
from engine.shapes import ShapeAnalysis, analyze

#: The data a new design trains on, and what "Use built-in digits" puts back: scikit-learn's
#: digits, which ship with it (64 pixels per sample, 10 classes).
DEFAULT_DATA: dict[str, Any] = {"source": "builtin", "name": "digits"}

#: Every live document's undo stack (see the module docstring), until the document is destroyed.
_undo_stacks: dict[int, QUndoStack] = {}
_stack_keys = itertools.count()


def _keep_until_destroyed(document: QObject, stack: QUndoStack) -> None:
    """Keep ``stack`` reachable from :data:`_undo_stacks` until ``document``'s C++ object is
    destroyed (then Qt deletes the stack with it); see the module docstring for why."""
    key = next(_stack_keys)  # not id(document): an id may be reused before ``destroyed`` fires
    _undo_stacks[key] = stack
    document.destroyed.connect(partial(_undo_stacks.pop, key, None))


def new_design() -> Design:
    """An empty design that is ready to train once it has layers (File → New)."""
    design = Design()
    design.data = copy.deepcopy(DEFAULT_DATA)
    return design


class Document(QObject):
    """One open design plus everything the editor derives from it.

    Signals fire after the design and :attr:`analysis` already reflect the change, so a slot may
    read both. Inside :meth:`batch` the analysis update is deferred to the end of the batch and
    one :attr:`analysisChanged` covers all of it.
    """

    nodeAdded = Signal(str)
    nodeRemoved = Signal(str)
    nodeChanged = Signal(str)  # params, label or position
    edgeAdded = Signal(object)  # engine.graph.Edge
    edgeRemoved = Signal(object)
    analysisChanged = Signal(object)  # set[str]: node ids whose shapes or problems were recomputed
    designReset = Signal()
    modifiedChanged = Signal(bool)
    pathChanged = Signal(object)  # Path | None
    sectionChanged = Signal(str)  # "training", "data" or "search": that section was replaced

    def __init__(self, design: Design | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._design = design if design is not None else new_design()
        self.analysis: ShapeAnalysis = analyze(self._design)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._on_clean_changed)
        _keep_until_destroyed(self, self.undo_stack)
        self._path: Path | None = None
        self._batch_depth = 0
        self._pending: set[str] = set()
        self._pending_structure = False

    # -- reading -----------------------------------------------------------------------------

    @property
    def design(self) -> Design:
        """The engine design (read it freely; change it only through commands)."""
        return self._design

    @property
    def path(self) -> Path | None:
        """The file this document was opened from or last saved to."""
        return self._path

    @property
    def modified(self) -> bool:
        """True when the design differs from the last saved or opened state."""
        return not self.undo_stack.isClean()

    def network_titles(self) -> dict[str, str]:
        """Network name → title for group frames: ``"Generator"``, ``"gen (generator)"``."""
        return {name: _network_title(name, meta) for name, meta in self._design.networks.items()}

    # -- editing -----------------------------------------------------------------------------

    def push(self, command: QUndoCommand) -> None:
        """Run ``command`` and put it on the undo stack: the only way edits happen."""
        self.undo_stack.push(command)

    def reset(self, design: Design, path: str | Path | None = None) -> None:
        """Replace the whole design (new / open); clears the undo stack and marks it unmodified."""
        was_modified = self.modified
        self._design = design
        with gc_paused():
            self.analysis = analyze(design)
        self._pending.clear()
        self._pending_structure = False
        self.undo_stack.clear()  # clear() leaves the stack clean
        self.designReset.emit()
        self._set_path(Path(path) if path is not None else None)
        if was_modified:
            self.modifiedChanged.emit(False)

    def save(self, path: str | Path | None = None) -> Path:
        """Save atomically to ``path`` (default: the current path) and mark the document clean."""
        target = Path(path) if path is not None else self._path
        if target is None:
            raise ValueError("the document has no file yet; choose where to save it")
        save_design(self._design, target)
        self.undo_stack.setClean()
        self._set_path(target)
        return target

    def open(self, path: str | Path) -> Document:
        """Load ``path`` into this document; a bad file raises DesignFormatError, changing nothing."""
        with gc_paused():
            design = load_design(path)
            self.reset(design, Path(path))
        return self

    def can_connect(
        self, source_id: str, target_id: str, port: int, **options: Any
    ) -> tuple[bool, str]:
        """Whether ``source → target:port`` may be added; else ``(False, reason)``.

        The rules are :func:`engine.editing.connections.can_connect` over this design and its
        current analysis; ``options`` (``ancestors``, ``replace``) are passed on to it.
        """
        return can_connect(self._design, self.analysis, source_id, target_id, port, **options)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group many low-level changes: one analysis update (and analysisChanged) at the end."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0 and (self._pending or self._pending_structure):
                changed, structure = set(self._pending), self._pending_structure
                self._pending.clear()
                self._pending_structure = False
                self._update_analysis(changed, structure)

    # -- low-level mutators (only commands call these) -----------------------------------------

    def _add_node(self, node: Node, index: int | None = None) -> None:
        self._design.add_node(node, index)
        self.nodeAdded.emit(node.id)
        self._update_analysis({node.id}, True)

    def _remove_node(self, node_id: str) -> tuple[Node, int, list[tuple[int, Edge]]]:
        """Remove a node and its edges; returns (node, index, [(edge index, edge)])."""
        node, index, removed = self._design.remove_node(node_id)
        for _, edge in removed:
            self.edgeRemoved.emit(edge)
        self.nodeRemoved.emit(node_id)
        self._update_analysis({e.target for _, e in removed if e.target != node_id}, True)
        return node, index, removed

    def _add_edge(self, edge: Edge, index: int | None = None) -> None:
        self._design.add_edge(edge, index)
        self.edgeAdded.emit(edge)
        self._update_analysis({edge.target}, True)

    def _remove_edge(self, edge: Edge) -> int:
        index = self._design.remove_edge(edge)
        self.edgeRemoved.emit(edge)
        self._update_analysis({edge.target}, True)
        return index

    def _set_param(self, node_id: str, name: str, value: Any) -> Any:
        """Set one parameter (None clears it back to the default); returns the old value."""
        old = self._design.set_param(node_id, name, value)
        self.nodeChanged.emit(node_id)
        self._update_analysis({node_id}, False)
        return old

    def _set_params(self, node_id: str, params: dict[str, Any]) -> None:
        """Replace all explicit parameters at once (undo uses it to restore key order too)."""
        self._design.node(node_id).params = dict(params)
        self.nodeChanged.emit(node_id)
        self._update_analysis({node_id}, False)

    def _set_label(self, node_id: str, text: str) -> None:
        node = self._design.node(node_id)
        if node.label != text:
            node.label = text
            self.nodeChanged.emit(node_id)

    def _set_section(self, section: str, value: dict[str, Any]) -> None:
        """Replace the design's ``training``, ``data`` or ``search`` section (commands only)."""
        if section not in ("training", "data", "search"):
            raise ValueError(f"unknown design section {section!r}")
        setattr(self._design, section, value)
        self.sectionChanged.emit(section)

    def _set_position(self, node_id: str, pos: tuple[float, float]) -> None:
        node = self._design.node(node_id)
        new = (float(pos[0]), float(pos[1]))
        if node.position != new:
            node.position = new
            self.nodeChanged.emit(node_id)

    def _swap_design(self, new: Design) -> None:
        """Make ``new`` the design (a block edit's result, or undoing one): the analysis is
        recomputed and the differences go out as node/edge signals, so views keep their state
        (no :attr:`designReset`). Commands only; ``new`` becomes the document's own object."""
        old = self._design
        old_nodes = {n.id: n for n in old}
        new_nodes = {n.id: n for n in new}
        gone = [
            i
            for i, n in old_nodes.items()
            if i not in new_nodes
            or (new_nodes[i].type, new_nodes[i].network) != (n.type, n.network)
        ]
        gone_set = set(gone)
        came = [i for i in new_nodes if i not in old_nodes or i in gone_set]
        changed = [
            i
            for i, n in new_nodes.items()
            if i in old_nodes and i not in gone_set and _node_state(n) != _node_state(old_nodes[i])
        ]
        new_edges = set(new.edges)
        old_edges = set(old.edges)
        self._design = new
        with gc_paused():
            self.analysis = analyze(new)
        self._pending.clear()
        self._pending_structure = False
        for edge in old.edges:
            if edge not in new_edges or edge.source in gone_set or edge.target in gone_set:
                self.edgeRemoved.emit(edge)
        for node_id in gone:
            self.nodeRemoved.emit(node_id)
        for node_id in came:
            self.nodeAdded.emit(node_id)
        for edge in new.edges:
            if edge not in old_edges or edge.source in gone_set or edge.target in gone_set:
                self.edgeAdded.emit(edge)
        for node_id in changed:
            self.nodeChanged.emit(node_id)
        self.analysisChanged.emit(set(new_nodes))

    # -- internals ---------------------------------------------------------------------------

    def _update_analysis(self, changed: Iterable[str], structure: bool) -> None:
        if self._batch_depth:
            self._pending.update(changed)
            self._pending_structure |= structure
            return
        before = _design_problem_nodes(self.analysis)
        updated = self.analysis.update(changed, structure_changed=structure)
        after = _design_problem_nodes(self.analysis)
        updated |= (before ^ after) | {n for n in after if n in self._design}
        self.analysisChanged.emit(updated)

    def _set_path(self, path: Path | None) -> None:
        if path != self._path:
            self._path = path
            self.pathChanged.emit(path)

    def _on_clean_changed(self, clean: bool) -> None:
        self.modifiedChanged.emit(not clean)


def _node_state(node: Node) -> tuple:
    return (node.params, node.label, node.position)


def _design_problem_nodes(analysis: ShapeAnalysis) -> set[str]:
    """Nodes named by design-wide problems (e.g. a GAN's mismatched discriminator Input)."""
    return {p.node for p in analysis.design_problems if p.node}


def _network_title(name: str, meta: Any) -> str:
    role = meta.get("role") if isinstance(meta, dict) else None
    if not role or role == "model":
        return name
    return role.capitalize() if role == name else f"{name} ({role})"
