"""Undoable edits of a :class:`~gui.document.Document`.

Every command changes the document only through its low-level ``_`` mutators, never canvas items;
the items follow the document's signals. ``undo()`` restores the design exactly — node order, edge
order, parameter key order, positions — so ``engine.io.dumps`` before an edit equals ``dumps``
after its undo. A command that would change nothing marks itself obsolete and leaves the stack.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterable, Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand

from engine.blocks import dependencies, used_blocks
from engine.editing import training_section
from engine.graph import Design, Edge, Node
from engine.io import block_entry, dumps, loads
from engine.layers import REGISTRY, ParamValueError
from gui.document import DEFAULT_DATA, Document

Position = tuple[float, float]


def plural(n: int, word: str) -> str:
    """``1 node``, ``3 nodes``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class DocumentCommand(QUndoCommand):
    """An undoable edit of one document, which it refers to weakly: :attr:`doc` is set like a
    plain attribute. The document's undo stack holds the command; a command holding the document
    back made a reference cycle that only the cyclic collector could free, and the collector
    frees a stack's commands unsafely (gui/document.py's docstring)."""

    @property
    def doc(self) -> Document:
        """The document this command edits (alive while the command is on its stack)."""
        return self._doc()

    @doc.setter
    def doc(self, doc: Document) -> None:
        """Refer to ``doc`` weakly."""
        self._doc = weakref.ref(doc)


class AddNode(DocumentCommand):
    """Add a layer of ``type_id`` at ``pos``; optionally wire ``connect_after``'s output into it.

    The wire is added only when :meth:`Document.can_connect` allows it (same network, shapes
    fit); :attr:`connected` tells whether it was. :attr:`node_id` is the new node's id.
    """

    def __init__(
        self,
        doc: Document,
        type_id: str,
        pos: Position,
        connect_after: str | None = None,
        network: str | None = None,
    ) -> None:
        spec = REGISTRY.get(type_id)  # KeyError for an unknown type
        super().__init__(f"Add {spec.display_name}")
        design = doc.design
        if connect_after is not None and connect_after not in design:
            connect_after = None
        if network is None:
            network = (
                design.node(connect_after).network
                if connect_after is not None
                else next(iter(design.networks))
            )
        self.doc = doc
        self.node = Node(
            design.new_node_id(spec.type_id),
            spec.type_id,
            {},
            (float(pos[0]), float(pos[1])),
            "",
            network,
        )
        self.node_id = self.node.id
        self._after = connect_after
        self._edge: Edge | None = None
        self._decided = False

    @property
    def connected(self) -> bool:
        """Whether the new node was wired after ``connect_after``."""
        return self._edge is not None

    def redo(self) -> None:
        self.doc._add_node(self.node)
        if not self._decided:
            self._decided = True
            if self._after is not None:
                edge = Edge(self._after, self.node_id, 0)
                ok, _ = self.doc.can_connect(edge.source, edge.target, edge.port)
                if ok:
                    self._edge = edge
                    self.setText(f"{self.text()} after {self._after}")
        if self._edge is not None:
            self.doc._add_edge(self._edge)

    def undo(self) -> None:
        with self.doc.batch():
            if self._edge is not None:
                self.doc._remove_edge(self._edge)
            self.doc._remove_node(self.node_id)


class RemoveItems(DocumentCommand):
    """Delete nodes (with every edge touching them) and further edges; undo puts all back."""

    def __init__(self, doc: Document, node_ids: Iterable[str], edges: Iterable[Edge] = ()) -> None:
        super().__init__()
        design = doc.design
        self.doc = doc
        ids = list(dict.fromkeys(n for n in node_ids if n in design))
        explicit = {e for e in edges if design.has_edge(e)}
        idset = set(ids)
        node_index = {n.id: i for i, n in enumerate(design)}
        self._nodes = sorted((node_index[n], design.node(n)) for n in ids)
        self._edges = [
            (i, e)
            for i, e in enumerate(design.edges)
            if e in explicit or e.source in idset or e.target in idset
        ]
        if len(ids) == 1 and not explicit:
            self.setText(f"Delete {ids[0]}")
        elif ids and explicit:
            self.setText(f"Delete {plural(len(ids), 'node')} and {plural(len(explicit), 'edge')}")
        elif ids:
            self.setText(f"Delete {plural(len(ids), 'node')}")
        elif len(explicit) == 1:
            e = next(iter(explicit))
            self.setText(f"Disconnect {e.source} → {e.target}")
        else:
            self.setText(f"Disconnect {plural(len(explicit), 'edge')}")

    @property
    def empty(self) -> bool:
        """True when there was nothing to delete."""
        return not self._nodes and not self._edges

    def redo(self) -> None:
        if self.empty:
            self.setObsolete(True)
            return
        with self.doc.batch():
            for _, edge in reversed(self._edges):
                self.doc._remove_edge(edge)
            for _, node in reversed(self._nodes):
                self.doc._remove_node(node.id)

    def undo(self) -> None:
        with self.doc.batch():
            for index, node in self._nodes:
                self.doc._add_node(node, index)
            for index, edge in self._edges:
                self.doc._add_edge(edge, index)


