"""One declarative schema mechanism for what a design file holds: its document fields (nodes,
edges), the ``data`` section and the ``training`` section.

A section declares its fields once, as a :class:`Schema` of :class:`Field` objects (a
:class:`Choice`, a :class:`Number` with its range, a :class:`Flag`, a JSON :class:`Typed` value,
or a :class:`Rule` with its own test and wording). The schema refuses unknown keys, reads a key
with its default and checks it; how a refusal reads is the section's :class:`Dialect`, so every
mistake stays one line that names the field and what is allowed:

- :class:`Listing` — ``training: lr is 0; allowed: a number above 0 to 10`` (data and training);
- :class:`Document` — ``f.json: node 'a': "type" must be a string, got null`` (the file itself).

Rules that tie fields together (a loss that fits the task, momentum's default after the
optimizer, one of two targets) stay plain code next to the schema that checks the fields.

Decision (issue 10): a small mechanism of our own, not pydantic v2. Why:

- The messages are part of the contract: tests, docs and users see the exact one-line wording
  of three dialects today. pydantic reports a list of errors in its own words (``Input should
  be 'a' or 'b'``); keeping ours would need a translation per error type and per section,
  about as much code as this module, and still follow pydantic's wording changes.
- JSON semantics: ``true`` is not a number here and numbers are never coerced from strings;
  pydantic needs strict mode plus custom types for the ranges' wording (``above 0``).
- Speed: ``import pydantic`` alone costs ~140 ms on the development machine (measured with
  ``python -X importtime``), a few per cent of ``main.py check``; this module costs ~2 ms (plain
  classes with slots: as dataclasses its fields alone cost ~12 ms) and adds no dependency.
- The fields are few and flat (three sections, two nested objects): a declaration per field
  and two dialects cover them without a model class hierarchy.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import DeepwireError

_MISSING: Any = object()


def show(value: Any, limit: int = 40) -> str:
    """A short, single-line JSON rendering of a user's value for error messages."""
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_type(value: Any) -> str:
    """What kind of JSON value ``value`` is, as a message says it: ``an array``, ``null``."""
    if value is None:
        return "null"
    return {
        dict: "an object",
        list: "an array",
        str: "a string",
        bool: "true/false",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


_TYPE_NAMES = {
    dict: "an object",
    list: "an array [...]",
    str: "a string",
    int: "an integer",
    float: "a number",
    bool: "true or false",
}


def type_name(types: type | tuple[type, ...]) -> str:
    """``(int, float)`` → ``an integer or a number``: what a typed field asks for."""
    if isinstance(types, tuple):
        return " or ".join(dict.fromkeys(_TYPE_NAMES[t] for t in types))
    return _TYPE_NAMES[types]


# -- fields ------------------------------------------------------------------------------------


class Field:
    """One key of a section: its default, what it accepts and how the message names that.

    Fields, dialects and schemas are plain classes with slots, not dataclasses: creating the
    dozen classes as dataclasses cost ~12 ms at import, on every ``main.py check``.
    """

    __slots__ = ("default",)

    def __init__(self, *, default: Any = _MISSING) -> None:
        self.default = default

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is valid for this field."""
        raise NotImplementedError

    def allowed(self) -> str:
        """What the field accepts, as the message's ``allowed:`` / ``must be`` part."""
        raise NotImplementedError

    def got(self, value: Any) -> str:
        """How a :class:`Document` message shows a refused ``value``."""
        return show(value)

    def convert(self, value: Any) -> Any:
        """The checked value as the program uses it (numbers become int or float)."""
        return value


class Choice(Field):
    """One of a fixed list of names."""

    __slots__ = ("choices",)

    def __init__(self, *, choices: tuple[str, ...], default: Any = _MISSING) -> None:
        super().__init__(default=default)
        self.choices = choices

    def accepts(self, value: Any) -> bool:
        return value in self.choices

    def allowed(self) -> str:
        return " | ".join(self.choices)


class Number(Field):
    """A number (``integer``: a whole one) in ``[low, high]`` (``low_open``: above ``low``);
    ``none_ok`` also takes null. ``true``/``false`` are never numbers."""

    __slots__ = ("low", "high", "integer", "low_open", "none_ok")

    def __init__(
        self,
        *,
        low: float,
        high: float,
        integer: bool = False,
        low_open: bool = False,
        none_ok: bool = False,
        default: Any = _MISSING,
    ) -> None:
        super().__init__(default=default)
        self.low, self.high = low, high
        self.integer, self.low_open, self.none_ok = integer, low_open, none_ok

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.none_ok
        if isinstance(value, bool) or not isinstance(value, int if self.integer else int | float):
            return False
        return (self.low < value if self.low_open else self.low <= value) and value <= self.high

    def allowed(self) -> str:
        kind = "an integer" if self.integer else "a number"
        bound = f"above {self.low:g}" if self.low_open else f"from {self.low:g}"
        return f"{kind} {bound} to {self.high:g}" + (" or null" if self.none_ok else "")

    def convert(self, value: Any) -> Any:
        if value is None:
            return None
        return int(value) if self.integer else float(value)


class Flag(Field):
    """``true`` or ``false``."""

    __slots__ = ()

    def accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def allowed(self) -> str:
        return "true | false"


class Typed(Field):
    """A JSON value of the given Python type(s) (``bool`` only when listed)."""

    __slots__ = ("types",)

    def __init__(self, *, types: type | tuple[type, ...], default: Any = _MISSING) -> None:
        super().__init__(default=default)
        self.types = types

    def accepts(self, value: Any) -> bool:
        listed = self.types if isinstance(self.types, tuple) else (self.types,)
        if isinstance(value, bool) and bool not in listed:
            return False
        return isinstance(value, self.types)

    def allowed(self) -> str:
        return type_name(self.types)

    def got(self, value: Any) -> str:
        return show(value) if isinstance(value, bool) else json_type(value)


class Rule(Field):
    """A value ``test`` accepts (default: any), described by ``text`` (``[height, width] in
    pixels``)."""

    __slots__ = ("test", "text")

    def __init__(
        self,
        *,
        text: str,
        test: Callable[[Any], bool] = lambda value: True,
        default: Any = _MISSING,
    ) -> None:
        super().__init__(default=default)
        self.test, self.text = test, text

    def accepts(self, value: Any) -> bool:
        return bool(self.test(value))

    def allowed(self) -> str:
        return self.text


# -- dialects ----------------------------------------------------------------------------------


class Dialect:
    """How one section words a refusal (raising ``error``, starting with ``prefix``); every
    message is one line."""

    __slots__ = ("error", "prefix")

    def __init__(self, error: type[DeepwireError], prefix: str) -> None:
        self.error, self.prefix = error, prefix

    def at(self, prefix: str | None) -> Dialect:
        """This dialect with messages that start with ``prefix`` (None: unchanged)."""
        if prefix is None:
            return self
        other = copy.copy(self)
        other.prefix = prefix
        return other

    def invalid(self, path: str, key: str, value: Any, spec: Field) -> DeepwireError:
        """``value`` of ``key`` (inside ``path``) is not what ``spec`` accepts (``value`` is
        the module's missing marker when a required key is absent)."""
        raise NotImplementedError

    def unknown(self, path: str, key: str, allowed: tuple[str, ...]) -> DeepwireError:
        """``key`` (inside ``path``) is not a field of the section."""
        raise NotImplementedError


class Listing(Dialect):
    """``<prefix>: <key> is <value>; allowed: <what>``; nested keys read ``split.val``, a key
    of the top level is quoted in unknown-key messages (and everywhere with ``quote_top``)."""

    __slots__ = ("quote_top",)

    def __init__(self, error: type[DeepwireError], prefix: str, quote_top: bool = False) -> None:
        super().__init__(error, prefix)
        self.quote_top = quote_top

    def name(self, path: str, key: str, quoted: bool) -> str:
        """How the message names ``key``: ``path.key`` when nested, else ``key`` or ``'key'``."""
        if path:
            return f"{path}.{key}"
        return repr(key) if quoted else key

    def fail(self, name: str, problem: str, allowed: str) -> DeepwireError:
        """``<prefix>: <name> <problem>; allowed: <allowed>`` (for rules written as code)."""
        return self.error(f"{self.prefix}: {name} {problem}; allowed: {allowed}")

    def invalid(self, path: str, key: str, value: Any, spec: Field) -> DeepwireError:
        problem = "is missing" if value is _MISSING else f"is {value!r}"
        return self.fail(self.name(path, key, self.quote_top), problem, spec.allowed())

    def unknown(self, path: str, key: str, allowed: tuple[str, ...]) -> DeepwireError:
        return self.fail(self.name(path, key, True), "is not a known key", ", ".join(allowed))


class Document(Dialect):
    """``<where>: "<key>" must be <what>, got <value>`` and ``<where>: unknown field "<key>"
    (allowed: …)``, ``where`` being the file and the place in it (``f.json: edges[2]``)."""

    __slots__ = ()

    def fail(self, message: str) -> DeepwireError:
        """``<where>: <message>`` (for rules written as code)."""
        return self.error(f"{self.prefix}: {message}")

    def must(self, what: str, value: Any, spec: Field) -> DeepwireError:
        """``<where>: <what> must be <allowed>, got <value>`` (``what``: ``a node``)."""
        return self.fail(f"{what} must be {spec.allowed()}, got {spec.got(value)}")

    def invalid(self, path: str, key: str, value: Any, spec: Field) -> DeepwireError:
        return self.must(f'"{key}"', None if value is _MISSING else value, spec)

    def unknown(self, path: str, key: str, allowed: tuple[str, ...]) -> DeepwireError:
        return self.fail(f"unknown field {show(key)} (allowed: {', '.join(allowed)})")


# -- schemas -----------------------------------------------------------------------------------


class Schema:
    """The fields of one section (or one nested object of it, at ``path``: ``split``,
    ``scheduler``, how messages name a nested object's keys), in file order."""

    __slots__ = ("fields", "dialect", "path")

    def __init__(self, fields: Mapping[str, Field], dialect: Dialect, path: str = "") -> None:
        self.fields, self.dialect, self.path = fields, dialect, path

    @property
    def keys(self) -> tuple[str, ...]:
        """The known keys, in declaration order (unknown-key messages list them so)."""
        return tuple(self.fields)

    def at(self, prefix: str) -> Schema:
        """The same fields, with messages that start with ``prefix``."""
        return Schema(self.fields, self.dialect.at(prefix), self.path)

    def check_keys(
        self,
        section: Mapping[str, Any],
        allowed: tuple[str, ...] | None = None,
        where: str | None = None,
    ) -> None:
        """Refuse the first key of ``section`` not in ``allowed`` (default: :attr:`keys`).

        ``where`` (here and below) replaces the dialect's prefix in the message: a
        :class:`Document` names the file and the item (``f.json: nodes[3]``). It costs nothing
        unless a message is made, so a loop over ten thousand nodes passes it freely.
        """
        allowed = self.keys if allowed is None else allowed
        for key in section:
            if key not in allowed:
                raise self.dialect.at(where).unknown(self.path, key, allowed)

    def check(
        self, key: str, value: Any, spec: Field | None = None, where: str | None = None
    ) -> Any:
        """``value`` for ``key`` checked (by ``spec``, default the declared field) and
        converted; raises the dialect's one-line error."""
        spec = spec or self.fields[key]
        if not spec.accepts(value):
            raise self.dialect.at(where).invalid(self.path, key, value, spec)
        return spec.convert(value)

    def get(
        self,
        section: Mapping[str, Any],
        key: str,
        default: Any = _MISSING,
        where: str | None = None,
    ) -> Any:
        """``section[key]`` (else ``default``, else the field's default) checked and
        converted; a required key that is absent is refused as missing."""
        spec = self.fields[key]
        fallback = spec.default if default is _MISSING else default
        value = section.get(key, fallback)
        if value is _MISSING or not spec.accepts(value):  # absent and required, or invalid
            raise self.dialect.at(where).invalid(self.path, key, value, spec)
        return spec.convert(value)

    def defaults(self) -> dict[str, Any]:
        """Every field that has a default, with it."""
        return {k: f.default for k, f in self.fields.items() if f.default is not _MISSING}
