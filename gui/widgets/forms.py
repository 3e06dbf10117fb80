"""Pieces of forms the panels and dialogs share: a scrolled body, note lines, coloured labels."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QBoxLayout,
    QComboBox,
    QDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)


def scrolled_body(panel: QWidget) -> QVBoxLayout:
    """Give ``panel`` a frameless, vertically scrolling body; returns the body's layout.

    Dock panels with long forms (training settings, data) use it so they stay usable when the
    dock is short, without a horizontal scroll bar.
    """
    scroll = QScrollArea(panel)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.setContentsMargins(8, 8, 8, 8)
    scroll.setWidget(body)
    return layout


def coloured(label: QLabel, text: str, colour: str | None = None) -> None:
    """Show ``text`` in ``label`` (in ``colour``), or hide the label when ``text`` is empty;
    the dialog grows when the text needs more room."""
    label.setStyleSheet(f"color: {colour};" if colour else "")
    label.setText(text)
    label.setVisible(bool(text))
    window = label.window()
    if isinstance(window, QDialog) and window.layout() is not None:
        QTimer.singleShot(0, window, lambda: fit_height(window))


def fit_height(dialog: QDialog) -> None:
    """Make ``dialog`` tall enough for its wrapped text at its current width (never shrinks)."""
    layout = dialog.layout()
    layout.activate()
    needed = (
        layout.totalHeightForWidth(dialog.width())
        if layout.hasHeightForWidth()
        else layout.totalSizeHint().height()
    )
    if needed > dialog.height():
        dialog.resize(dialog.width(), needed)


def note_label(parent: QWidget) -> QLabel:
    """A wrapped, selectable line of explanation under a field."""
    label = QLabel(parent)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.92)
    label.setFont(font)
    return label


def narrow(combo: QComboBox) -> QComboBox:
    """A combo box that does not widen the dock to its longest entry."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    return combo


def wrap_long_rows(form: QFormLayout) -> QFormLayout:
    """``form``, with each field going under its label when the panel is too narrow for both
    side by side: a dock panel is never wider than its dock (its body scrolls up and down
    only, so anything wider would be cut off at the right edge)."""
    form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
    return form


def growing_form() -> QFormLayout:
    """A form layout whose fields grow with the width of the panel or dialog; in a panel too
    narrow for a label and its field side by side, the field goes under its label (the panel
    is never wider than its dock)."""
    form = QFormLayout()
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    return wrap_long_rows(form)


def _bare_box(layout_type: type[QBoxLayout]) -> tuple[QWidget, QBoxLayout]:
    """A plain widget and its margin-less layout of ``layout_type``."""
    box = QWidget()
    layout = layout_type(box)
    layout.setContentsMargins(0, 0, 0, 0)
    return box, layout


def path_row(edit: QLineEdit, button: QPushButton) -> QWidget:
    """A line edit with its Browse button."""
    row, layout = _bare_box(QHBoxLayout)
    layout.addWidget(edit, 1)
    layout.addWidget(button)
    return row


def with_note(field: QWidget, note: QLabel) -> QWidget:
    """A form field with its explanation line right under it."""
    box, layout = _bare_box(QVBoxLayout)
    layout.setSpacing(3)
    layout.addWidget(field)
    layout.addWidget(note)
    return box


def add_path_field(
    form: QFormLayout, label: str, parent: QWidget
) -> tuple[QLineEdit, QPushButton, QLabel]:
    """Add the row ``label`` to ``form``: a path edit, its Browse… button and a note line under
    them; returns the three."""
    edit = QLineEdit(parent)
    button = QPushButton("Browse…", parent)
    note = note_label(parent)
    form.addRow(label, with_note(path_row(edit, button), note))
    return edit, button, note