class Connect(DocumentCommand):
    """Wire ``edge.source``'s output into input ``edge.port`` of ``edge.target``.

    Raises ``ValueError`` with the reason when :meth:`Document.can_connect` refuses.
    """

    def __init__(self, doc: Document, edge: Edge) -> None:
        ok, reason = doc.can_connect(edge.source, edge.target, edge.port)
        if not ok:
            raise ValueError(reason)
        super().__init__(f"Connect {edge.source} → {edge.target}")
        self.doc = doc
        self.edge = edge

    def redo(self) -> None:
        self.doc._add_edge(self.edge)

    def undo(self) -> None:
        self.doc._remove_edge(self.edge)


class Disconnect(DocumentCommand):
    """Remove one edge; undo re-inserts it at its old place in the edge list."""

    def __init__(self, doc: Document, edge: Edge) -> None:
        if not doc.design.has_edge(edge):
            raise ValueError(f"there is no edge {edge.source} → {edge.target}")
        super().__init__(f"Disconnect {edge.source} → {edge.target}")
        self.doc = doc
        self.edge = edge
        self._index = -1

    def redo(self) -> None:
        self._index = self.doc._remove_edge(self.edge)

    def undo(self) -> None:
        self.doc._add_edge(self.edge, self._index)


class ReplaceEdge(DocumentCommand):
    """Wire ``edge.source`` into an input that another wire feeds: the old wire goes and the new
    one comes in one undo step (undo puts the old wire back at its place in the edge list).

    Raises ``ValueError`` with the reason when the input is free or the new wire is refused.
    """

    def __init__(self, doc: Document, edge: Edge) -> None:
        old = [e for e in doc.design.in_edges(edge.target) if e.port == edge.port]
        if not old:
            raise ValueError(f"input {edge.port + 1} of '{edge.target}' is free; connect instead")
        ok, reason = doc.can_connect(edge.source, edge.target, edge.port, replace=True)
        if not ok:
            raise ValueError(reason)
        self.old = old[0]
        super().__init__(
            f"Replace {self.old.source} → {edge.target} with {edge.source} → {edge.target}"
        )
        self.doc = doc
        self.edge = edge
        self._index = -1

    def redo(self) -> None:
        self._index = self.doc._remove_edge(self.old)
        self.doc._add_edge(self.edge)

    def undo(self) -> None:
        self.doc._remove_edge(self.edge)
        self.doc._add_edge(self.old, self._index)


class _SetPositions(DocumentCommand):
    """Shared body of moves and auto-layout: ``{id: (old, new)}``."""

    def __init__(self, doc: Document, moves: Mapping[str, tuple[Position, Position]]) -> None:
        super().__init__()
        self.doc = doc
        self.moves: dict[str, tuple[Position, Position]] = {
            nid: (_pos(old), _pos(new)) for nid, (old, new) in moves.items() if nid in doc.design
        }

    def redo(self) -> None:
        if not any(old != new for old, new in self.moves.values()):
            self.setObsolete(True)
        for nid, (_, new) in self.moves.items():
            self.doc._set_position(nid, new)

    def undo(self) -> None:
        for nid, (old, _) in self.moves.items():
            self.doc._set_position(nid, old)


class MoveNodes(_SetPositions):
    """Move nodes: ``{id: (old position, new position)}``.

    Moves pushed with the same ``drag_serial`` (one mouse drag) merge into one undo step.
    """

    MERGE_ID = 0x4D4F5645

    def __init__(
        self,
        doc: Document,
        moves: Mapping[str, tuple[Position, Position]],
        drag_serial: int | None = None,
    ) -> None:
        super().__init__(doc, moves)
        self.drag_serial = drag_serial
        self._retitle()

    def _retitle(self) -> None:
        ids = list(self.moves)
        self.setText(f"Move {ids[0]}" if len(ids) == 1 else f"Move {plural(len(ids), 'node')}")

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self.MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if (
            not isinstance(other, MoveNodes)
            or self.drag_serial is None
            or other.drag_serial != self.drag_serial
        ):
            return False
        for nid, (old, new) in other.moves.items():
            first = self.moves.get(nid, (old, new))[0]
            self.moves[nid] = (first, new)
        self._retitle()
        self.setObsolete(not any(o != n for o, n in self.moves.values()))
        return True


