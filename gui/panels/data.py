"""The data panel: which data the design trains on, how it is preprocessed, and a preview.

It edits the design's ``data`` section (see docs/data.md): a builtin dataset with its form and
options, or a CSV / ``.npy`` / ``.npz`` file or an image folder; scaling, missing values, outliers
and smoothing; the validation and test split. Every change is one
:class:`~gui.commands.ReplaceSection` on the undo stack, checked with the engine's
``normalize_spec`` first (a refused value shows the reason and pushes nothing). After each change
a background thread runs ``prepare_data`` and the panel shows what came out — samples per split,
the sample shape, the classes — and, when the sample shape does not fit the design's Input node,
the engine's one-line reason with a button that applies the fix.

For a CSV file the panel reads only the header row (with the chosen delimiter) to offer the
target column, the feature columns and which of them are one-hot encoded; for an ``.npz``
archive it lists the arrays (``numpy.load(..., allow_pickle=False).files``) for the x and y keys.
"""

from __future__ import annotations

import copy
import csv
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.data import BUILTIN_DATASETS, builtin_options, check_input_shape, prepare_data
from engine.data.builtin import DIGITS_FORMS, option_ranges
from engine.data.spec import (
    DEFAULT_OUTLIER_THRESHOLD,
    IMPUTES,
    OUTLIERS,
    SCALES,
    normalize_spec,
)
from engine.errors import Cancelled, DataError, DeepwireError
from engine.graph import Design
from engine.layers import REGISTRY
from engine.shapes import network_inputs
from gui.commands import ReplaceSection, SetParam, formatting_value, use_default_data
from gui.document import DEFAULT_DATA, Document
from gui.summary import data_problem
from gui.widgets import ERROR_COLOUR, FloatSpinBox, scrolled_body

SOURCES = {"builtin": "Built-in dataset", "csv": "CSV file", "npy": "NumPy array (.npy)",
           "npz": "NumPy archive (.npz)", "image_folder": "Image folder (a sub-folder per class)"}
FILE_FILTERS = {"csv": "CSV files (*.csv *.txt);;All files (*)",
                "npy": "NumPy arrays (*.npy);;All files (*)",
                "npz": "NumPy archives (*.npz);;All files (*)"}
#: The delimiters offered for CSV files (a chosen file's is detected from its header row).
DELIMITERS = {",": "comma ( , )", ";": "semicolon ( ; )", "\t": "tab", "|": "pipe ( | )"}
WARNING_COLOUR = "#c77c02"
MAX_HEADER_CHARS = 1 << 20
PREVIEW_DELAY_MS = 250


def data_input(design: Design) -> str | None:
    """The Input node the data feeds: the discriminator's for a GAN, else the only one."""
    network = design.network_of_role("discriminator")
    ids = network_inputs(design, network) if network is not None else [
        n.id for n in design if REGISTRY.resolve(n.type) == "Input"]
    return ids[0] if len(ids) == 1 else None


