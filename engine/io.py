"""The design file format (JSON): parsing, validation of structure, migrations, atomic saving.

Loading never executes code: the file is parsed with :func:`json.loads` into plain records and
checked field by field. Every structural mistake raises :class:`DesignFormatError` with one line
naming the file, the place (``nodes[3].params``) and the fix. Problems of meaning (unknown layer
types, wrong parameter values, bad wiring) load fine and are reported by validation instead, so the
editor can show and fix them.

``dumps(loads(text)) == text`` for every file written by :func:`dumps` (the canonical form).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.errors import DesignFormatError, first_line
from engine.files import atomic_write_bytes, read_regular_file
from engine.graph import NODE_ID_RE, Design, Edge, Node
from engine.layers import REGISTRY
from engine.schema import Document, Number, Rule, Schema, Typed, json_type, show

FORMAT_NAME = "deepwire.design"
#: Version 2 adds block definitions (``blocks``); a design without blocks is still written as
#: version 1, so files that need nothing new stay readable by older Deepwire and byte-identical.
FORMAT_VERSION = 2
#: The version written for a design that uses nothing newer (no blocks).
PLAIN_VERSION = 1
#: ``format`` of a block definition file (resources/blocks, the user's block folder).
BLOCK_FORMAT_NAME = "deepwire.block"

# from_version -> function turning a version-N document (dict) into version N+1.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

#: Deepest nesting of lists/objects allowed inside a parameter or section (a design needs 2-3).
MAX_DEPTH = 64
#: Largest design file read (bytes); checked before reading.
MAX_DESIGN_BYTES = 64 << 20
#: Longest integer literal accepted (digits); Python refuses to convert more than 4300.
MAX_INT_DIGITS = 400

_DOCUMENT = Document(DesignFormatError, "<design>")
_OBJECT = Typed(types=dict)


def _finite(value: int | float) -> bool:
    """True for a number a float can hold (an integer of 400 digits is valid JSON, but
    ``math.isfinite`` raises OverflowError on it)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _xy(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and _finite(v) for v in value
        )
    )


#: The top level of a design file (``format`` and ``version`` are checked before migrating).
TOP = Schema(
    {
        "format": Typed(types=str),
        "version": Rule(
            test=lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
            text="a positive integer",
        ),
        "name": Typed(default="Untitled", types=str),
        "description": Typed(default="", types=str),
        "networks": Typed(types=dict),
        "nodes": Typed(default=[], types=list),
        "edges": Typed(default=[], types=list),
        "data": Typed(types=dict),
        "training": Typed(types=dict),
        "search": Typed(types=dict),
        "blocks": Typed(types=dict),
    },
    _DOCUMENT,
)
#: One block definition (an entry of ``blocks``, or a block file without format/version/name).
BLOCK = Schema(
    {
        "format": Typed(types=str),
        "version": Typed(types=int),
        "name": Typed(types=str),
        "description": Typed(default="", types=str),
        "params": Typed(default={}, types=dict),
        "nodes": Typed(default=[], types=list),
        "edges": Typed(default=[], types=list),
        "blocks": Typed(types=dict),
    },
    _DOCUMENT,
)
#: One entry of ``networks``.
NETWORK = Schema({"role": Rule(text="a role name")}, _DOCUMENT)
#: One entry of ``nodes`` (``network`` defaults to the first network).
NODE = Schema(
    {
        "id": Rule(
            test=lambda v: isinstance(v, str) and NODE_ID_RE.match(v) is not None,
            text="a name of letters, digits and _ that starts with a letter (at most 64)",
        ),
        "type": Typed(types=str),
        "label": Typed(default="", types=str),
        "network": Typed(types=str),
        "position": Rule(default=[0.0, 0.0], test=_xy, text="[x, y] numbers"),
        "params": Typed(default={}, types=dict),
    },
    _DOCUMENT,
)
#: One entry of ``edges``.
EDGE = Schema(
    {
        "source": Typed(types=str),
        "target": Typed(types=str),
        "port": Number(default=0, low=0, high=1023, integer=True),
    },
    _DOCUMENT,
)