class AutoLayout(_SetPositions):
    """Place nodes at computed positions ``{id: (x, y)}`` in one undo step."""

    def __init__(self, doc: Document, positions: Mapping[str, Position]) -> None:
        design = doc.design
        super().__init__(
            doc,
            {
                nid: (design.node(nid).position, pos)
                for nid, pos in positions.items()
                if nid in design
            },
        )
        self.setText("Auto-layout")


class SetParam(DocumentCommand):
    """Set one parameter (``value`` None resets it to the layer default).

    The value is checked with the layer's :class:`~engine.layers.ParamSpec` first: an invalid one
    raises ``ValueError`` with the reason and nothing is pushed.
    """

    def __init__(self, doc: Document, node_id: str, name: str, value: Any) -> None:
        node = doc.design.node(node_id)
        if node.type not in REGISTRY:
            raise ValueError(f"'{node_id}' has an unknown layer type '{node.type}'")
        spec = REGISTRY.get(node.type)
        try:
            pspec = spec.param(name)
        except KeyError:
            known = ", ".join(p.name for p in spec.params) or "none"
            raise ValueError(
                f"{spec.display_name} has no parameter '{name}' (its parameters: {known})"
            ) from None
        if value is not None:
            try:
                value = pspec.coerce(value)
            except ParamValueError as exc:
                raise ValueError(f"{name} of {node_id} {exc}") from None
            if isinstance(value, tuple):
                value = list(value)  # JSON form
        super().__init__(
            f"Change {name} of {node_id}" if value is not None else f"Reset {name} of {node_id}"
        )
        self.doc = doc
        self.node_id = node_id
        self.name = name
        self.value = value
        self._old_params = copy.deepcopy(node.params)

    def redo(self) -> None:
        old = self.doc.design.node(self.node_id).params.get(self.name)
        if old == self.value:
            self.setObsolete(True)
            return
        self.doc._set_param(self.node_id, self.name, copy.deepcopy(self.value))

    def undo(self) -> None:
        self.doc._set_params(self.node_id, copy.deepcopy(self._old_params))


class Relabel(DocumentCommand):
    """Change a node's label (the text shown above its type); empty shows the id."""

    def __init__(self, doc: Document, node_id: str, text: str) -> None:
        text = text.strip()
        super().__init__(f"Rename {node_id} to '{text}'" if text else f"Clear label of {node_id}")
        self.doc = doc
        self.node_id = node_id
        self.new = text
        self.old = doc.design.node(node_id).label

    def redo(self) -> None:
        if self.old == self.new:
            self.setObsolete(True)
            return
        self.doc._set_label(self.node_id, self.new)

    def undo(self) -> None:
        self.doc._set_label(self.node_id, self.old)


class Paste(DocumentCommand):
    """Add copies of ``nodes`` (fresh ids) shifted by ``offset``, with the edges among them.

    A node whose network the design lacks joins ``network`` (default: the design's first);
    edges that would then cross networks are dropped. :attr:`node_ids` are the new ids.
    """

    def __init__(
        self,
        doc: Document,
        nodes: Iterable[Node],
        edges: Iterable[Edge],
        offset: Position = (0.0, 0.0),
        network: str | None = None,
        text: str | None = None,
        blocks: Mapping[str, Any] | None = None,
    ) -> None:
        design = doc.design
        self._blocks = _missing_blocks(design, blocks or {})
        fallback = network if network in design.networks else next(iter(design.networks))
        taken = {n.id for n in design}
        mapping: dict[str, str] = {}
        self._nodes: list[Node] = []
        for node in nodes:
            new_id = _fresh_id(node.type, taken)
            taken.add(new_id)
            mapping[node.id] = new_id
            net = node.network if network is None and node.network in design.networks else fallback
            position = (node.position[0] + offset[0], node.position[1] + offset[1])
            self._nodes.append(node.copy(id=new_id, position=position, network=net))
        nets = {n.id: n.network for n in self._nodes}
        self._edges: list[Edge] = []
        for e in edges:
            if e.source in mapping and e.target in mapping:
                new = Edge(mapping[e.source], mapping[e.target], e.port)
                if nets[new.source] == nets[new.target] and new not in self._edges:
                    self._edges.append(new)
        super().__init__(text or (f"Paste {plural(len(self._nodes), 'node')}"))
        self.doc = doc
        self.node_ids = [n.id for n in self._nodes]

    def redo(self) -> None:
        if not self._nodes:
            self.setObsolete(True)
            return
        with self.doc.batch():
            for name, defn in self._blocks.items():
                self.doc.design.blocks[name] = defn.copy()
            for node in self._nodes:
                self.doc._add_node(node)
            for edge in self._edges:
                self.doc._add_edge(edge)

    def undo(self) -> None:
        with self.doc.batch():
            for edge in reversed(self._edges):
                self.doc._remove_edge(edge)
            for node in reversed(self._nodes):
                self.doc._remove_node(node.id)
            for name in self._blocks:
                self.doc.design.blocks.pop(name, None)


