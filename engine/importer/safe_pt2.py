"""Load a ``.pt2`` archive (``torch.export.save``) without running anything stored in it.

``torch.export.load`` trusts its file: it unpickles weights, constants and sample inputs with
``torch.load(weights_only=False)`` when the safe loader refuses them, ``pickle.loads`` opaque
constants, loads compiled AOTInductor libraries, and parses the graph's symbolic sizes with
``sympy.sympify`` (which calls ``eval``). A hostile archive can therefore run code while it is
merely opened. :func:`load_program` reads the archive into memory once, checks every member the
loader may touch, and only then hands the *same bytes* to ``torch.export.load``:

* every member that may be unpickled (sample inputs, pickled weights or constants, legacy weight
  files, anything not known to be raw tensor bytes or text) must load with torch's weights-only
  unpickler (``torch.load(weights_only=True)``), so the fallback never runs code;
* compiled code (``data/aotinductor/``), TorchBind and opaque (plain-pickle) constants are refused;
* every symbolic size (``expr_str``) must be a plain ``sympy.srepr`` of symbols, integers and the
  size functions torch writes: names outside that list, attribute access, brackets, quotes around
  anything but a symbol name, and ``**`` are refused before sympy sees the text;
* no text in the graph may hold a control character other than a newline or tab (generated code
  treats a carriage return as a line break);
* every operation in the graph must be an ``aten`` operator or one of the symbolic-size operators,
  by name before loading and by identity after: a graph that calls anything else is refused
  before it can run.

Anything refused raises :class:`~engine.errors.ExportError` with one line naming the archive and
the member. Nothing in this module executes code from the archive.
"""

from __future__ import annotations

import io
import json
import math
import operator
import os
import re
import tokenize
import zipfile
from pathlib import Path
from typing import Any

import torch

from engine.errors import ExportError, first_line

# members torch reads as text (or not at all)
_TEXT = {
    "archive_format",
    "archive_version",
    "byteorder",
    ".data/version",
    ".data/serialization_id",
}
_MODEL_RE = re.compile(r"models/([^/]+)\.json")
_CONFIG_RE = re.compile(r"data/(weights|constants)/([^/]+)_(weights|constants)_config\.json")
_SYMBOL_RE = re.compile(r"[a-z]{1,4}\d{1,6}")
_TARGET_RE = re.compile(
    r"torch\.ops\.aten\.\w+\.\w+|math\.trunc|torch\.sym_(not|int|float|ite|max|"
    r"min|sqrt)|_operator\.(getitem|eq|ne|le|ge|lt|gt|neg|pos|mul|add|sub|"
    r"floordiv|mod|pow|truediv|and_|or_)"
)
_FILE_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,100}")

# what torch's srepr of a size expression may contain (sympy constructors, torch's size functions
# and the assumptions a Symbol carries); Pow and friends are left out: 10**10**10 would hang sympy
_EXPR_NAMES = frozenset(
    {
        "Symbol",
        "Dummy",
        "Integer",
        "Float",
        "Rational",
        "Add",
        "Mul",
        "Max",
        "Min",
        "Abs",
        "Mod",
        "Eq",
        "Ne",
        "Lt",
        "Le",
        "Gt",
        "Ge",
        "StrictLessThan",
        "StrictGreaterThan",
        "LessThan",
        "GreaterThan",
        "Equality",
        "Unequality",
        "And",
        "Or",
        "Not",
        "true",
        "false",
        "True",
        "False",
        "None",
        "BooleanTrue",
        "BooleanFalse",
        "oo",
        "Infinity",
        "NegativeInfinity",
        "Zero",
        "One",
        "NegativeOne",
        "Half",
        "IntInfinity",
        "NegativeIntInfinity",
        "int_oo",
        "FloorDiv",
        "CeilDiv",
        "CleanDiv",
        "PythonMod",
        "ModularIndexing",
        "Where",
        "CeilToInt",
        "FloorToInt",
        "TruncToInt",
        "RoundToInt",
        "ToFloat",
        "Identity",
        "IntTrueDiv",
        "FloatTrueDiv",
        "TruncToFloat",
        # Symbol assumptions (keyword arguments)
        "positive",
        "negative",
        "nonnegative",
        "nonpositive",
        "integer",
        "real",
        "finite",
        "infinite",
        "zero",
        "nonzero",
        "commutative",
        "even",
        "odd",
        "rational",
        "extended_real",
        "precision",
        "prime",
        "composite",
        "imaginary",
        "complex",
        "algebraic",
        "transcendental",
        "hermitian",
        "extended_positive",
        "extended_negative",
        "extended_nonnegative",
        "extended_nonpositive",
        "extended_nonzero",
        "irrational",
        "noninteger",
    }
)
_EXPR_OPS = frozenset({"(", ")", ",", "=", "-", "+", "*", "/"})
_STRING_RE = re.compile(r"'(?:[A-Za-z_][A-Za-z0-9_]{0,40}|[-+]?[0-9.]{1,40}(?:e[-+]?\d{1,4})?)'")
_MAX_EXPR = 4000