def migration(from_version: int):
    """Register a function that upgrades a document from ``from_version`` to the next version."""

    def decorate(fn: Callable[[dict[str, Any]], dict[str, Any]]):
        if from_version in MIGRATIONS:
            raise ValueError(f"a migration from version {from_version} exists already")
        MIGRATIONS[from_version] = fn
        return fn

    return decorate


@migration(1)
def _add_blocks(doc: dict[str, Any]) -> dict[str, Any]:
    """Version 1 → 2: block definitions arrive; a version-1 design has none, so nothing changes."""
    return doc


def migrate(doc: dict[str, Any], where: str) -> dict[str, Any]:
    """Upgrade ``doc`` to :data:`FORMAT_VERSION` through the registered migrations."""
    version = TOP.get(doc, "version", None, where=where)
    if version > FORMAT_VERSION:
        raise DesignFormatError(
            f"{where}: design format version {version} is newer than this Deepwire understands "
            f"(up to {FORMAT_VERSION}); update Deepwire to open it"
        )
    while version < FORMAT_VERSION:
        step = MIGRATIONS.get(version)
        if step is None:
            raise DesignFormatError(f"{where}: no migration from format version {version}")
        doc = step(dict(doc))
        version += 1
        doc["version"] = version
    return doc


def _fail(where: str, message: str) -> DesignFormatError:
    return DesignFormatError(f"{where}: {message}")


def _object(value: Any, where: str, what: str) -> dict:
    """``value`` when it is a JSON object, else ``<where>: <what> must be an object, got …``."""
    if not _OBJECT.accepts(value):
        raise _DOCUMENT.at(where).must(what, value, _OBJECT)
    return value