def _missing_blocks(design: Design, blocks: Mapping[str, Any]) -> dict[str, Any]:
    """The pasted definitions the design lacks; one of the same name must be the same."""
    out = {}
    for name, defn in blocks.items():
        have = design.blocks.get(name)
        if have is None:
            out[name] = defn
        elif block_entry(have) != block_entry(defn):
            raise ValueError(
                f"the design already has a different block called '{name}'; rename one of "
                "them (Make Unique) before pasting"
            )
    return out


# -- clipboard fragments ----------------------------------------------------------------------


def fragment_text(design: Design, node_ids: Iterable[str]) -> str:
    """The nodes ``node_ids`` and the edges among them as design JSON (the clipboard format)."""
    nodes, edges = design.subgraph_ids(node_ids)
    part = Design(design.name)
    part.networks = {
        net: dict(design.networks.get(net, {"role": "model"}))
        for net in dict.fromkeys(n.network for n in nodes)
    } or dict(design.networks)
    for node in nodes:
        part.add_node(node.copy())
    for edge in edges:
        part.add_edge(edge)
    names = used_blocks(part)
    for name in list(names):
        if name in design.blocks:
            names.extend(dependencies(design.blocks, design.blocks[name]))
    for name in dict.fromkeys(names):
        if name in design.blocks:
            part.blocks[name] = design.blocks[name].copy()
    return dumps(part)


def parse_fragment(text: str) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges of a clipboard fragment; raises DesignFormatError for foreign text."""
    nodes, edges, _blocks = parse_fragment_blocks(text)
    return nodes, edges


def parse_fragment_blocks(text: str) -> tuple[list[Node], list[Edge], dict[str, Any]]:
    """Nodes, edges and the block definitions the fragment's instances use."""
    part = loads(text, "clipboard")
    return part.nodes, part.edges, dict(part.blocks)


def _fresh_id(type_id: str, taken: set[str]) -> str:
    probe = Design()
    base = probe.new_node_id(type_id).rsplit("_", 1)[0]
    i = 1
    while f"{base}_{i}" in taken:
        i += 1
    return f"{base}_{i}"


def _pos(p: Iterable[float]) -> Position:
    x, y = p
    return (float(x), float(y))


# -- design sections (training settings, data source) ---------------------------------------------

#: ``SetSection(..., value=REMOVE)`` deletes the key (the engine then uses its default); the
#: engine's training-section edits return the same sentinel.
REMOVE = training_section.REMOVE
SECTIONS = ("training", "data", "search")


class SetSection(DocumentCommand):
    """Set (or with :data:`REMOVE`, delete) one key of the design's ``training``, ``data`` or
    ``search`` section, e.g. ``SetSection(doc, "training", "epochs", 50)``.

    The section dict is replaced, never changed in place, and undo puts back the old dict with
    its key order. Consecutive edits of the same key merge into one undo step (spin-box arrows).
    Panels observe these edits through :attr:`Document.sectionChanged`.
    """

    MERGE_ID = 0x5EC7

    def __init__(self, doc: Document, section: str, key: str, value: Any) -> None:
        if section not in SECTIONS:
            raise ValueError(f"unknown design section {section!r}; one of: " + ", ".join(SECTIONS))
        super().__init__()
        self.doc = doc
        self.section = section
        self.key = key
        self.value = value if value is REMOVE else copy.deepcopy(value)
        current = getattr(doc.design, section)
        self._old = copy.deepcopy(current) if isinstance(current, dict) else {}
        self._retitle()

    def _retitle(self) -> None:
        if self.value is REMOVE:
            self.setText(f"Reset {self.section} {self.key}")
        else:
            shown = formatting_value(self.value)
            self.setText(f"Set {self.section} {self.key} to {shown}")

    def _new_section(self) -> dict[str, Any]:
        section = copy.deepcopy(self._old)
        if self.value is REMOVE:
            section.pop(self.key, None)
        else:
            section[self.key] = copy.deepcopy(self.value)
        return section

    def redo(self) -> None:
        new = self._new_section()
        if new == self._old and list(new) == list(self._old):
            self.setObsolete(True)
            return
        self.doc._set_section(self.section, new)

    def undo(self) -> None:
        self.doc._set_section(self.section, copy.deepcopy(self._old))

    def id(self) -> int:  # noqa: A003 - Qt's name
        return self.MERGE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802 - Qt's name
        if (
            not isinstance(other, SetSection)
            or other.doc is not self.doc
            or (other.section, other.key) != (self.section, self.key)
        ):
            return False
        self.value = other.value
        self._retitle()
        if self._new_section() == self._old:
            self.setObsolete(True)
        return True


