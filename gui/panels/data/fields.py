"""Small editors the data panel's forms are made of (combo boxes, spin boxes, status labels).

:class:`FieldMakers` is mixed into :class:`~gui.panels.data.panel.DataPanel`: its editors commit
through ``self.set_value`` and stay quiet while ``self._refreshing`` (the panel showing the
design, not the user editing).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QComboBox, QLabel, QSpinBox

from gui.widgets import FloatSpinBox, narrow


def status_label(colour: str) -> QLabel:
    """A hidden, word-wrapped label in ``colour`` (errors, warnings)."""
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {colour};")
    label.hide()
    return label


class FieldMakers:
    """Editors bound to one key of the data section (mixed into the data panel)."""

    _refreshing: bool
    set_value: Callable[[tuple[str, ...], Any], bool]

    def _choice(self, items: tuple[str, ...], path: tuple[str, ...]) -> QComboBox:
        combo = narrow(QComboBox())
        combo.addItems(list(items))
        combo.activated.connect(lambda _i: self.set_value(path, combo.currentText()))
        return combo

    def _int_spin(self, low: int, high: int, commit: Callable[[int], Any]) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(lambda v: None if self._refreshing else commit(int(v)))
        return spin

    def _fraction(self, path: tuple[str, ...]) -> FloatSpinBox:
        spin = FloatSpinBox()
        spin.setRange(0.0, 0.9)
        spin.setSingleStep(0.05)
        spin.setKeyboardTracking(False)
        spin.valueChanged.connect(
            lambda v: None if self._refreshing else self.set_value(path, round(float(v), 4))
        )
        return spin
