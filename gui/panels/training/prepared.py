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

A named dataset (MNIST, CIFAR-10, …) is downloaded the first time it is prepared: the
preparation reports the download's progress (:meth:`PreparedCache.download_progress`), and
:class:`DownloadBar` shows it as a progress bar with Cancel (which stops the preparation; the
partial ``.part`` file stays in the cache to resume, never a half-written dataset file).
"""

from __future__ import annotations

import copy
import json
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.data import PreparedData, prepare_data
from engine.data.downloads import report_progress
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
        # (file, bytes done, bytes in all) of a download in progress; written by the worker
        self._download: tuple[str, int, int] | None = None

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
        self._download = None
        call = BackgroundCall(
            self._prepare_reporting,
            copy.deepcopy(data),
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

    def _prepare_reporting(self, data: Any, seed: int, should_stop: Any = None) -> PreparedData:
        """(Worker thread) prepare the data, noting any download's progress."""

        def note(what: str, done: int, total: int) -> None:
            self._download = (what, done, total)

        with report_progress(note):
            return prepare_data(data, None, seed, should_stop=should_stop)  # no files to read

    def download_progress(self) -> tuple[str, int, int] | None:
        """``(file name, bytes done, bytes in all)`` while the preparation downloads a named
        dataset's file; None otherwise."""
        download = self._download
        if not self.preparing or download is None or download[1] >= download[2]:
            return None
        return download

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


class DownloadBar(QWidget):
    """While the prepared data downloads a named dataset: which file, a progress bar and Cancel
    (hidden otherwise)."""

    POLL_MS = 100

    def __init__(self, cache: PreparedCache, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cache = cache
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip(
            "Stop the download (the part already downloaded is kept and resumed next time)"
        )
        self.cancel_button.clicked.connect(cache.cancel)
        self.label.setWordWrap(True)  # the training dock is narrow: the text above the bar
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        row = QHBoxLayout()
        row.addWidget(self.bar, 1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self._timer = QTimer(self)
        self._timer.setInterval(self.POLL_MS)
        self._timer.timeout.connect(self.refresh)
        cache.changed.connect(self._on_changed)
        self.hide()

    @Slot()
    def _on_changed(self) -> None:
        if self.cache.preparing:
            self._timer.start()
        else:
            self._timer.stop()
        self.refresh()

    @Slot()
    def refresh(self) -> None:
        """Show the download's progress, or hide when nothing downloads."""
        download = self.cache.download_progress()
        if download is None:
            self.hide()
            return
        what, done, total = download
        self.label.setText(f"Downloading {what}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
        self.bar.setValue(int(1000 * done / max(1, total)))
        self.show()
