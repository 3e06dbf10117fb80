"""The data panel's preprocessing and split forms: scaling, missing values, outliers,
smoothing; the validation / test shares and stratification."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QFormLayout, QGroupBox

from engine.data.spec import IMPUTES, OUTLIERS, SCALES
from engine.editing import data_section as ds
from gui.panels.data.fields import FieldMakers
from gui.widgets import FloatSpinBox, narrow, wrap_long_rows


class PreprocessForm(FieldMakers):
    """Builds, shows and edits ``preprocess`` and ``split`` (mixed into the data panel)."""

    def _build_preprocess_box(self) -> QGroupBox:
        pre_box = self.pre_box = QGroupBox("Preprocessing (fitted on training)")
        pre_box.setToolTip(
            "Fitted on the training split only, then applied to every split, to predictions "
            "and to exports (saved in each checkpoint)"
        )
        pre_form = wrap_long_rows(QFormLayout(pre_box))
        self.scale_combo = self._choice(SCALES, ("preprocess", "scale"))
        self.impute_combo = self._choice(IMPUTES, ("preprocess", "impute"))
        self.outliers_combo = narrow(QComboBox())
        self.outliers_combo.addItems(list(OUTLIERS))
        self.outliers_combo.activated.connect(
            lambda _i: self._set_outliers(self.outliers_combo.currentText())
        )
        self.threshold_spin = FloatSpinBox()
        self.threshold_spin.setRange(0.1, 100.0)
        self.threshold_spin.setSingleStep(0.1)
        self.threshold_spin.setKeyboardTracking(False)
        self.threshold_spin.setToolTip(
            "z-score: standard deviations from the mean; IQR: "
            "multiples of the inter-quartile range beyond the "
            "quartiles"
        )
        self.threshold_spin.valueChanged.connect(
            lambda v: (
                None
                if self._refreshing
                else self.set_value(("preprocess", "outlier_threshold"), round(float(v), 4))
            )
        )
        self.smooth_spin = self._int_spin(
            0, 1000, lambda v: self.set_value(("preprocess", "smooth_window"), v)
        )
        self.smooth_spin.setSpecialValueText("off")
        pre_form.addRow("Scaling", self.scale_combo)
        pre_form.addRow("Missing values", self.impute_combo)
        pre_form.addRow("Outlier clipping", self.outliers_combo)
        pre_form.addRow("Outlier threshold", self.threshold_spin)
        pre_form.addRow("Smoothing window", self.smooth_spin)
        return pre_box

    def _build_split_box(self) -> QGroupBox:
        split_box = self.split_box = QGroupBox("Split")
        split_form = wrap_long_rows(QFormLayout(split_box))
        self.val_spin = self._fraction(("split", "val"))
        self.test_spin = self._fraction(("split", "test"))
        self.stratify_check = QCheckBox("stratified")
        self.stratify_check.setToolTip("Keep the class proportions in every split")
        self.stratify_check.toggled.connect(
            lambda on: self.set_value(("split", "stratify"), bool(on))
        )
        split_form.addRow("Validation share", self.val_spin)
        split_form.addRow("Test share", self.test_spin)
        split_form.addRow("", self.stratify_check)
        return split_box

    def _set_outliers(self, method: str) -> bool:
        """Clip outliers with ``method``; a threshold left at the old method's default moves
        to the new one's (one undo step)."""
        return self.replace(
            ds.with_outliers(self.spec, method), f"Set data preprocess.outliers to {method}"
        )

    def _show_preprocess(self, spec: dict[str, Any]) -> None:
        """Show a normalized section's ``preprocess`` and ``split``."""
        pre = spec["preprocess"]
        self.scale_combo.setCurrentText(pre["scale"])
        self.impute_combo.setCurrentText(pre["impute"])
        self.outliers_combo.setCurrentText(pre["outliers"])
        self.threshold_spin.setValue(float(pre["outlier_threshold"]))
        self.threshold_spin.setEnabled(pre["outliers"] != "none")
        self.smooth_spin.setValue(int(pre["smooth_window"]))
        split = spec["split"]
        self.val_spin.setValue(float(split["val"]))
        self.test_spin.setValue(float(split["test"]))
        self.stratify_check.setChecked(bool(split["stratify"]))