# the non-aten operations a symbolic-size graph may call (torch's own list of size operators)
_SYM_CALLS = frozenset(
    {
        operator.getitem,
        operator.eq,
        operator.ne,
        operator.le,
        operator.ge,
        operator.lt,
        operator.gt,
        operator.neg,
        operator.pos,
        operator.mul,
        operator.add,
        operator.sub,
        operator.floordiv,
        operator.mod,
        operator.pow,
        operator.truediv,
        operator.and_,
        operator.or_,
        math.trunc,
        torch.sym_not,
        torch.sym_int,
        torch.sym_float,
        torch.sym_ite,
        torch.sym_max,
        torch.sym_min,
        torch.sym_sqrt,
    }
)


class _Refused(Exception):
    """One member of the archive fails a check (``member``: its name inside the archive)."""

    def __init__(self, member: str, reason: str) -> None:
        super().__init__(reason)
        self.member = member
        self.reason = reason


def load_program(path: str | os.PathLike[str]) -> torch.export.ExportedProgram:
    """The ``torch.export`` program in the ``.pt2`` file at ``path``, after checking that loading
    it cannot run code from it; ExportError (one line, naming the member) otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ExportError(f"{path}: no such file; check the path")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ExportError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    try:
        check_archive(data)
    except _Refused as exc:
        raise ExportError(
            f"{path}: refused to load — archive member {exc.member!r} "
            f"{exc.reason}; Deepwire never runs code from a .pt2 file, re-save "
            "the program with torch.export.save"
        ) from None
    except ExportError as exc:
        raise ExportError(f"{path}: {exc}") from None
    try:
        program = torch.export.load(io.BytesIO(data))
    except Exception as exc:
        raise ExportError(
            f"{path}: not a readable torch.export program ({first_line(exc, 200)})"
        ) from None
    if not isinstance(program, torch.export.ExportedProgram):
        raise ExportError(f"{path}: not a readable torch.export program (no model in it)")
    try:
        check_graph(program)
    except _Refused as exc:
        raise ExportError(
            f"{path}: refused to load — archive member {exc.member!r} "
            f"{exc.reason}; Deepwire never runs code from a .pt2 file"
        ) from None
    return program


def check_archive(data: bytes) -> None:
    """Raise _Refused (naming the member) unless every member of the ``.pt2`` bytes is safe for
    ``torch.export.load``; ExportError when it is no ``.pt2`` archive at all."""
    archive, root, members = _open_archive(data)

    def read(rel: str) -> bytes:
        try:
            return archive.read(members[rel])
        except Exception as exc:
            raise _Refused(members[rel], f"cannot be read ({first_line(exc, 100)})") from None

    def read_json(rel: str) -> Any:
        try:
            return json.loads(read(rel).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise _Refused(members[rel], "is not valid JSON") from None

    raw: set[str] = set()  # members torch reads as raw tensor bytes
    pickled: set[str] = set()  # members torch unpickles
    checked: set[str] = set(_TEXT)
    for rel in members:
        if rel.startswith("data/aotinductor/"):
            raise _Refused(
                members[rel], "is compiled AOTInductor code, which Deepwire does not load"
            )
        if rel.startswith("extra/"):  # read as text only
            checked.add(rel)
        elif _MODEL_RE.fullmatch(rel):
            _check_model(read_json(rel), members[rel])
            checked.add(rel)
        elif (match := _CONFIG_RE.fullmatch(rel)) and match.group(1) == match.group(3):
            _check_config(read_json(rel), members[rel], match.group(1), root, raw, pickled)
            checked.add(rel)
    for rel in members:
        if rel in checked or (rel in raw and rel not in pickled):
            continue
        _check_pickle(read(rel), members[rel])


def _open_archive(data: bytes) -> tuple[zipfile.ZipFile, str, dict[str, str]]:
    """The zip archive, its one root folder and ``{path inside the root: member name}``, once
    the names are unique, inside the root, and the archive says it is a torch.export one."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise ExportError(f"not a .pt2 archive ({first_line(exc, 120)})") from None
    names = [i.filename for i in infos]
    if not names:
        raise ExportError("not a .pt2 archive (the zip file is empty)")
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise _Refused(twice, "appears twice (readers may disagree on which copy counts)")
    root = names[0].split("/", 1)[0] + "/"
    for name in names:
        if not name.startswith(root) or ".." in name.split("/") or "\\" in name:
            raise _Refused(name, f"is outside the archive's folder {root!r}")
    members = {n[len(root) :]: n for n in names}
    if members.get("archive_format") is None or members.get("archive_version") is None:
        raise ExportError(
            "not a .pt2 archive of torch.export.save (no archive_format or "
            "archive_version; older formats are not read)"
        )
    return archive, root, members


