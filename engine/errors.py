"""Error types shared by the engine.

Every error the user can cause is a :class:`DeepwireError`: its ``str()`` is one line that says
what went wrong, where, and how to fix it. Front ends (CLI, GUI) print it as is, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable


class DeepwireError(Exception):
    """Base class of every user-facing engine error (one clear line)."""


class DesignFormatError(DeepwireError):
    """A design file cannot be read: bad JSON, wrong structure, unknown version or layer type."""


class DesignError(DeepwireError):
    """A design is structurally invalid for the operation asked (compile, train, export)."""


class DataError(DeepwireError):
    """Data cannot be loaded or does not fit the design (names the file, row/column or image)."""


class TrainingError(DeepwireError):
    """Training failed in a way the user can act on (NaN loss, out of memory, bad settings)."""


class ExportError(DeepwireError):
    """An export or import request cannot be carried out."""


def first_line(error: BaseException, limit: int | None = None) -> str:
    """One readable line for any failure: a Deepwire error's own message (already one line), or
    ``Type: first line`` for anything else; the first line is cut to ``limit`` characters."""
    text = str(error).strip()
    line = text.splitlines()[0][:limit] if text else ""
    if isinstance(error, DeepwireError):
        return line or type(error).__name__
    return f"{type(error).__name__}: {line}" if line else type(error).__name__


# Bidirectional-text controls reorder what a terminal shows (the "Trojan Source" trick).
_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (escape sequences, newlines,
    carriage returns, bidi overrides) from names and other user text are shown as ``\\x1b``-style
    escapes instead of acting on the terminal or splitting a one-line message."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch.isprintable() and ch not in _BIDI_CONTROLS or ch == " ":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    return "".join(out)


class Cancelled(DeepwireError):
    """Work stopped because its caller asked (a Stop click, the window closing); not a failure.

    Long jobs take a ``should_stop`` callable and call :func:`check_cancel` between chunks of
    work, so a request is honoured within one chunk."""


def check_cancel(should_stop: Callable[[], bool] | None, what: str = "loading the data") -> None:
    """Raise :class:`Cancelled` when ``should_stop`` (may be None) says so."""
    if should_stop is not None and should_stop():
        raise Cancelled(f"{what} was stopped on request")
