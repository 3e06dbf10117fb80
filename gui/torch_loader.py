"""PyTorch, imported in the background so the window paints first.

``import torch`` takes seconds on a small machine (docs/benchmarks.md, start-up), and nothing the
window shows as it opens needs it: the editor, shape inference, the problems and the data
preview run without torch. So the GUI never imports torch (or the trainer, which imports it) at
module level: the window starts :func:`torch_loader` after its first paint, one daemon thread
imports :data:`MODULES`, and what needs torch waits for :attr:`TorchLoader.ready`. The training
panel shows "Loading PyTorch…" with Train disabled until then.

One loader per process, so there is one import thread however many windows open; Python's
import lock makes a second importer wait for the first, but the GUI thread never does: it
only asks :meth:`TorchLoader.is_ready` and listens for :attr:`TorchLoader.ready`.
"""

from __future__ import annotations

import importlib
import sys

from PySide6.QtCore import QObject, Signal, Slot

from gui.workers import BackgroundCall

#: What a training run imports before its first batch (torch first: it is most of the time, so
#: a process that has imported torch already counts as loaded).
MODULES = (
    "torch",
    "engine.compile",
    "engine.training.trainer",
    "engine.training.checkpoint",
    "engine.training.run_files",
    "engine.training.devices",
)

THREAD_NAME = "deepwire-load-torch"


def _imported(name: str) -> bool:
    """True when ``name`` is fully imported (not half-way through an import in some thread)."""
    module = sys.modules.get(name)
    spec = getattr(module, "__spec__", None)
    return module is not None and not getattr(spec, "_initializing", False)


def _load(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)


class TorchLoader(QObject):
    """Imports :data:`MODULES` once, in a daemon thread; :attr:`ready` fires on the GUI thread."""

    ready = Signal()

    def __init__(self, modules: tuple[str, ...] = MODULES) -> None:
        super().__init__()
        self.modules = modules
        self._call: BackgroundCall | None = None
        self._ready = False
        self.error: str | None = None  # why the import failed (a run then reports it too)

    def is_ready(self) -> bool:
        """True once the modules are imported (already in this process, or by the loader)."""
        if not self._ready and self._call is None and _imported(self.modules[0]):
            # torch was imported before anyone asked (tests, a bench); the rest are quick
            self._ready = True
        return self._ready

    @property
    def loading(self) -> bool:
        """True while the import thread runs."""
        return self._call is not None and not self._ready

    def start(self) -> None:
        """Start importing (once); emits :attr:`ready` right away when nothing is left to do."""
        if self.is_ready():
            self.ready.emit()
            return
        if self._call is not None:
            return
        # A daemon thread left out of the exit join: closing never waits for an import.
        self._call = BackgroundCall(
            _load, self.modules, parent=self, name=THREAD_NAME, join_at_exit=False
        )
        self._call.done.connect(self._on_done)
        self._call.start()

    def wait(self, timeout: float) -> bool:
        """Block until the import thread has ended (tests, benchmarks); True when it has or
        never started. The GUI never calls this: it listens for :attr:`ready`."""
        return self._call.wait(timeout) if self._call is not None else True

    @Slot(object, object)
    def _on_done(self, _result: object, error: str | None) -> None:
        self.error = error
        self._ready = True  # a failed import is reported by the run that needs it
        self.ready.emit()


_LOADER: TorchLoader | None = None


def torch_loader() -> TorchLoader:
    """The process's one loader (created on the GUI thread on first use)."""
    global _LOADER
    if _LOADER is None:
        _LOADER = TorchLoader()
    return _LOADER