def _check_json_value(value: Any, where: str) -> None:
    """Parameters and sections hold plain JSON: finite numbers (files stay portable) nested at
    most :data:`MAX_DEPTH` levels (checked without recursion, so any depth is refused cleanly)."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, at, depth = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise _fail(where + at, f"non-finite number {item!r}; use a finite value")
        if isinstance(item, (dict, list)):
            if depth >= MAX_DEPTH:
                raise _fail(
                    where,
                    f"values nested more than {MAX_DEPTH} levels deep (at "
                    f"{_short(at.lstrip('.'))}); flatten the value",
                )
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for k, v in children:
                stack.append(
                    (v, f"{at}.{k}" if isinstance(item, dict) else f"{at}[{k}]", depth + 1)
                )


def _short(where: str, limit: int = 80) -> str:
    return where if len(where) <= limit else where[: limit - 1] + "…"


def design_from_dict(doc: Any, source: str = "<design>") -> Design:
    """Build a :class:`Design` from a parsed JSON document, checking its structure."""
    if not isinstance(doc, dict):
        raise _fail(
            source, f"a design file must hold a JSON object at the top, got {json_type(doc)}"
        )
    fmt = doc.get("format")
    if fmt != FORMAT_NAME:
        raise _fail(
            source,
            f'not a Deepwire design ("format" is {json.dumps(fmt)}, expected "{FORMAT_NAME}")',
        )
    doc = migrate(doc, source)
    TOP.check_keys(doc, where=source)
    design = Design(TOP.get(doc, "name", where=source), TOP.get(doc, "description", where=source))
    if "networks" in doc:
        design.networks = _networks(TOP.get(doc, "networks", where=source), source)
    for section in ("data", "training", "search"):
        if section in doc:
            value = TOP.get(doc, section, where=source)
            _check_json_value(value, f"{source}: {section}")
            setattr(design, section, value)
    _add_nodes(design, TOP.get(doc, "nodes", where=source), source)
    _add_edges(design, TOP.get(doc, "edges", where=source), source)
    if "blocks" in doc:
        design.blocks = _blocks(TOP.get(doc, "blocks", where=source), source)
    return design


def _blocks(entries: dict[str, Any], source: str) -> dict[str, Any]:
    """The checked ``blocks`` table: each entry a definition; no definition contains itself."""
    from engine.blocks import definition_cycle

    blocks = {}
    for name, raw in entries.items():
        if not NODE_ID_RE.match(name):
            raise _fail(source, f"block name {show(name)} must be letters, digits or _")
        blocks[name] = _block(name, raw, f"{source}: blocks.{name}")
    cycle = definition_cycle(blocks)
    if cycle:
        raise _fail(
            source,
            f"blocks {' → '.join(cycle)} contain each other; a block cannot contain itself "
            "(make one of them unique or expand the instance)",
        )
    return blocks


def _block(name: str, raw: Any, where: str):
    """One checked block definition (its body is read like a design's nodes and edges)."""
    from engine.blocks import BlockDef

    BLOCK.check_keys(_object(raw, where, "a block definition"), where=where)
    params = BLOCK.get(raw, "params", where=where)
    for exposed, targets in params.items():
        if not (
            isinstance(targets, list)
            and targets
            and all(isinstance(t, str) and "." in t for t in targets)
        ):
            raise _fail(
                f"{where}.params.{exposed}",
                'must be a list of "node.param" targets, e.g. ["conv1.out_channels"]',
            )
    body = Design(name)
    _add_nodes(body, BLOCK.get(raw, "nodes", where=where), where)
    _add_edges(body, BLOCK.get(raw, "edges", where=where), where)
    _check_json_value(params, f"{where}.params")
    return BlockDef(
        name,
        body,
        {k: list(v) for k, v in params.items()},
        BLOCK.get(raw, "description", where=where),
    )


def _networks(networks: dict[str, Any], source: str) -> dict[str, dict[str, Any]]:
    """The design's checked ``networks`` table: valid names, known keys, JSON values."""
    if not networks:
        raise _fail(source, '"networks" is empty; omit it for a single network')
    out = {}
    for name, meta in networks.items():
        where = f"{source}: networks.{name}"
        if not NODE_ID_RE.match(name):
            raise _fail(source, f"network name {show(name)} must be letters, digits or _")
        NETWORK.check_keys(_object(meta, where, "a network entry"), where=where)
        _check_json_value(meta, where)
        out[name] = dict(meta)
    return out


def _add_nodes(design: Design, nodes: list[Any], source: str) -> None:
    """Check each node entry and add it to ``design`` (ids unique, type aliases resolved).

    A plainly valid entry (the common case) is read by :func:`_plain_node` in a few tests; any
    other goes through the field-by-field checks, which word the refusal.
    """
    default_network = next(iter(design.networks))
    types: dict[str, str] = {}  # type id as written → current type id (aliases resolved)
    for i, raw in enumerate(nodes):
        plain = _plain_node(raw, default_network)
        if plain is None:
            node = _checked_node(design, raw, f"{source}: nodes[{i}]", source, default_network)
        else:
            node_id, type_id, params, x, y, label, network = plain
            if node_id in design:
                raise _fail(
                    f"{source}: node '{node_id}'",
                    "this id is used by two nodes; give each node its own id",
                )
            if not _flat_json(params):
                _check_json_value(params, f"{source}: node '{node_id}'.params")
            resolved = types.get(type_id)
            if resolved is None:
                resolved = types[type_id] = REGISTRY.resolve(type_id) or type_id
            node = Node(node_id, resolved, dict(params), (float(x), float(y)), label, network)
        design.add_node(node)


_NODE_KEYS = frozenset(NODE.keys)
_EDGE_KEYS = frozenset(EDGE.keys)
_ORIGIN = [0.0, 0.0]
_NO_PARAMS: dict[str, Any] = {}


def _plain_node(raw: Any, default_network: str) -> tuple | None:
    """(id, type, params, x, y, label, network) of a node entry that passes every check of
    :func:`_checked_node` except the duplicate id and nested params, else None."""
    if type(raw) is not dict or not _NODE_KEYS.issuperset(raw):
        return None
    node_id, type_id = raw.get("id"), raw.get("type")
    label, network = raw.get("label", ""), raw.get("network", default_network)
    params, pos = raw.get("params", _NO_PARAMS), raw.get("position", _ORIGIN)
    if (
        type(node_id) is not str
        or type(type_id) is not str
        or type(label) is not str
        or type(network) is not str
        or type(params) is not dict
        or type(pos) is not list
        or len(pos) != 2
        or NODE_ID_RE.match(node_id) is None
    ):
        return None
    x, y = pos
    if (
        (type(x) is not float and type(x) is not int)
        or (type(y) is not float and type(y) is not int)
        or not _finite(x)
        or not _finite(y)
    ):
        return None
    return node_id, type_id, params, x, y, label, network


def _flat_json(params: dict) -> bool:
    """True when every value is a string, integer, boolean, null or finite float (nothing for
    :func:`_check_json_value` to refuse)."""
    for value in params.values():
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                return False
        elif kind is not int and kind is not str and kind is not bool and value is not None:
            return False
    return True


def _checked_node(design: Design, raw: Any, where: str, source: str, default_network: str) -> Node:
    """The node of one entry, checked field by field (each refusal one line)."""
    NODE.check_keys(_object(raw, where, "a node"), where=where)
    node_id = NODE.get(raw, "id", None, where=where)
    where = f"{source}: node '{node_id}'"
    if node_id in design:
        raise _fail(where, "this id is used by two nodes; give each node its own id")
    type_id = NODE.get(raw, "type", None, where=where)
    type_id = REGISTRY.resolve(type_id) or type_id  # aliases for renamed layer types
    params = NODE.get(raw, "params", where=where)
    _check_json_value(params, f"{where}.params")
    pos = NODE.get(raw, "position", where=where)
    label = NODE.get(raw, "label", where=where)
    network = NODE.get(raw, "network", default_network, where=where)
    return Node(node_id, type_id, dict(params), (float(pos[0]), float(pos[1])), label, network)


def _add_edges(design: Design, edges: list[Any], source: str) -> None:
    """Check each edge entry (both ends exist, no duplicate) and add it to ``design``."""
    for i, raw in enumerate(edges):
        port = raw.get("port", 0) if type(raw) is dict else None
        if (
            type(port) is int
            and 0 <= port <= 1023
            and _EDGE_KEYS.issuperset(raw)
            and type(src := raw.get("source")) is str
            and type(dst := raw.get("target")) is str
            and src in design
            and dst in design
        ):  # a plainly valid entry: only the duplicate check is left
            edge = Edge(src, dst, port)
        else:
            edge = _checked_edge(design, raw, f"{source}: edges[{i}]")
        if design.has_edge(edge):
            raise _fail(
                f"{source}: edges[{i}]",
                f"duplicate edge {edge.source} → {edge.target} port {edge.port}; remove one",
            )
        design.add_edge(edge)


def _checked_edge(design: Design, raw: Any, where: str) -> Edge:
    """The edge of one entry, checked field by field (each refusal one line)."""
    EDGE.check_keys(_object(raw, where, "an edge"), where=where)
    src = EDGE.get(raw, "source", None, where=where)
    dst = EDGE.get(raw, "target", None, where=where)
    port = EDGE.get(raw, "port", where=where)
    for end, what in ((src, "source"), (dst, "target")):
        if end not in design:
            raise _fail(where, f"{what} {show(end)} is not a node id of this design")
    return Edge(src, dst, port)


def design_to_dict(design: Design) -> dict[str, Any]:
    """The canonical JSON document of ``design``."""
    version = FORMAT_VERSION if design.blocks else PLAIN_VERSION
    doc: dict[str, Any] = {"format": FORMAT_NAME, "version": version, "name": design.name}
    if design.description:
        doc["description"] = design.description
    doc["networks"] = design.networks
    doc["nodes"] = _nodes_doc(design)
    doc["edges"] = _edges_doc(design)
    if design.blocks:
        doc["blocks"] = {name: block_entry(defn) for name, defn in design.blocks.items()}
    if design.data:
        doc["data"] = design.data
    if design.training:
        doc["training"] = design.training
    if design.search:
        doc["search"] = design.search
    return doc


def _nodes_doc(design: Design) -> list[dict[str, Any]]:
    return [
        {
            "id": n.id,
            "type": n.type,
            "label": n.label,
            "network": n.network,
            "position": [_num(n.position[0]), _num(n.position[1])],
            "params": n.params,
        }
        for n in design
    ]


def _edges_doc(design: Design) -> list[dict[str, Any]]:
    return [{"source": e.source, "target": e.target, "port": e.port} for e in design.edges]


def block_entry(defn: Any) -> dict[str, Any]:
    """The JSON entry of one block definition (as in a design's ``blocks``)."""
    doc: dict[str, Any] = {}
    if defn.description:
        doc["description"] = defn.description
    doc["params"] = defn.params
    doc["nodes"] = _nodes_doc(defn.body)
    doc["edges"] = _edges_doc(defn.body)
    return doc


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(float(x), 3)


def loads(text: str, source: str = "<design>") -> Design:
    """Parse design JSON text (never executes anything); a leading UTF-8 BOM is ignored."""
    text = text.removeprefix("\ufeff")
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int)
    except json.JSONDecodeError as exc:
        raise _fail(
            source, f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except _HugeIntError:
        raise _fail(source, _huge_int_message(text)) from None
    except ValueError as exc:
        raise _fail(source, str(exc)) from None
    except RecursionError:
        raise _fail(
            source,
            f"JSON nested too deeply (more than {MAX_DEPTH} levels are never "
            "needed); flatten the values",
        ) from None
    return design_from_dict(doc, source)


class _HugeIntError(ValueError):
    pass


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _HugeIntError
    return int(digits)


def _huge_int_message(text: str) -> str:
    """Name the field (or line and column) of the first over-long integer literal."""
    pattern = r'(?:"((?:[^"\\]|\\.)*)"\s*:\s*)?-?(\d{' + str(MAX_INT_DIGITS + 1) + ",})"
    match = re.search(pattern, text)
    if match is None:  # pragma: no cover - _parse_int only fails on such a literal
        return f"an integer has more than {MAX_INT_DIGITS} digits; use a smaller number"
    line = text.count("\n", 0, match.start(2)) + 1
    col = match.start(2) - (text.rfind("\n", 0, match.start(2)) + 1) + 1
    field = f"field {show(match.group(1))}" if match.group(1) is not None else "a value"
    return (
        f"{field} at line {line}, column {col} is an integer of {len(match.group(2))} "
        f"digits (at most {MAX_INT_DIGITS}); use a smaller number"
    )


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a design file; use a finite number")


def dumps(design: Design) -> str:
    """Canonical JSON text of ``design``: 2-space indent, short lists and objects on one line.

    A value nested deeper than :data:`MAX_DEPTH` (only possible by building the design in code)
    raises :class:`DesignFormatError` instead of a RecursionError.
    """
    return _pretty(checked_dict(design), 0) + "\n"


def checked_dict(design: Design) -> dict[str, Any]:
    """:func:`design_to_dict`, refusing (DesignFormatError) what loading would refuse: values
    nested deeper than :data:`MAX_DEPTH`, non-finite numbers. Every writer uses it, so no file
    Deepwire writes is one it cannot read back."""
    doc = design_to_dict(design)
    for section in ("networks", "data", "training", "search"):
        _check_json_value(doc.get(section), f"{design.name!r}: {section}")
    for node in doc["nodes"]:
        _check_json_value(node["params"], f"{design.name!r}: node '{node['id']}'.params")
    for name, block in doc.get("blocks", {}).items():
        for node in block["nodes"]:
            _check_json_value(
                node["params"], f"{design.name!r}: blocks.{name} node '{node['id']}'.params"
            )
    return doc


_LINE_WIDTH = 96


def _pretty(value: Any, indent: int) -> str:
    flat = json.dumps(value, ensure_ascii=False)
    if not isinstance(value, (dict, list)) or (indent > 0 and len(flat) + indent <= _LINE_WIDTH):
        return flat
    if not value:
        return flat
    pad = " " * (indent + 2)
    if isinstance(value, dict):
        items = [
            f"{pad}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, indent + 2)}"
            for k, v in value.items()
        ]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + _pretty(v, indent + 2) for v in value]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def load_design(path: str | os.PathLike[str]) -> Design:
    """Read a design file; any problem raises :class:`DesignFormatError` naming the file.

    Only regular files up to :data:`MAX_DESIGN_BYTES` are read (a FIFO or ``/dev/zero`` is
    refused before reading).
    """
    p = Path(path)
    raw = read_regular_file(p, MAX_DESIGN_BYTES, "design file", DesignFormatError)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DesignFormatError(
            f"{p}: not UTF-8 text (byte {exc.start}); is this a design file?"
        ) from None
    return loads(text, str(p))


