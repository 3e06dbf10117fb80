"""The data panel's augmentation group: the ordered steps of the data section's ``augment``.

The list shows the steps in the order they run; Add appends the op chosen in the combo box
(which offers only the ops that apply to the form of data the design's Input reads), Remove,
Up and Down change the list, and the parameters of the selected step are edited below it. Each
change is one undoable edit through the panel's ``replace`` (the engine's
:mod:`engine.editing.data_section` computes the new section).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from engine.data.augment_spec import AUGMENT_OPS, design_input_shape, form_of, ops_for
from engine.editing import data_section as ds
from gui.widgets import FloatSpinBox, narrow, wrap_long_rows


def plain_help(text: str) -> str:
    """An op's help without the backticks around parameter names."""
    return text.replace("`", "")


def step_text(index: int, step: dict[str, Any]) -> str:
    """How the list shows a step: ``2. Horizontal flip — p 0.5``."""
    op = AUGMENT_OPS.get(step.get("op"))  # type: ignore[arg-type]
    if op is None:
        return f"{index + 1}. {step.get('op')!r} (unknown)"
    params = ", ".join(f"{k} {step.get(k, f.default):g}" for k, f in op.params.items())
    return f"{index + 1}. {op.label} — {params}"


class AugmentForm:
    """Builds, shows and edits ``augment`` (mixed into the data panel)."""

    _refreshing: bool
    document: Any
    spec: dict[str, Any]
    replace: Callable[[dict[str, Any] | None, str], bool]

    def _build_augment_box(self) -> QGroupBox:
        box = self.augment_box = QGroupBox("Augmentation (training only)")
        layout = QVBoxLayout(box)
        self.augment_list = QListWidget()
        self.augment_list.setMaximumHeight(110)
        self.augment_list.setWordWrap(True)  # a long step wraps instead of being cut off
        self.augment_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.augment_list.setToolTip("The steps run in this order on every training batch")
        self.augment_list.currentRowChanged.connect(self._show_augment_params)
        add_row = QHBoxLayout()
        self.augment_op_combo = narrow(QComboBox())
        self.augment_add_button = QPushButton("Add")
        self.augment_add_button.clicked.connect(self._add_augment_step)
        add_row.addWidget(self.augment_op_combo, 1)
        add_row.addWidget(self.augment_add_button)
        edit_row = QHBoxLayout()
        self.augment_remove_button = QPushButton("Remove")
        self.augment_up_button = QPushButton("Up")
        self.augment_down_button = QPushButton("Down")
        self.augment_remove_button.clicked.connect(self._remove_augment_step)
        self.augment_up_button.clicked.connect(lambda: self._move_augment_step(-1))
        self.augment_down_button.clicked.connect(lambda: self._move_augment_step(1))
        for button in (
            self.augment_remove_button,
            self.augment_up_button,
            self.augment_down_button,
        ):
            button.setMinimumWidth(40)  # three buttons fit a narrow dock (the style asks 80)
            edit_row.addWidget(button)
        self.augment_params = QWidget()
        self.augment_params_form = wrap_long_rows(QFormLayout(self.augment_params))
        self.augment_params_form.setContentsMargins(0, 0, 0, 0)
        self.augment_help = QLabel()
        self.augment_help.setWordWrap(True)
        layout.addWidget(self.augment_list)
        layout.addLayout(add_row)
        layout.addLayout(edit_row)
        layout.addWidget(self.augment_help)
        layout.addWidget(self.augment_params)
        self._augment_form: str | None = None
        self._augment_shown: tuple[int, str] | None = (-1, "")  # nothing shown yet
        self._augment_editors: dict[str, QSpinBox | FloatSpinBox] = {}
        return box

    # -- reading ---------------------------------------------------------------------------------

    def augment_steps(self) -> list[dict[str, Any]]:
        """The design's augment steps as written (a copy)."""
        return ds.copy_steps(self.spec)

    def augment_form(self) -> str | None:
        """The form of data the design's Input reads (image, sequence, table), or None."""
        shape = design_input_shape(self.document.design)
        return form_of(shape) if shape is not None else None

    # -- editing ---------------------------------------------------------------------------------

    def _add_augment_step(self) -> bool:
        op = self.augment_op_combo.currentData()
        if op is None:
            return False
        done = self.replace(
            ds.with_augment_step(self.spec, op), f"Add augment step {AUGMENT_OPS[op].label}"
        )
        if done:
            self.augment_list.setCurrentRow(len(self.augment_steps()) - 1)
        return done

    def _remove_augment_step(self) -> bool:
        row = self.augment_list.currentRow()
        steps = self.augment_steps()
        if not 0 <= row < len(steps):
            return False
        label = step_text(row, steps[row]).split(" — ")[0]
        return self.replace(ds.without_augment_step(self.spec, row), f"Remove augment step {label}")

    def _move_augment_step(self, offset: int) -> bool:
        row = self.augment_list.currentRow()
        done = self.replace(
            ds.with_augment_moved(self.spec, row, offset),
            f"Move augment step {row + 1} {'up' if offset < 0 else 'down'}",
        )
        if done:
            self.augment_list.setCurrentRow(row + offset)
        return done

    def _set_augment_param(self, index: int, key: str, value: Any) -> bool:
        if self._refreshing:
            return False
        return self.replace(
            ds.with_augment_param(self.spec, index, key, value),
            f"Set augment step {index + 1} {key} to {value:g}",
        )

    # -- showing ---------------------------------------------------------------------------------

    def _show_augment(self, spec: dict[str, Any]) -> None:
        """Show the section's steps, the ops the data's form allows and the selected step."""
        self._show_augment_ops()
        steps = (spec.get("augment") or {}).get("steps", [])
        row = self.augment_list.currentRow()
        self.augment_list.blockSignals(True)
        self.augment_list.clear()
        self.augment_list.addItems([step_text(i, s) for i, s in enumerate(steps)])
        if steps:
            self.augment_list.setCurrentRow(min(max(row, 0), len(steps) - 1))
        self.augment_list.blockSignals(False)
        self._show_augment_params(self.augment_list.currentRow())

    def _show_augment_ops(self, *_changed: object) -> None:
        """Offer the ops that apply to the form of data the Input reads."""
        form = self.augment_form()
        if form == self._augment_form and self.augment_op_combo.count():
            return
        self._augment_form = form
        combo = self.augment_op_combo
        combo.clear()
        for op in ops_for(form):
            combo.addItem(AUGMENT_OPS[op].label, op)
            combo.setItemData(
                combo.count() - 1, plain_help(AUGMENT_OPS[op].help), Qt.ItemDataRole.ToolTipRole
            )
        shown = f"{form} data" if form else "data of unknown form"
        combo.setToolTip(f"The steps that apply to {shown}")

    def _show_augment_params(self, row: int) -> None:
        """Editors for the parameters of step ``row`` (none when no step is selected); the
        editors of the step already shown only take the new values (one may be sending)."""
        steps = self.augment_steps()
        n = len(steps)
        self.augment_remove_button.setEnabled(0 <= row < n)
        self.augment_up_button.setEnabled(0 < row < n)
        self.augment_down_button.setEnabled(0 <= row < n - 1)
        op_name = steps[row].get("op") if 0 <= row < n else None
        shown = (row, op_name) if op_name in AUGMENT_OPS else None
        was = self._refreshing
        self._refreshing = True
        try:
            if shown != self._augment_shown or shown is None:
                self._augment_shown = shown
                self._augment_editors = {}
                while self.augment_params_form.rowCount():
                    self.augment_params_form.removeRow(0)
                if shown is None:
                    self.augment_help.setText(
                        "No steps: training batches are used as they are. Add one to vary "
                        "them at random while the model trains."
                        if n == 0
                        else "Select a step to edit it."
                    )
                    return
                op = AUGMENT_OPS[op_name]
                self.augment_help.setText(f"{op.label}: {plain_help(op.help)}.")
                for key, field in op.params.items():
                    editor = self._augment_editor(row, key, field)
                    self._augment_editors[key] = editor
                    self.augment_params_form.addRow(key, editor)
            if shown is not None:
                for key, field in AUGMENT_OPS[op_name].params.items():
                    value = steps[row].get(key, field.default)
                    if isinstance(value, int | float) and not isinstance(value, bool):
                        self._augment_editors[key].setValue(value)
        finally:
            self._refreshing = was

    def _augment_editor(self, row: int, key: str, field: Any) -> QSpinBox | FloatSpinBox:
        """A spin box for parameter ``key`` of step ``row``, bounded like the engine bounds it."""
        if field.integer:
            spin: QSpinBox | FloatSpinBox = QSpinBox()
            spin.setRange(int(field.low), int(field.high))
        else:
            spin = FloatSpinBox()
            spin.setRange(float(field.low), float(field.high))
            spin.setSingleStep(0.05 if field.high <= 1 else 0.1 if field.high <= 10 else 1.0)
        spin.setKeyboardTracking(False)
        spin.setObjectName(f"augment_{key}")
        spin.setToolTip(f"{key}: from {field.low:g} to {field.high:g}")
        convert = int if field.integer else (lambda v: round(float(v), 6))
        spin.valueChanged.connect(lambda v: self._set_augment_param(row, key, convert(v)))
        return spin
