"""Number fields shared by the inspector, the data and the training panels."""

from __future__ import annotations

import re

from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QWidget


class FloatSpinBox(QDoubleSpinBox):
    """A double spin box that shows ``1e-05`` as such instead of rounding it to ``0.00``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setDecimals(12)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt's name
        return f"{value:.6g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802 - Qt's name
        try:
            return float(text.strip())
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int) -> object:
        stripped = text.strip()
        if (
            not stripped
            or stripped in ("-", ".", "-.")
            or re.fullmatch(r"-?\d*\.?\d*(e-?\d*)?", stripped, re.IGNORECASE)
        ):
            try:
                value = float(stripped)
            except ValueError:
                return QValidator.State.Intermediate, text, pos
            if self.minimum() <= value <= self.maximum():
                return QValidator.State.Acceptable, text, pos
            return QValidator.State.Intermediate, text, pos
        return QValidator.State.Invalid, text, pos