class ReplaceSection(DocumentCommand):
    """Replace the whole ``training``, ``data`` or ``search`` section at once (e.g. choosing a
    dataset, or any edit of the search space: engine/editing/search_section.py gives the new
    section)."""

    def __init__(
        self, doc: Document, section: str, value: Mapping[str, Any], text: str | None = None
    ) -> None:
        if section not in SECTIONS:
            raise ValueError(f"unknown design section {section!r}; one of: " + ", ".join(SECTIONS))
        super().__init__(text or f"Change {section} settings")
        self.doc = doc
        self.section = section
        self.new = copy.deepcopy(dict(value))
        current = getattr(doc.design, section)
        self._old = copy.deepcopy(current) if isinstance(current, dict) else {}

    def redo(self) -> None:
        if self.new == self._old:
            self.setObsolete(True)
            return
        self.doc._set_section(self.section, copy.deepcopy(self.new))

    def undo(self) -> None:
        self.doc._set_section(self.section, copy.deepcopy(self._old))


def push_design_values(doc: Document, changed: Design, text: str) -> int:
    """Bring ``doc``'s training section and layer parameters to ``changed``'s (a copy of the
    document's design with some values set, e.g. a search's best trial) as ONE undo step: a
    macro of :class:`ReplaceSection` and :class:`SetParam` commands. Returns the number of
    values changed (0: nothing is pushed). A value a layer refuses raises ValueError before
    anything is pushed."""
    design = doc.design
    commands: list[QUndoCommand] = []
    new_training = changed.training if isinstance(changed.training, dict) else {}
    old_training = design.training if isinstance(design.training, dict) else {}
    count = sum(1 for k, v in new_training.items() if old_training.get(k, REMOVE) != v)
    if count:
        commands.append(ReplaceSection(doc, "training", new_training))
    for node in changed:
        if node.id not in design:
            continue
        old = design.node(node.id).params
        for name, value in node.params.items():
            if name not in old or old[name] != value:
                commands.append(SetParam(doc, node.id, name, value))  # ValueError: refused
                count += 1
    if not commands:
        return 0
    doc.undo_stack.beginMacro(text)
    try:
        for command in commands:
            doc.push(command)
    finally:
        doc.undo_stack.endMacro()
    return count


def use_default_data(doc: Document) -> ReplaceSection:
    """The one-click fix for a missing or invalid data section: train on the built-in digits."""
    return ReplaceSection(doc, "data", DEFAULT_DATA, "Use the built-in digits dataset")


def formatting_value(value: Any) -> str:
    """A section value as an undo entry shows it: ``0.001``, ``adam``, ``{patience: 5}``."""
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {formatting_value(v)}" for k, v in value.items()) + "}"
    if value is None:
        return "off"
    return str(value)


# -- block edits (engine/editing/blocks.py returns whole new designs) -----------------------------


class ApplyDesignEdit(DocumentCommand):
    """Swap in ``new_design`` (a :class:`~engine.editing.blocks.BlockEdit`'s result) as ONE undo
    step; undo swaps the design before it back. The document emits node and edge signals for
    the differences only, so the canvas, inspector and problems refresh and keep their state."""

    def __init__(self, doc: Document, new_design: Design, text: str) -> None:
        super().__init__(text)
        self.doc = doc
        self.before = doc.design
        self.after = new_design

    def redo(self) -> None:
        self.doc._swap_design(self.after)

    def undo(self) -> None:
        self.doc._swap_design(self.before)


def push_block_edit(doc: Document, edit: Any) -> str | None:
    """Push a :class:`~engine.editing.blocks.BlockEdit` as one undo step; returns its instance."""
    doc.push(ApplyDesignEdit(doc, edit.design, edit.text))
    return edit.instance
