"""The engine never imports Qt or the GUI: every engine module imports with PySide6 blocked, and
no engine source file names Qt or ``gui`` in an import, even inside a function
(docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import importlib, pkgutil, sys
for name in ("PySide6", "PyQt5", "PyQt6", "PySide2", "pyqtgraph"):
    sys.modules[name] = None  # any "import PySide6..." now raises ImportError
import engine
names = ["engine"] + [m.name for m in pkgutil.walk_packages(engine.__path__, "engine.")]
for name in names:
    importlib.import_module(name)
qt = sorted(m for m, mod in sys.modules.items() if mod is not None
            and m.split(".")[0] in ("PySide6", "shiboken6", "PyQt5", "PyQt6"))
print(len(names), qt)
print(" ".join(names))
"""

QT_AND_GUI = ("PySide6", "PyQt5", "PyQt6", "PySide2", "shiboken6", "pyqtgraph", "gui")


def test_every_engine_module_imports_without_qt():
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0, result.stderr[-3000:]
    counts, walked = result.stdout.strip().splitlines()
    count, qt = counts.split(" ", 1)
    assert int(count) >= 10  # really walked the package
    assert qt == "[]"
    # … and the walk reached every source file (a folder without __init__.py would be skipped)
    assert set(walked.split()) == {_module(path) for path in _engine_files()}


def _engine_files() -> list[Path]:
    return sorted((ROOT / "engine").rglob("*.py"))


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_engine_source_imports_qt_or_the_gui():
    """Also lazy imports inside functions, which importing the module would not run."""
    offenders = []
    for path in _engine_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module or ""]
            else:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} {name}"
                for name in names
                if name.split(".")[0] in QT_AND_GUI
            ]
    assert offenders == []
