"""Dependency direction inside gui/: a panel never imports another panel, and the shared pieces
(gui/widgets, gui/workers, gui/formatting) import no panel. docs/architecture.md describes it.

An AST scan of the source (no import runs), so it also sees imports inside functions and
``TYPE_CHECKING`` blocks: what two panels share belongs in gui/widgets, gui/formatting or
gui/workers, and the window (gui/mainwindow.py) wires panels together.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PANELS = ROOT / "gui" / "panels"

#: Panel → panel imports that remain for a reason, with the reason. Each entry must still exist
#: (the test fails on a stale one, so the list only shrinks).
KNOWN: dict[tuple[str, str], str] = {}


def module_name(path: Path) -> str:
    """``ROOT/gui/panels/data/forms.py`` → ``gui.panels.data.forms`` (packages: their name)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, relative imports resolved; ``from X import y`` gives
    ``X.y`` when ``y`` is a module, else ``X``."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.add(sub if _is_module(sub) else target)
    return found


def panel_of(module: str) -> str | None:
    """The panel a module belongs to (``gui.panels.data.forms`` → ``data``); ``""`` for the
    ``gui.panels`` package itself; None outside gui/panels."""
    parts = module.split(".")
    if parts[:2] != ["gui", "panels"]:
        return None
    return parts[2] if len(parts) > 2 else ""


def panel_imports() -> dict[tuple[str, str], list[str]]:
    """(importing panel, imported panel) → the files with such an import."""
    found: dict[tuple[str, str], list[str]] = {}
    for path in sorted(PANELS.rglob("*.py")):
        own = panel_of(module_name(path))
        for target in imported_modules(path):
            other = panel_of(target)
            if other is None or other == own:
                continue
            found.setdefault((own, other), []).append(str(path.relative_to(ROOT)))
    return found


def test_no_panel_imports_another_panel():
    found = panel_imports()
    unexpected = {pair: files for pair, files in found.items() if pair not in KNOWN}
    assert not unexpected, (
        "panels import other panels (move the shared piece to gui/widgets, gui/formatting or "
        f"gui/workers): {unexpected}"
    )


def test_the_known_exceptions_are_still_needed():
    found = panel_imports()
    stale = [pair for pair in KNOWN if pair not in found]
    assert not stale, f"remove these from KNOWN, the import is gone: {stale}"


def test_shared_gui_modules_import_no_panel():
    shared = [
        *sorted((ROOT / "gui" / "widgets").rglob("*.py")),
        ROOT / "gui" / "workers.py",
        ROOT / "gui" / "formatting.py",
    ]
    offenders = {
        str(path.relative_to(ROOT)): sorted(
            t for t in imported_modules(path) if panel_of(t) is not None
        )
        for path in shared
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_scan_sees_every_kind_of_import(tmp_path, monkeypatch):
    """The scanner itself: plain, from, relative and function-level imports all count."""
    fake_root = tmp_path
    panels = fake_root / "gui" / "panels"
    (panels / "data").mkdir(parents=True)
    (panels / "__init__.py").write_text("def scrolled_body(): ...\n")
    for name in ("inspector", "plots", "training", "problems"):
        (panels / f"{name}.py").write_text("")
    (panels / "problems.py").write_text("from gui.panels import scrolled_body\n")
    (panels / "data" / "__init__.py").write_text("from .forms import x\n")
    (panels / "data" / "forms.py").write_text(
        "def f():\n    from ..inspector import FloatSpinBox\n"
        "import gui.panels.plots\nfrom gui.panels import training\n"
    )
    monkeypatch.setitem(globals(), "ROOT", fake_root)
    monkeypatch.setitem(globals(), "PANELS", panels)
    found = panel_imports()
    assert set(found) == {
        ("data", "inspector"),
        ("data", "plots"),
        ("data", "training"),
        ("problems", ""),
    }  # "" : the gui.panels package itself
