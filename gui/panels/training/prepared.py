"""Embedded data prepared before Train is pressed, and reused while it stays the same.

Preparing a built-in dataset (load, preprocess, split) is a fixed cost between the Train click
and the first batch. The training panel asks :class:`PreparedCache` to prepare the design's data
in the background after the design is opened or edited (and once PyTorch has loaded, so it
never competes with the window's first paint); Train then passes the prepared data to the run
when the design's data section and seed are what they were prepared for.

Only built-in datasets are kept: they are fixed and small, and their data section and seed
determine them completely. A file's data could change on disk behind the key, so file-based
runs prepare their data themselves, as ``main.py train`` does. A run never changes its data
(the loops read it; preprocessing was fitted when it was prepared), so one prepared copy serves
any number of runs.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from engine.data import PreparedData, prepare_data
from engine.data.spec import normalize_spec
from engine.errors import DeepwireError
from gui.workers import BackgroundCall

THREAD_NAME = "deepwire-prepare-data"


def data_key(data: Any, seed: int) -> str | None:
    """What determines the prepared data (the built-in data section and the seed), or None when
    the data is not a valid built-in dataset."""
    try:
        spec = normalize_spec(data)
    except (DeepwireError, TypeError, ValueError):
        return None
    if spec.get("source") != "builtin":
        return None
    return json.dumps([spec, seed], sort_keys=True, default=str)


class PreparedCache(QObject):
    """One prepared built-in dataset, keyed by :func:`data_key`; prepared in the background."""

    changed = Signal()  # preparing began or ended

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._key: str | None = None
        self._data: PreparedData | None = None
        self._call: BackgroundCall | None = None
        self._call_key: str | None = None

    @property
    def preparing(self) -> bool:
        """True while data is being prepared in the background."""
        return self._call is not None and self._call.running

    def get(self, data: Any, seed: int) -> PreparedData | None:
        """The prepared data for this data section and seed, or None (not prepared yet)."""
        key = data_key(data, seed)
        return self._data if key is not None and key == self._key else None

    def prepare(self, data: Any, seed: int) -> bool:
        """Prepare this data section in the background unless it is prepared or being
        prepared already; True when a preparation started. A preparation of older data is
        stopped first."""
        key = data_key(data, seed)
        if key is None or key == self._key or (self.preparing and key == self._call_key):
            return False
        self.cancel()
        self._call_key = key
        call = BackgroundCall(
            prepare_data,
            copy.deepcopy(data),
            None,  # built-in data reads no files
            seed,
            parent=self,
            name=THREAD_NAME,
            cancellable=True,
        )
        call.done.connect(lambda result, error, c=call, k=key: self._on_done(c, k, result, error))
        call.cancelled.connect(lambda c=call: self._on_ended(c))
        self._call = call
        call.start()
        self.changed.emit()
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop a preparation in progress (its result is dropped)."""
        if self._call is not None and self._call.running:
            self._call.cancel()

    def clear(self) -> None:
        """Forget the prepared data (and stop any preparation)."""
        self.cancel()
        self._key, self._data = None, None

    def shutdown(self, timeout: float) -> bool:
        """Stop a preparation and wait for it at most ``timeout`` s; True when none is left."""
        self.cancel()
        return self._call.wait(timeout) if self._call is not None else True

    def _on_done(self, call: BackgroundCall, key: str, result: Any, error: str | None) -> None:
        if error is None and result is not None:
            # a run reports any error itself, when it prepares the data again
            self._key, self._data = key, result
        self._on_ended(call)

    def _on_ended(self, call: BackgroundCall) -> None:
        call.deleteLater()
        if call is self._call:
            self._call = None
            self._call_key = None
        self.changed.emit()