def _check_config(
    config: Any, member: str, folder: str, root: str, raw: set[str], pickled: set[str]
) -> None:
    """Check one weights/constants config table and sort the payloads it names into ``raw``
    (read as tensor bytes) and ``pickled`` (unpickled by torch, so checked later)."""
    entries = config.get("config") if isinstance(config, dict) else None
    if not isinstance(entries, dict):
        raise _Refused(member, "has no 'config' table")
    for fqn, meta in entries.items():
        if not isinstance(meta, dict) or not isinstance(meta.get("path_name"), str):
            raise _Refused(member, f"has a malformed entry for {fqn!r}")
        file = meta["path_name"]
        if not _FILE_RE.fullmatch(file):
            raise _Refused(member, f"names an unexpected payload {file[:40]!r}")
        if folder == "constants" and not file.startswith("tensor_"):
            raise _Refused(
                f"{root}data/constants/{file}",
                "is a pickled Python or TorchBind object, which Deepwire does not load",
            )
        # torch unpickles a payload whenever use_pickle is anything truthy
        (raw if meta.get("use_pickle") is False else pickled).add(f"data/{folder}/{file}")


def _check_pickle(data: bytes, member: str) -> None:
    """Refuse a member that torch's weights-only unpickler does not accept."""
    try:
        torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        reason = (
            f"is a pickle that would call {found.group(1)}, not only tensors and plain values"
            if found
            else "is neither raw tensor data named by the archive's "
            "configs nor a weights-only torch.save file"
        )
        raise _Refused(member, reason) from None


def _check_model(model: Any, member: str) -> None:
    """Walk the serialized program: symbolic sizes must be plain sreprs, names plain text."""
    stack = [model]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if not isinstance(key, str):
                    raise _Refused(member, "has a non-text key")
                _check_text(key, member)
                if key == "target" and (isinstance(value, str) or "inputs" in item):  # a node
                    if not isinstance(value, str) or not _TARGET_RE.fullmatch(value):
                        raise _Refused(
                            member,
                            f"calls {str(value)[:60]!r}, which is no torch operator Deepwire reads",
                        )
                elif key == "expr_str":
                    if not isinstance(value, str):
                        raise _Refused(member, "has a symbolic size that is not text")
                    check_expression(value, member)
                elif key == "range_constraints" and isinstance(value, dict):
                    for name in value:
                        if not _SYMBOL_RE.fullmatch(name):
                            raise _Refused(member, f"constrains an unexpected symbol {name[:40]!r}")
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str):
            _check_text(item, member)


def _check_text(text: str, member: str) -> None:
    if any(ord(c) < 32 and c not in "\n\t" for c in text) or "\x7f" in text:
        raise _Refused(member, f"holds a control character in the text {text[:40]!r}")


def check_expression(text: str, member: str = "models/model.json") -> None:
    """Refuse a symbolic size expression that is not a plain srepr of symbols and integers."""
    if len(text) > _MAX_EXPR:
        raise _Refused(member, f"has a symbolic size longer than {_MAX_EXPR} characters")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        raise _Refused(member, f"has a malformed symbolic size {text[:60]!r}") from None
    prev = None
    for tok in tokens:
        kind, value = tok.type, tok.string
        bad = False
        if kind == tokenize.NAME:
            bad = value not in _EXPR_NAMES
        elif kind == tokenize.NUMBER:
            bad = len(value) > 24 or not re.fullmatch(r"[0-9.]+(e[-+]?\d{1,4})?", value)
        elif kind == tokenize.STRING:
            bad = not _STRING_RE.fullmatch(value)
        elif kind == tokenize.OP:
            bad = value not in _EXPR_OPS or (value == "*" and prev == "*")
        elif kind not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
            bad = True
        if bad:
            raise _Refused(
                member,
                f"has a symbolic size with {value[:30]!r}, which is not part of a size expression",
            )
        prev = value if kind == tokenize.OP else None


def check_graph(program: torch.export.ExportedProgram, member: str = "models/model.json") -> None:
    """Refuse a loaded program whose graph calls anything but aten operators and size maths."""
    for module in program.graph_module.modules():
        graph = getattr(module, "graph", None)
        if not isinstance(graph, torch.fx.Graph):
            continue
        for node in graph.nodes:
            if node.op in ("placeholder", "output", "get_attr"):
                continue
            target = node.target
            if node.op == "call_function" and (
                (isinstance(target, torch._ops.OpOverload) and target.namespace == "aten")
                or any(target is f for f in _SYM_CALLS)
            ):
                continue
            name = (
                getattr(target, "__qualname__", None)
                or getattr(target, "__name__", None)
                or str(target)
            )
            raise _Refused(
                member,
                f"calls {str(name)[:60]} at node {node.name}, which is no "
                "torch operator Deepwire reads",
            )