def save_design(design: Design, path: str | os.PathLike[str]) -> None:
    """Save atomically in canonical form (see :mod:`engine.files`); a failure leaves the old
    file as it was."""
    atomic_write_bytes(path, dumps(design).encode("utf-8"))


# -- block definition files -----------------------------------------------------------------


def block_to_dict(defn: Any, blocks: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON document of a block definition file: the definition's entry plus ``format``,
    ``version`` and ``name``, and the definitions it uses (nested) from ``blocks``."""
    from engine.blocks import dependencies

    doc: dict[str, Any] = {"format": BLOCK_FORMAT_NAME, "version": FORMAT_VERSION}
    doc["name"] = defn.name
    doc.update(block_entry(defn))
    used = dependencies(blocks or {}, defn)
    if used:
        doc["blocks"] = {name: block_entry(blocks[name]) for name in used}
    return doc


def dumps_block(defn: Any, blocks: dict[str, Any] | None = None) -> str:
    """Canonical JSON text of a block definition file (see :func:`block_to_dict`)."""
    return _pretty(block_to_dict(defn, blocks), 0) + "\n"


def loads_block(text: str, source: str = "<block>") -> tuple[Any, dict[str, Any]]:
    """(the definition, the definitions it uses) from block file text; never runs code."""
    design = loads(_as_design_text(text, source), source)
    name = design.name
    return design.blocks.pop(name), design.blocks


def _as_design_text(text: str, source: str) -> str:
    """A block file re-worded as a design holding it in ``blocks`` (one parser for both)."""
    try:
        doc = json.loads(text.removeprefix("\ufeff"), parse_constant=_reject_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise _fail(source, f"not valid JSON ({first_line(exc)})") from None
    if not isinstance(doc, dict) or doc.get("format") != BLOCK_FORMAT_NAME:
        raise _fail(source, f'not a Deepwire block file ("format" must be "{BLOCK_FORMAT_NAME}")')
    name = doc.get("name")
    if not isinstance(name, str) or not NODE_ID_RE.match(name):
        raise _fail(source, '"name" must be a block name of letters, digits and _')
    BLOCK.check_keys(doc, where=source)
    blocks = dict(doc.get("blocks") or {})
    if name in blocks:
        raise _fail(source, f"block '{name}' also appears under \"blocks\"; remove it there")
    blocks[name] = {
        k: v for k, v in doc.items() if k not in ("format", "version", "name", "blocks")
    }
    wrapper = {"format": FORMAT_NAME, "version": doc.get("version"), "name": name}
    wrapper["blocks"] = blocks
    return json.dumps(wrapper)


def load_block(path: str | os.PathLike[str]) -> tuple[Any, dict[str, Any]]:
    """Read a block definition file (see :func:`loads_block`)."""
    p = Path(path)
    raw = read_regular_file(p, MAX_DESIGN_BYTES, "block file", DesignFormatError)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DesignFormatError(
            f"{p}: not UTF-8 text (byte {exc.start}); is this a block file?"
        ) from None
    return loads_block(text, str(p))


def save_block(defn: Any, path: str | os.PathLike[str], blocks: dict[str, Any] | None = None):
    """Save a block definition file atomically (a failure leaves the old file as it was)."""
    atomic_write_bytes(path, dumps_block(defn, blocks).encode("utf-8"))
