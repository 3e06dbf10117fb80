"""Package attributes imported on first use (PEP 562), so importing one light submodule (the
validators ``check`` needs) does not pull in a package's heavy ones."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_exports(
    package: str, exports: dict[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``name`` comes from the submodule
    ``exports[name]`` when first asked for, then stays in ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's name
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        namespace[name] = value
        return value

    return __getattr__


class LazyModule:
    """A stand-in for a module that is imported on the first attribute access, so a module-level
    ``nn = LazyModule("torch.nn")`` costs nothing until a layer is actually built (``check`` and
    the editor's shape inference never touch torch)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: Any = None

    def __getattr__(self, attr: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
