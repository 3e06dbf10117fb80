"""Nothing Deepwire loads may run code (except a ``.py`` import the user consents to): an AST scan
of engine/, gui/ and main.py fails when someone adds a call that could.

Refused: ``torch.load`` without ``weights_only=True``; ``torch.export.load`` anywhere but in
``engine/importer/safe_pt2.load_program`` after ``check_archive``; ``pickle``/``dill``/``joblib``/
``marshal``/``shelve``; ``numpy.load`` without ``allow_pickle=False``; ``torch.jit.load``;
``sympy.sympify``/``parse_expr``; ``eval``/``exec``; running a file as a module outside the
consented ``.py`` import in ``engine/importer/torch_import.py``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAFE_PT2 = "engine/importer/safe_pt2.py"
PY_IMPORT = "engine/importer/torch_import.py"
BANNED_MODULES = {
    "pickle",
    "cPickle",
    "_pickle",
    "dill",
    "joblib",
    "marshal",
    "shelve",
    "cloudpickle",
    "torch.export.pt2_archive",
    "torch.export.pt2_archive._package",
}
BANNED_NAMES = {"load", "load_pt2", "sympify", "parse_expr", "_pickle_load_obj"}


def _dotted(node: ast.AST) -> str:
    """``torch.export.load`` for the expression ``torch.export.load`` (else "")."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _keyword(call: ast.Call, name: str) -> object:
    for kw in call.keywords:
        if kw.arg == name and isinstance(kw.value, ast.Constant):
            return kw.value.value
    return "missing"


def unsafe_calls(source: str, rel: str) -> list[str]:
    """Every place in ``source`` (the file ``rel``) that could run code from loaded data."""
    tree = ast.parse(source)
    found = []
    aliases = {"np": "numpy"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in BANNED_MODULES:
                    found.append(f"{rel}:{node.lineno}: import {alias.name}")
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if module in BANNED_MODULES:
                found.append(f"{rel}:{node.lineno}: from {module} import …")
            for alias in node.names:
                if (
                    module.split(".")[0] in ("torch", "sympy", "numpy")
                    and alias.name in BANNED_NAMES
                ):
                    found.append(f"{rel}:{node.lineno}: from {module} import {alias.name}")
    load_program_lines: tuple[int, int, int] | None = None
    if rel == SAFE_PT2:
        for fn in ast.walk(tree):
            if isinstance(fn, ast.FunctionDef) and fn.name == "load_program":
                checks = [
                    c.lineno
                    for c in ast.walk(fn)
                    if isinstance(c, ast.Call) and _dotted(c.func) == "check_archive"
                ]
                load_program_lines = (
                    fn.lineno,
                    fn.end_lineno or fn.lineno,
                    min(checks) if checks else 10**9,
                )
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        head, _, rest = name.partition(".")
        name = f"{aliases.get(head, head)}.{rest}" if rest else aliases.get(head, head)
        where = f"{rel}:{node.lineno}: {name}(…)"
        if name in ("torch.load", "torch.serialization.load"):
            if _keyword(node, "weights_only") is not True:
                found.append(where + " without weights_only=True")
        elif name == "torch.export.load":
            ok = (
                load_program_lines is not None
                and load_program_lines[0] <= node.lineno <= load_program_lines[1]
                and load_program_lines[2] < node.lineno
            )
            if not ok:
                found.append(where + " on an archive check_archive did not check")
        elif name == "numpy.load":
            if _keyword(node, "allow_pickle") is not False:
                found.append(where + " without allow_pickle=False")
        elif name in (
            "eval",
            "exec",
            "compile",
            "__import__",
            "torch.jit.load",
            "torch._C._pickle_load_obj",
            "sympy.sympify",
            "sympify",
            "parse_expr",
            "torch.export.pt2_archive._package.load_pt2",
            "runpy.run_path",
        ):
            found.append(where)
        elif name.endswith(("spec_from_file_location", "exec_module")) and rel != PY_IMPORT:
            found.append(where + " (running a file is only for the consented .py import)")
    return found


def _sources() -> list[Path]:
    files = [
        ROOT / "main.py",
        *sorted((ROOT / "engine").rglob("*.py")),
        *sorted((ROOT / "gui").rglob("*.py")),
    ]
    return [f for f in files if f.is_file()]


def test_no_code_path_loads_data_in_a_way_that_can_run_code():
    found = []
    for path in _sources():
        rel = path.relative_to(ROOT).as_posix()
        found += unsafe_calls(path.read_text(encoding="utf-8"), rel)
    assert found == [], "\n".join(found)
    assert len(_sources()) > 20  # the scan really covers the project


@pytest.mark.parametrize(
    "snippet",
    [
        "import torch\ntorch.load(p)",
        "import torch\ntorch.load(p, weights_only=False)",
        "import torch\ntorch.serialization.load(p)",
        "import torch as t\nt.load(p)",
        "import torch\ntorch.export.load(p)",
        "from torch.export import load\nload(p)",
        "from torch import load",
        "import pickle",
        "from pickle import loads",
        "import dill",
        "import numpy as np\nnp.load(p)",
        "import numpy\nnumpy.load(p, allow_pickle=True)",
        "eval(text)",
        "exec(text)",
        "import torch\ntorch.jit.load(p)",
        "import sympy\nsympy.sympify(text)",
        "from torch.export.pt2_archive._package import load_pt2",
        "import importlib.util\nimportlib.util.spec_from_file_location('m', p)",
    ],
)
def test_the_scan_catches_each_unsafe_call(snippet):
    assert unsafe_calls(snippet, "engine/new_module.py"), snippet


def test_the_scan_accepts_the_safe_forms():
    assert (
        unsafe_calls(
            "import torch\ntorch.load(p, map_location='cpu', weights_only=True)\n"
            "import numpy as np\nnp.load(p, allow_pickle=False)\nnet.eval()\n",
            "engine/x.py",
        )
        == []
    )
    unchecked = "import torch\ndef load_program(p):\n    return torch.export.load(p)\n"
    assert unsafe_calls(unchecked, SAFE_PT2)  # the archive must be checked first
    checked = (
        "import torch\ndef load_program(p):\n    check_archive(p)\n"
        "    return torch.export.load(p)\n"
    )
    assert unsafe_calls(checked, SAFE_PT2) == []
