"""No function outside the tests runs over 60 lines without a reason written above it.

A function longer than ``MAX_LINES`` (counted from its ``def`` line to its last line) must
carry a ``# Long on purpose: <reason>`` comment on the line directly above its ``def``, or
directly above its first decorator.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 60
MARKER = "# Long on purpose:"


def _sources(*parts: str) -> list[Path]:
    """Every Python file under the named folders/files of the repository, sorted."""
    paths: list[Path] = []
    for part in parts:
        path = ROOT / part
        paths.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return paths


def _offenders(paths: list[Path], root: Path = ROOT) -> list[str]:
    """``file:line name (N lines)`` for each long function lacking the marker comment."""
    found = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text, filename=str(path))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            length = node.end_lineno - node.lineno + 1
            if length <= MAX_LINES:
                continue
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[first - 2].strip() if first >= 2 else ""
            if not above.startswith(MARKER) or not above[len(MARKER) :].strip():
                rel = path.relative_to(root).as_posix()
                found.append(f"{rel}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_offenders_are_found_and_the_marker_excuses_them(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES))
    long_fn = f"def long():\n{body}\n"
    files = {
        "bare.py": long_fn,
        "marked.py": f"# Long on purpose: a table\n{long_fn}",
        "decorated.py": f"import functools\n# Long on purpose: a table\n@functools.cache\n{long_fn}",
        "empty.py": f"# Long on purpose:\n{long_fn}",
        "short.py": f"def short():\n{body.splitlines()[0]}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    found = _offenders([tmp_path / name for name in files], root=tmp_path)
    assert found == ["bare.py:1 long (61 lines)", "empty.py:2 long (61 lines)"]


def test_engine_and_cli_functions_are_short_or_say_why():
    offenders = _offenders(_sources("engine", "main.py"))
    assert not offenders, (
        f"functions over {MAX_LINES} lines without a '{MARKER} <reason>' comment above the def: "
        + "; ".join(offenders)
    )


def test_gui_functions_are_short_or_say_why():
    offenders = _offenders(_sources("gui"))
    assert not offenders, (
        f"functions over {MAX_LINES} lines without a '{MARKER} <reason>' comment above the def: "
        + "; ".join(offenders)
    )