def _header_line(path: Path) -> str:
    """A CSV file's first non-blank line (only that much is read); DataError with the reason."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            while True:
                line = fh.readline(MAX_HEADER_CHARS)
                if not line or line.strip():
                    break
    except UnicodeDecodeError as exc:
        raise DataError(f"{path.name} is not UTF-8 text (byte {exc.start}): save it as CSV "
                        "UTF-8") from None
    except OSError as exc:
        raise DataError(f"{path.name} cannot be read ({exc.strerror or exc}): check that the "
                        "file exists and is readable") from None
    if not line.strip():
        raise DataError(f"{path.name} is empty: it needs a header row with the column names")
    return line


def sniff_delimiter(path: Path) -> str:
    """The offered delimiter found most often on the header row (comma when unreadable)."""
    try:
        line = _header_line(path)
    except DataError:
        return ","
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_header(path: Path, delimiter: str = ",") -> list[str]:
    """The column names on a CSV file's header row, split at ``delimiter`` (quotes honoured).

    Raises DataError with a one-line reason when the file or its header cannot be used."""
    line = _header_line(path)
    try:
        fields = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error as exc:
        raise DataError(f"{path.name}: the header row cannot be read ({exc}): fix its "
                        "quoting") from None
    header = [f.strip() for f in fields]
    if "" in header:
        raise DataError(f"{path.name}: column {header.index('') + 1} of the header has no name "
                        f"(delimiter {DELIMITERS.get(delimiter, repr(delimiter))}): name it "
                        "or choose the right delimiter")
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(f"{path.name}: column name {dupes[0]!r} appears twice in the header: "
                        "rename one of them")
    return header


def npz_keys(path: Path) -> list[str]:
    """The array names in an ``.npz`` archive (nothing is loaded); DataError with the reason."""
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise DataError(f"{path.name} cannot be read ({exc.strerror or exc}): check that the "
                        "file exists and is readable") from None
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(f"{path.name} is not a NumPy archive ({exc}): save it with "
                        "numpy.savez") from None
    if not hasattr(archive, "files"):
        raise DataError(f"{path.name} is a single .npy array, not an .npz archive: choose "
                        "the source NumPy array (.npy)")
    with archive:
        keys = list(archive.files)
    if not keys:
        raise DataError(f"{path.name} holds no arrays: save the features (and targets) in it")
    return keys


class DataPanel(QWidget):
    """Edits ``document.design.data`` (see the module docstring)."""

    statusMessage = Signal(str)
    previewReady = Signal(int, object)  # generation, PreparedData or an error line (worker → GUI)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        #: ``choose_path(kind, folder)`` → a chosen path or None; tests replace it.
        self.choose_path: Callable[[str, bool], str | None] = self._ask_path
        self.preview: Any = None          # the last PreparedData, or None
        self.preview_error: str | None = None
        self._refreshing = False
        self._generation = 0
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()  # the running preview's stop request
        self._pending = False
        self._option_editors: dict[str, QWidget] = {}
        self._options_for: str | None = None
        self._build_ui()
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.update_preview)
        self.previewReady.connect(self._on_preview)
        # the data section changes → new preview; any other edit may change the Input node only
        document.sectionChanged.connect(self._on_section_changed)
        document.analysisChanged.connect(self._check_input)
        document.designReset.connect(self._on_design_edited)
        self._stale = False
        self._on_screen = True
        self.refresh()
        self._schedule_preview()

    # -- construction ----------------------------------------------------------------------------

    def _build_ui(self) -> None:
        layout = scrolled_body(self)
        # a design without a (valid) data section says so here, with the one-click fix
        self.missing_label = self._label(ERROR_COLOUR)
        self.use_digits_button = QPushButton("Use built-in digits")
        self.use_digits_button.setToolTip("Train on scikit-learn's digits (64 pixels, 10 "
                                          "classes); one undoable edit")
        self.use_digits_button.clicked.connect(self.use_default_data)
        self.use_digits_button.hide()
        layout.addWidget(self.missing_label)
        layout.addWidget(self.use_digits_button)

        source_box = QGroupBox("Data source (saved with the design)")
        self.source_form = QFormLayout(source_box)
        self.source_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.source_combo = QComboBox()
        for key, title in SOURCES.items():
            self.source_combo.addItem(title, key)
        self.source_combo.activated.connect(self._on_source_chosen)
        self.source_form.addRow("Source", self.source_combo)
        # builtin
        self.dataset_combo = QComboBox()
        for name, description in BUILTIN_DATASETS.items():
            self.dataset_combo.addItem(name, name)
            self.dataset_combo.setItemData(self.dataset_combo.count() - 1, description,
                                           Qt.ItemDataRole.ToolTipRole)
        self.dataset_combo.activated.connect(
            lambda _i: self._set_dataset(self.dataset_combo.currentData()))
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        self.form_combo = QComboBox()
        self.form_combo.addItems(["auto (from the Input shape)", *DIGITS_FORMS])
        self.form_combo.activated.connect(self._on_form_chosen)
        self.options_box = QWidget()
        self.options_form = QFormLayout(self.options_box)
        self.options_form.setContentsMargins(0, 0, 0, 0)
        # files
        self.path_label = QLabel()
        self.path_label.setWordWrap(True)
        self.path_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.path_button = QPushButton("Choose…")
        self.path_button.clicked.connect(self.choose_file)
        path_row = QWidget()
        path_layout = QHBoxLayout(path_row)
        path_layout.setContentsMargins(0, 0, 0, 0)
        path_layout.addWidget(self.path_label, 1)
        path_layout.addWidget(self.path_button)
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("The column to predict")
        self.target_combo.activated.connect(
            lambda _i: self._set_target(self.target_combo.currentData()))
        self.delimiter_combo = QComboBox()
        for key, title in DELIMITERS.items():
            self.delimiter_combo.addItem(title, key)
        self.delimiter_combo.setToolTip("The character between the columns (detected from the "
                                        "header when a file is chosen)")
        self.delimiter_combo.activated.connect(
            lambda _i: self._set_delimiter(self.delimiter_combo.currentData()))
        self.columns_tree = QTreeWidget()
        self.columns_tree.setColumnCount(2)
        self.columns_tree.setHeaderLabels(["Feature column", "One-hot"])
        self.columns_tree.headerItem().setToolTip(
            0, "Checked columns are the inputs (the target is never one)")
        self.columns_tree.headerItem().setToolTip(
            1, "Encode the column as categories, one 0/1 input per value (text columns are "
               "encoded so anyway)")
        self.columns_tree.setRootIsDecorated(False)
        self.columns_tree.setUniformRowHeights(True)
        self.columns_tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        header = self.columns_tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.columns_tree.itemChanged.connect(self._on_column_toggled)
        self.file_error_label = self._label(ERROR_COLOUR)
        self.x_key_combo = QComboBox()
        self.x_key_combo.setToolTip("The array of samples (features)")
        self.x_key_combo.activated.connect(
            lambda _i: self.set_value(("x_key",), self.x_key_combo.currentData()))
        self.y_key_combo = QComboBox()
        self.y_key_combo.setToolTip("The array of targets (labels or values)")
        self.y_key_combo.activated.connect(
            lambda _i: self.set_value(("y_key",), self.y_key_combo.currentData()))
        self.npy_target_combo = QComboBox()
        self.npy_target_combo.addItem("none (unsupervised)", "none")
        self.npy_target_combo.addItem("last column", "last")
        self.npy_target_combo.activated.connect(
            lambda _i: self.set_value(("target",), self.npy_target_combo.currentData()))
        self.height_spin = self._int_spin(1, 4096, lambda v: self._set_size(0, v))
        self.width_spin = self._int_spin(1, 4096, lambda v: self._set_size(1, v))
        size_row = QWidget()
        size_layout = QHBoxLayout(size_row)
        size_layout.setContentsMargins(0, 0, 0, 0)
        size_layout.addWidget(self.height_spin)
        size_layout.addWidget(QLabel("×"))
        size_layout.addWidget(self.width_spin)
        self.color_combo = QComboBox()
        self.color_combo.addItems(["grayscale", "rgb"])
        self.color_combo.activated.connect(
            lambda _i: self.set_value(("color",), self.color_combo.currentText()))
        self.rows: dict[str, tuple[QWidget, QWidget]] = {}
        for key, label, widget in (("dataset", "Dataset", self.dataset_combo),
                                   ("form", "Form", self.form_combo),
                                   ("options", "Options", self.options_box),
                                   ("path", "File", path_row),
                                   ("delimiter", "Delimiter", self.delimiter_combo),
                                   ("target", "Target column", self.target_combo),
                                   ("columns", "Columns", self.columns_tree),
                                   ("x_key", "Samples array", self.x_key_combo),
                                   ("y_key", "Targets array", self.y_key_combo),
                                   ("npy_target", "Targets", self.npy_target_combo),
                                   ("size", "Image size", size_row),
                                   ("color", "Colour", self.color_combo)):
            caption = QLabel(label)
            self.source_form.addRow(caption, widget)
            self.rows[key] = (caption, widget)
            if key == "dataset":  # the description wraps across the whole row
                self.source_form.addRow(self.description_label)
                self.rows["description"] = (self.description_label, self.description_label)
            if key == "path":  # why the file cannot be used, across the whole row
                self.source_form.addRow(self.file_error_label)
        for combo in source_box.findChildren(QComboBox):
            _narrow(combo)
        layout.addWidget(source_box)

        pre_box = self.pre_box = QGroupBox("Preprocessing (fitted on the training split)")
        pre_form = QFormLayout(pre_box)
        self.scale_combo = self._choice(SCALES, ("preprocess", "scale"))
        self.impute_combo = self._choice(IMPUTES, ("preprocess", "impute"))
        self.outliers_combo = _narrow(QComboBox())
        self.outliers_combo.addItems(list(OUTLIERS))
        self.outliers_combo.activated.connect(
            lambda _i: self._set_outliers(self.outliers_combo.currentText()))
        self.threshold_spin = FloatSpinBox()
        self.threshold_spin.setRange(0.1, 100.0)
        self.threshold_spin.setSingleStep(0.1)
        self.threshold_spin.setKeyboardTracking(False)
        self.threshold_spin.setToolTip("z-score: standard deviations from the mean; IQR: "
                                       "multiples of the inter-quartile range beyond the "
                                       "quartiles")
        self.threshold_spin.valueChanged.connect(
            lambda v: None if self._refreshing else self.set_value(
                ("preprocess", "outlier_threshold"), round(float(v), 4)))
        self.smooth_spin = self._int_spin(0, 1000,
                                          lambda v: self.set_value(("preprocess",
                                                                    "smooth_window"), v))
        self.smooth_spin.setSpecialValueText("off")
        pre_form.addRow("Scaling", self.scale_combo)
        pre_form.addRow("Missing values", self.impute_combo)
        pre_form.addRow("Outlier clipping", self.outliers_combo)
        pre_form.addRow("Outlier threshold", self.threshold_spin)
        pre_form.addRow("Smoothing window", self.smooth_spin)
        layout.addWidget(pre_box)

        split_box = self.split_box = QGroupBox("Split")
        split_form = QFormLayout(split_box)
        self.val_spin = self._fraction(("split", "val"))
        self.test_spin = self._fraction(("split", "test"))
        self.stratify_check = QCheckBox("stratified")
        self.stratify_check.setToolTip("Keep the class proportions in every split")
        self.stratify_check.toggled.connect(
            lambda on: self.set_value(("split", "stratify"), bool(on)))
        split_form.addRow("Validation share", self.val_spin)
        split_form.addRow("Test share", self.test_spin)
        split_form.addRow("", self.stratify_check)
        layout.addWidget(split_box)

        self.error_label = self._label(ERROR_COLOUR)
        self.preview_label = QLabel("Preparing a preview…")
        self.preview_label.setWordWrap(True)
        self.preview_label.setTextFormat(Qt.TextFormat.RichText)
        self.mismatch_label = self._label(WARNING_COLOUR)
        self.fix_button = QPushButton()
        self.fix_button.hide()
        self.fix_button.clicked.connect(self.apply_input_fix)
        preview_box = QGroupBox("Preview")
        preview_layout = QVBoxLayout(preview_box)
        for widget in (self.preview_label, self.mismatch_label, self.fix_button):
            preview_layout.addWidget(widget)
        layout.addWidget(self.error_label)
        layout.addWidget(preview_box)
        layout.addStretch(1)

    @staticmethod
    def _label(colour: str) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        label.setStyleSheet(f"color: {colour};")
        label.hide()
        return label

    def _choice(self, items: tuple[str, ...], path: tuple[str, ...]) -> QComboBox:
        combo = _narrow(QComboBox())
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
            lambda v: None if self._refreshing else self.set_value(path, round(float(v), 4)))
        return spin

    # -- reading ---------------------------------------------------------------------------------

    @property
    def spec(self) -> dict[str, Any]:
        """The design's data section (a copy)."""
        data = self.document.design.data
        return copy.deepcopy(data) if isinstance(data, dict) else {}

    def base_dir(self) -> Path | None:
        """The folder relative data paths start from: the design file's."""
        path = self.document.path
        return path.parent if path is not None else None

    def resolve(self, path: str) -> Path:
        """A data path as the loaders read it: relative ones start at the design's folder."""
        resolved = Path(path)
        base = self.base_dir()
        return base / resolved if not resolved.is_absolute() and base is not None else resolved

    # -- editing ---------------------------------------------------------------------------------

    def set_value(self, path: tuple[str, ...], value: Any) -> bool:
        """Set one (possibly nested) key of the data section; False when refused or unchanged."""
        if self._refreshing:
            return False
        spec = self.spec
        target = spec
        for key in path[:-1]:
            if not isinstance(target.get(key), dict):
                target[key] = {}
            target = target[key]
        if target.get(path[-1]) == value and path[-1] in target:
            return False
        target[path[-1]] = value
        return self.replace(spec, f"Set data {'.'.join(path)} to {formatting_value(value)}")

    def replace(self, spec: dict[str, Any], text: str) -> bool:
        """Push ``spec`` as the new data section if the engine accepts it."""
        try:
            normalize_spec(spec)
            if spec.get("source") == "csv" and spec.get("features") == []:
                raise DataError(f"{spec['path']}: no feature columns chosen: check at least "
                                "one column besides the target")
        except DeepwireError as exc:
            self._refuse(str(exc))
            return False
        if spec == self.spec:
            return False
        self.document.push(ReplaceSection(self.document, "data", spec, text))
        return True

    def _refuse(self, reason: str) -> None:
        self.error_label.setText(f"Not applied: {reason}")
        self.error_label.show()
        self.statusMessage.emit(f"Not applied: {reason}")
        self.refresh()

    def _on_source_chosen(self, _index: int) -> None:
        source = self.source_combo.currentData()
        if source == self.spec.get("source"):
            return
        if source == "builtin":
            self._set_dataset("digits", keep_preprocess=True)
            return
        self.choose_file(source)

    def choose_file(self, source: str | None = None) -> bool:
        """Ask for a file or folder of ``source`` (default: the current one) and use it."""
        source = source or self.spec.get("source", "csv")
        if source == "builtin":
            return False
        chosen = self.choose_path(source, source == "image_folder")
        if not chosen:
            self.refresh()  # the source combo goes back to what the design has
            return False
        path = Path(chosen)
        base = self.base_dir()
        shown = str(path)
        if base is not None:
            try:
                shown = str(path.resolve().relative_to(base.resolve()))
            except ValueError:
                pass
        old = self.spec
        spec: dict[str, Any] = {"source": source, "path": shown}
        for key in ("split", "preprocess"):
            if key in old:
                spec[key] = old[key]
        try:
            if source == "csv":
                delimiter = sniff_delimiter(path)
                header = csv_header(path, delimiter)
                spec["target"] = header[-1]  # the usual place of the label column
                if delimiter != ",":
                    spec["delimiter"] = delimiter
            elif source == "npz":
                keys = npz_keys(path)
                x_key = "x" if "x" in keys else keys[0]
                spec["x_key"] = x_key
                spec["y_key"] = "y" if "y" in keys and x_key != "y" else next(
                    (k for k in keys if k != x_key), None)
        except DataError as exc:
            self._refuse(str(exc))
            return False
        if source == "image_folder":
            spec.update(size=[28, 28], color="grayscale")
        return self.replace(spec, f"Use {SOURCES[source].lower()} {path.name}")

    def _csv_header(self, spec: dict[str, Any], delimiter: str | None = None) -> list[str]:
        return csv_header(self.resolve(spec["path"]),
                          delimiter or spec.get("delimiter", ","))

    def _set_target(self, target: str | None) -> bool:
        """Predict ``target``; it leaves the feature and one-hot lists (one undo step)."""
        spec = self.spec
        if spec.get("target") == target and "target" in spec:
            return False
        spec["target"] = target
        for key in ("features", "categorical"):
            if isinstance(spec.get(key), list) and target in spec[key]:
                spec[key] = [c for c in spec[key] if c != target]
        return self.replace(spec, f"Set data target to {formatting_value(target)}")

    def _set_delimiter(self, delimiter: str) -> bool:
        """Split the CSV at ``delimiter``: columns the new header lacks are dropped from the
        target (then the last column), features and one-hot lists — one undo step."""
        spec = self.spec
        if spec.get("delimiter", ",") == delimiter:
            return False
        try:
            header = self._csv_header(spec, delimiter)
        except DataError as exc:
            self._refuse(str(exc))
            return False
        spec["delimiter"] = delimiter
        if spec.get("target") is not None and spec["target"] not in header:
            spec["target"] = header[-1]
        for key in ("features", "categorical"):
            if isinstance(spec.get(key), list):
                spec[key] = [c for c in spec[key] if c in header and c != spec.get("target")]
                if not spec[key]:  # none left: every column again, none one-hot
                    del spec[key]
        title = DELIMITERS.get(delimiter, repr(delimiter)).split(" (")[0]
        return self.replace(spec, f"Set data delimiter to {title}")

    def _on_column_toggled(self, _item: QTreeWidgetItem, _column: int) -> None:
        if self._refreshing:
            return
        self.set_columns(*self.checked_columns())

    def checked_columns(self) -> tuple[list[str], list[str]]:
        """(feature columns, one-hot columns) as checked in the columns list."""
        features, categorical = [], []
        for i in range(self.columns_tree.topLevelItemCount()):
            item = self.columns_tree.topLevelItem(i)
            name = item.data(0, Qt.ItemDataRole.UserRole)
            if name is None or item.checkState(0) != Qt.CheckState.Checked:
                continue  # the target, or not an input
            features.append(name)
            if item.checkState(1) == Qt.CheckState.Checked:
                categorical.append(name)
        return features, categorical

    def set_columns(self, features: list[str], categorical: list[str]) -> bool:
        """Use ``features`` (every column but the target → ``features`` left out) and one-hot
        encode ``categorical`` of them; one undo step, refused with the reason."""
        spec = self.spec
        try:
            header = self._csv_header(spec)
        except DataError as exc:
            self._refuse(str(exc))
            return False
        target = spec.get("target")
        everything = [c for c in header if c != target]
        new_features = None if features == everything else list(features)
        new_categorical = [c for c in categorical if c in features]
        if spec.get("features") == new_features and \
                (spec.get("categorical") or []) == new_categorical:
            return False
        if new_features is None:
            spec.pop("features", None)
        else:
            spec["features"] = new_features
        if new_categorical:
            spec["categorical"] = new_categorical
        else:
            spec.pop("categorical", None)
        n = len(features)
        text = (f"Use {n} feature column{'s' if n != 1 else ''}"
                + (f", {len(new_categorical)} one-hot" if new_categorical else ""))
        return self.replace(spec, text)

    def _set_outliers(self, method: str) -> bool:
        """Clip outliers with ``method``; a threshold left at the old method's default moves
        to the new one's (one undo step)."""
        spec = self.spec
        pre = spec.get("preprocess") if isinstance(spec.get("preprocess"), dict) else {}
        old = pre.get("outliers", "none")
        if old == method:
            return False
        pre = dict(pre)
        pre["outliers"] = method
        if pre.get("outlier_threshold") == DEFAULT_OUTLIER_THRESHOLD.get(old):
            del pre["outlier_threshold"]
        spec["preprocess"] = pre
        return self.replace(spec, f"Set data preprocess.outliers to {method}")

    def _set_dataset(self, name: str, keep_preprocess: bool = True) -> None:
        old = self.spec
        if old.get("source") == "builtin" and old.get("name") == name:
            return
        spec: dict[str, Any] = {"source": "builtin", "name": name}
        if name == "digits":
            spec["form"] = old.get("form") if old.get("name") == "digits" else "flat"
        for key in ("split", "preprocess") if keep_preprocess else ():
            if key in old:
                spec[key] = old[key]
        self.replace(spec, f"Use the {name} dataset")

    def _on_form_chosen(self, index: int) -> None:
        if index == 0:
            spec = self.spec
            if "form" in spec:
                del spec["form"]
                self.replace(spec, "Set data form to auto")
            return
        self.set_value(("form",), DIGITS_FORMS[index - 1])

    def _set_size(self, axis: int, value: int) -> None:
        size = list(self.spec.get("size", [28, 28]))
        size[axis] = value
        self.set_value(("size",), size)

    def _set_option(self, key: str, value: Any) -> None:
        if not self._refreshing:
            self.set_value(("options", key), value)

    def use_default_data(self) -> bool:
        """Replace a missing or invalid data section with the built-in digits (undoable)."""
        if self.spec == DEFAULT_DATA:
            return False
        self.document.push(use_default_data(self.document))
        return True

    def apply_input_fix(self) -> bool:
        """Set the Input node's shape to the data's sample shape (one undo step)."""
        node_id = data_input(self.document.design)
        if node_id is None or self.preview is None:
            return False
        shape = [int(s) for s in self.preview.input_shape]
        self.document.push(SetParam(self.document, node_id, "shape", shape))
        return True

    # -- showing ---------------------------------------------------------------------------------

    @Slot()
    def _on_section_changed(self, section: str) -> None:
        if section == "data":
            self._on_design_edited()

    def _on_design_edited(self) -> None:
        self.error_label.hide()
        self.refresh()
        self._check_input()
        self._schedule_preview()

    def _schedule_preview(self) -> None:
        """Prepare the preview soon if the panel is on screen, else when it comes up."""
        if self._on_screen:
            self._stale = False
            self._preview_timer.start()
        else:
            self._stale = True

    @Slot(bool)
    def set_on_screen(self, on_screen: bool) -> None:
        """Whether the panel can be seen (its dock tab is the current one): previews are
        prepared only then, so a hidden panel costs nothing."""
        self._on_screen = on_screen
        if on_screen and self._stale:
            self._schedule_preview()

    def refresh(self) -> None:
        """Show the design's data section in the editors (defaults where a key is absent)."""
        self._refreshing = True
        try:
            raw = self.spec
            problem = self.section_problem()
            self.missing_label.setText(problem or "")
            for widget in (self.missing_label, self.use_digits_button):
                widget.setVisible(problem is not None)
            for box in (self.pre_box, self.split_box):  # they would show made-up values
                box.setVisible(problem is None)
            if problem is not None:  # show nothing the design does not hold
                known = raw.get("source") in SOURCES
                self.source_combo.setCurrentIndex(
                    list(SOURCES).index(raw["source"]) if known else -1)
                for caption, widget in self.rows.values():
                    caption.setVisible(False)
                    widget.setVisible(False)
                self.file_error_label.hide()
                return
            spec = normalize_spec(raw)
            source = spec["source"]
            self.source_combo.setCurrentIndex(list(SOURCES).index(source))
            visible = {"builtin": ("dataset", "description", "form", "options"),
                       "csv": ("path", "delimiter", "target", "columns"),
                       "npy": ("path", "npy_target"), "npz": ("path", "x_key", "y_key"),
                       "image_folder": ("path", "size", "color")}[source]
            self.file_error_label.hide()
            for key, (caption, widget) in self.rows.items():
                on = key in visible and not (key == "form" and spec.get("name") != "digits")
                caption.setVisible(on)
                widget.setVisible(on)
            if source == "builtin":
                name = spec["name"]
                self.dataset_combo.setCurrentIndex(max(0, self.dataset_combo.findData(name)))
                self.description_label.setText(BUILTIN_DATASETS.get(name, ""))
                form = spec.get("form")
                self.form_combo.setCurrentIndex(
                    DIGITS_FORMS.index(form) + 1 if form in DIGITS_FORMS else 0)
                self._show_options(name, spec.get("options") or {})
            else:
                self.path_label.setText(spec["path"])
                if source == "csv":
                    self._show_columns(spec)
                elif source == "npz":
                    self._show_keys(spec)
                elif source == "npy":
                    self.npy_target_combo.setCurrentIndex(
                        max(0, self.npy_target_combo.findData(spec["target"])))
                elif source == "image_folder":
                    self.height_spin.setValue(spec["size"][0])
                    self.width_spin.setValue(spec["size"][1])
                    self.color_combo.setCurrentText(spec["color"])
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
        finally:
            self._refreshing = False

    def section_problem(self) -> str | None:
        """Why the design's data section cannot be used (missing or invalid), or None."""
        problem = data_problem(self.document.design)
        return None if problem is None else (f"{problem.message}. Choose a source below, or "
                                             "use the built-in digits dataset.")

    def _show_options(self, name: str, given: dict[str, Any]) -> None:
        defaults = builtin_options(name) if name in BUILTIN_DATASETS else {}
        if self._options_for != name:
            self._options_for = name
            while self.options_form.rowCount():
                self.options_form.removeRow(0)
            self._option_editors = {}
            ranges = option_ranges(name) if name in BUILTIN_DATASETS else {}
            for key in defaults:
                kind, low, high = ranges[key]
                if kind is int:
                    editor: QWidget = self._int_spin(
                        int(low), int(high), lambda v, k=key: self._set_option(k, v))
                else:
                    editor = FloatSpinBox()
                    editor.setRange(float(low), float(high))
                    editor.setSingleStep(0.01 if high <= 1 else 0.1 if high <= 100 else 1.0)
                    editor.setKeyboardTracking(False)
                    editor.valueChanged.connect(
                        lambda v, k=key: self._set_option(k, float(v)))
                editor.setToolTip(f"from {low:g} to {high:g}")
                self.options_form.addRow(key.replace("_", " "), editor)
                self._option_editors[key] = editor
        for key, editor in self._option_editors.items():
            editor.setValue(given.get(key, defaults[key]))
        caption, widget = self.rows["options"]
        caption.setVisible(bool(defaults))
        widget.setVisible(bool(defaults))

    def _show_file_error(self, reason: str) -> None:
        self.file_error_label.setText(reason)
        self.file_error_label.show()

    def _show_columns(self, spec: dict[str, Any]) -> None:
        """Fill the delimiter, target and columns editors from the CSV's header row."""
        delimiter = spec["delimiter"]
        index = self.delimiter_combo.findData(delimiter)
        if index < 0:  # a hand-written delimiter the list does not offer
            self.delimiter_combo.addItem(repr(delimiter), delimiter)
            index = self.delimiter_combo.count() - 1
        self.delimiter_combo.setCurrentIndex(index)
        try:
            header = self._csv_header(spec)
        except DataError as exc:
            header = []
            self._show_file_error(str(exc))
        target = spec.get("target")
        self.target_combo.clear()
        self.target_combo.addItem("none (unsupervised)", None)
        for column in header:
            self.target_combo.addItem(column, column)
        if target is not None and target not in header:
            self.target_combo.addItem(f"{target} (not in the file)", target)
        self.target_combo.setCurrentIndex(max(0, self.target_combo.findData(target)))
        features = spec["features"]
        categorical = set(spec["categorical"])
        self.columns_tree.clear()
        checkable = (Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
        for column in header:
            item = QTreeWidgetItem([column, ""])
            if column == target:
                item.setText(0, f"{column}  (target)")
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                item.setToolTip(0, "The column to predict is never an input")
            else:
                item.setData(0, Qt.ItemDataRole.UserRole, column)
                used = features is None or column in features
                item.setFlags(checkable)
                item.setCheckState(0, Qt.CheckState.Checked if used
                                   else Qt.CheckState.Unchecked)
                item.setCheckState(1, Qt.CheckState.Checked if column in categorical
                                   else Qt.CheckState.Unchecked)
            self.columns_tree.addTopLevelItem(item)
        self._fit_columns_tree(len(header))

    def _fit_columns_tree(self, rows: int) -> None:
        """As tall as its rows, up to eight (then it scrolls)."""
        tree = self.columns_tree
        row = tree.sizeHintForRow(0) if rows else tree.fontMetrics().height() + 6
        height = tree.header().sizeHint().height() + max(1, min(rows, 8)) * row \
            + 2 * tree.frameWidth() + 2
        tree.setFixedHeight(height)

    def _show_keys(self, spec: dict[str, Any]) -> None:
        """Fill the x / y key combos from the archive's array names."""
        try:
            keys = npz_keys(self.resolve(spec["path"]))
        except DataError as exc:
            keys = []
            self._show_file_error(str(exc))
        for combo, key, none in ((self.x_key_combo, spec["x_key"], False),
                                 (self.y_key_combo, spec["y_key"], True)):
            combo.clear()
            if none:
                combo.addItem("none (no targets)", None)
            for name in keys:
                combo.addItem(name, name)
            if key is not None and key not in keys:
                combo.addItem(f"{key} (not in the file)", key)
            combo.setCurrentIndex(max(0, combo.findData(key)))

    # -- the preview -----------------------------------------------------------------------------

    @Slot()
    def update_preview(self) -> None:
        """Prepare the data in a background thread; the result arrives in :meth:`_on_preview`."""
        if not self._on_screen:  # hidden again since it was scheduled
            self._stale = True
            return
        if self.section_problem() is not None:  # nothing to prepare; the panel says why
            self._generation += 1  # a preview still being prepared is of the old section
            self.preview, self.preview_error = None, None
            self.preview_label.setText("No data to preview.")
            self._check_input()
            return
        if self._worker is not None and self._worker.is_alive():
            self._pending = True
            self._cancel.set()  # its data is out of date: stop it, the newer one follows
            return
        self._generation += 1
        self._cancel = threading.Event()
        seed = self.document.design.training.get("seed", 0) \
            if isinstance(self.document.design.training, dict) else 0
        self._worker = threading.Thread(
            target=self._prepare,
            args=(self._generation, self.spec, self.base_dir(), seed, self._cancel),
            name="deepwire-data-preview", daemon=True)
        self._worker.start()

    def _prepare(self, generation: int, spec: dict[str, Any], base: Path | None,
                 seed: Any, cancel: threading.Event) -> None:
        """Worker thread: prepare the data and hand the result to the GUI thread (None when
        it was stopped: a newer preview follows, or the panel is going away)."""
        try:
            result: Any = prepare_data(spec, base, seed if isinstance(seed, int) else 0,
                                       should_stop=cancel.is_set)
        except Cancelled:
            result = None
        except DeepwireError as exc:
            result = str(exc)
        except Exception as exc:  # noqa: BLE001 - a preview must never take the editor down
            result = f"{type(exc).__name__}: {exc}"
        try:
            self.previewReady.emit(generation, result)
        except RuntimeError:  # the panel was deleted while the data loaded
            pass

    @Slot(int, object)
    def _on_preview(self, generation: int, result: Any) -> None:
        if self._pending:
            self._pending = False
            self._worker = None
            self.update_preview()
            return
        if generation != self._generation or result is None:
            return
        if isinstance(result, str):
            self.preview, self.preview_error = None, result
            self.preview_label.setText(f"<span style='color:{ERROR_COLOUR}'>"
                                       f"Cannot load the data: {_html(result)}</span>")
        else:
            self.preview, self.preview_error = result, None
            self.preview_label.setText(_describe(result))
        self._check_input()

    def _check_input(self, *_changed: object) -> None:
        """Show the engine's reason and a fix when the data does not fit the Input node."""
        data, design = self.preview, self.document.design
        node_id = data_input(design)
        message = None
        if data is not None and node_id is not None:
            shape = design.node(node_id).params.get("shape")
            if isinstance(shape, list | tuple):
                try:
                    check_input_shape(data, tuple(shape), node_id)
                except DeepwireError as exc:
                    message = str(exc)
        self.mismatch_label.setText(f"⚠ {message}" if message else "")
        self.mismatch_label.setVisible(message is not None)
        if message is not None:
            shape_text = ", ".join(str(s) for s in data.input_shape)
            self.fix_button.setText(f"Set the shape of '{node_id}' to ({shape_text})")
        self.fix_button.setVisible(message is not None)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop a running preview and wait for it at most ``timeout`` s (0: only ask; the
        window's close does that); True when none is left. It stops within one chunk."""
        self._preview_timer.stop()
        self._pending = False
        self._cancel.set()
        if self._worker is not None:
            if timeout > 0:
                self._worker.join(timeout)
            return not self._worker.is_alive()
        return True

    def _ask_path(self, source: str, folder: bool) -> str | None:
        start = str(self.base_dir() or Path.home())
        if folder:
            return QFileDialog.getExistingDirectory(self, "Choose an image folder", start) \
                or None
        path, _ = QFileDialog.getOpenFileName(self, f"Choose a {SOURCES[source]}", start,
                                              FILE_FILTERS.get(source, "All files (*)"))
        return path or None


def _narrow(combo: QComboBox) -> QComboBox:
    """A combo box that does not widen the dock to its longest entry."""
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    return combo


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _describe(data: Any) -> str:
    """A few lines on prepared data: splits, shapes, classes."""
    shape = "(" + ", ".join(str(s) for s in data.input_shape) + \
        ("," if len(data.input_shape) == 1 else "") + ")"
    lines = [f"<b>{len(data.x_train):,}</b> training, <b>{len(data.x_val):,}</b> validation"
             + (f", <b>{len(data.x_test):,}</b> test" if len(data.x_test) else "")
             + " samples", f"each sample {shape}; task {data.task}"]
    if data.class_names:
        names = ", ".join(_html(str(n)) for n in data.class_names[:12])
        more = f" … ({len(data.class_names)} in all)" if len(data.class_names) > 12 else ""
        lines.append(f"{len(data.class_names)} classes: {names}{more}")
    elif data.target_shape:
        lines.append("target " + "(" + ", ".join(str(s) for s in data.target_shape) + ")")
    lines.append(f"<i>{_html(data.description)}</i>")
    return "<br>".join(lines)
