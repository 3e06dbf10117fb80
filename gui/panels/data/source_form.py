"""The data panel's source form: which data the design trains on.

A builtin dataset (with its form and options), or a CSV file (delimiter, target column, feature
and one-hot columns read from its header row, text columns marked), an ``.npy`` array, an ``.npz`` archive (its array
names) or an image folder (size, colour). The new section each edit gives comes from
:mod:`engine.editing.data_section`; the file probes from :mod:`engine.editing.probes`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QWidget,
)

from engine.data import BUILTIN_DATASETS, builtin_options
from engine.data.builtin import DIGITS_FORMS, builtin_forms, option_ranges
from engine.editing import data_section as ds
from engine.editing.probes import DELIMITERS, csv_header, npz_keys, text_columns
from engine.errors import DataError
from gui.commands import formatting_value
from gui.panels.data.fields import FieldMakers, status_label
from gui.widgets import ERROR_COLOUR, FloatSpinBox, growing_form, narrow, wrap_long_rows

SOURCES = {
    "builtin": "Built-in dataset",
    "csv": "CSV file",
    "npy": "NumPy array (.npy)",
    "npz": "NumPy archive (.npz)",
    "image_folder": "Image folder (a sub-folder per class)",
}
FILE_FILTERS = {
    "csv": "CSV files (*.csv *.txt);;All files (*)",
    "npy": "NumPy arrays (*.npy);;All files (*)",
    "npz": "NumPy archives (*.npz);;All files (*)",
}
#: The form rows each source shows.
VISIBLE_ROWS = {
    "builtin": ("dataset", "description", "form", "options"),
    "csv": ("path", "delimiter", "target", "columns"),
    "npy": ("path", "npy_target", "stream"),
    "npz": ("path", "x_key", "y_key"),
    "image_folder": ("path", "size", "color", "stream"),
}
#: The "Memory" choices (data.stream): the preview's last line says what "auto" chose.
STREAM_CHOICES = {
    "auto": "auto (stream when over the memory budget)",
    True: "stream from disk",
    False: "load whole (resident)",
}


class SourceForm(FieldMakers):
    """Builds, shows and edits the source part of the data section (mixed into the panel)."""

    # -- construction ----------------------------------------------------------------------------

    def _build_source_box(self) -> QGroupBox:
        source_box = QGroupBox("Data source (saved with the design)")
        self.source_form = growing_form()
        source_box.setLayout(self.source_form)
        self.source_combo = QComboBox()
        for key, title in SOURCES.items():
            self.source_combo.addItem(title, key)
        self.source_combo.activated.connect(self._on_source_chosen)
        self.source_form.addRow("Source", self.source_combo)
        rows = [
            *self._build_builtin_fields(),
            self._build_path_row(),
            *self._build_csv_fields(),
            *self._build_array_fields(),
            *self._build_image_fields(),
        ]
        self._add_source_rows(rows)
        for combo in source_box.findChildren(QComboBox):
            narrow(combo)
        return source_box

    def _build_builtin_fields(self) -> list[tuple[str, str, QWidget]]:
        self.dataset_combo = QComboBox()
        for name, description in BUILTIN_DATASETS.items():
            self.dataset_combo.addItem(name, name)
            self.dataset_combo.setItemData(
                self.dataset_combo.count() - 1, description, Qt.ItemDataRole.ToolTipRole
            )
        self.dataset_combo.activated.connect(
            lambda _i: self._set_dataset(self.dataset_combo.currentData())
        )
        self.description_label = QLabel()
        self.description_label.setWordWrap(True)
        self.form_combo = QComboBox()
        self.form_combo.addItems(["auto (from the Input shape)", *DIGITS_FORMS])
        self._forms: tuple[str, ...] = DIGITS_FORMS  # of the dataset shown
        self.form_combo.activated.connect(self._on_form_chosen)
        self.options_box = QWidget()
        self.options_form = wrap_long_rows(QFormLayout(self.options_box))
        self.options_form.setContentsMargins(0, 0, 0, 0)
        return [
            ("dataset", "Dataset", self.dataset_combo),
            ("form", "Form", self.form_combo),
            ("options", "Options", self.options_box),
        ]

    def _build_path_row(self) -> tuple[str, str, QWidget]:
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
        self.file_error_label = status_label(ERROR_COLOUR)
        return ("path", "File", path_row)

    def _build_csv_fields(self) -> list[tuple[str, str, QWidget]]:
        self.target_combo = QComboBox()
        self.target_combo.setToolTip("The column to predict")
        self.target_combo.activated.connect(
            lambda _i: self._set_target(self.target_combo.currentData())
        )
        self.delimiter_combo = QComboBox()
        for key, title in DELIMITERS.items():
            self.delimiter_combo.addItem(title, key)
        self.delimiter_combo.setToolTip(
            "The character between the columns (detected from the header when a file is chosen)"
        )
        self.delimiter_combo.activated.connect(
            lambda _i: self._set_delimiter(self.delimiter_combo.currentData())
        )
        self.columns_tree = QTreeWidget()
        self.columns_tree.setColumnCount(2)
        self.columns_tree.setHeaderLabels(["Feature column", "One-hot"])
        self.columns_tree.headerItem().setToolTip(
            0, "Checked columns are the inputs (the target is never one)"
        )
        self.columns_tree.headerItem().setToolTip(
            1,
            "Encode the column as categories, one 0/1 input per value (text columns are "
            "encoded so anyway)",
        )
        self.columns_tree.setRootIsDecorated(False)
        self.columns_tree.setUniformRowHeights(True)
        self.columns_tree.setSelectionMode(QTreeWidget.SelectionMode.NoSelection)
        header = self.columns_tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.columns_tree.itemChanged.connect(self._on_column_toggled)
        return [
            ("delimiter", "Delimiter", self.delimiter_combo),
            ("target", "Target column", self.target_combo),
            ("columns", "Columns", self.columns_tree),
        ]

    def _build_array_fields(self) -> list[tuple[str, str, QWidget]]:
        self.x_key_combo = QComboBox()
        self.x_key_combo.setToolTip("The array of samples (features)")
        self.x_key_combo.activated.connect(
            lambda _i: self.set_value(("x_key",), self.x_key_combo.currentData())
        )
        self.y_key_combo = QComboBox()
        self.y_key_combo.setToolTip("The array of targets (labels or values)")
        self.y_key_combo.activated.connect(
            lambda _i: self.set_value(("y_key",), self.y_key_combo.currentData())
        )
        self.npy_target_combo = QComboBox()
        self.npy_target_combo.addItem("none (unsupervised)", "none")
        self.npy_target_combo.addItem("last column", "last")
        self.npy_target_combo.activated.connect(
            lambda _i: self.set_value(("target",), self.npy_target_combo.currentData())
        )
        return [
            ("x_key", "Samples array", self.x_key_combo),
            ("y_key", "Targets array", self.y_key_combo),
            ("npy_target", "Targets", self.npy_target_combo),
        ]

    def _build_image_fields(self) -> list[tuple[str, str, QWidget]]:
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
            lambda _i: self.set_value(("color",), self.color_combo.currentText())
        )
        self.stream_combo = QComboBox()
        for value, title in STREAM_CHOICES.items():
            self.stream_combo.addItem(title, value)
        self.stream_combo.setToolTip(
            "Data larger than the memory budget is read from disk batch by batch; "
            "the preview says which (docs/data.md, Larger than memory)"
        )
        self.stream_combo.activated.connect(
            lambda _i: self.set_value(("stream",), self.stream_combo.currentData())
        )
        return [
            ("size", "Image size", size_row),
            ("color", "Colour", self.color_combo),
            ("stream", "Memory", self.stream_combo),
        ]

    def _add_source_rows(self, rows: list[tuple[str, str, QWidget]]) -> None:
        """One captioned form row per field; :attr:`rows` maps each key to (caption, editor)."""
        self.rows: dict[str, tuple[QWidget, QWidget]] = {}
        for key, label, widget in rows:
            caption = QLabel(label)
            self.source_form.addRow(caption, widget)
            self.rows[key] = (caption, widget)
            if key == "dataset":  # the description wraps across the whole row
                self.source_form.addRow(self.description_label)
                self.rows["description"] = (self.description_label, self.description_label)
            if key == "path":  # why the file cannot be used, across the whole row
                self.source_form.addRow(self.file_error_label)

    # -- editing ---------------------------------------------------------------------------------

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
        try:
            spec = ds.for_file(self.spec, source, path, ds.shown_path(path, self.base_dir()))
        except DataError as exc:
            self._refuse(str(exc))
            return False
        return self.replace(spec, f"Use {SOURCES[source].lower()} {path.name}")

    def _csv_header(self, spec: dict[str, Any], delimiter: str | None = None) -> list[str]:
        return csv_header(self.resolve(spec["path"]), delimiter or spec.get("delimiter", ","))

    def _set_target(self, target: str | None) -> bool:
        """Predict ``target``; it leaves the feature and one-hot lists (one undo step)."""
        return self.replace(
            ds.with_target(self.spec, target), f"Set data target to {formatting_value(target)}"
        )

    def _set_delimiter(self, delimiter: str) -> bool:
        """Split the CSV at ``delimiter`` (see :func:`engine.editing.data_section.with_delimiter`;
        one undo step)."""
        try:
            spec = ds.with_delimiter(self.spec, delimiter, self.base_dir())
        except DataError as exc:
            self._refuse(str(exc))
            return False
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
        try:
            spec = ds.with_columns(self.spec, features, categorical, self.base_dir())
        except DataError as exc:
            self._refuse(str(exc))
            return False
        one_hot = (spec or {}).get("categorical") or []
        n = len(features)
        text = f"Use {n} feature column{'s' if n != 1 else ''}" + (
            f", {len(one_hot)} one-hot" if one_hot else ""
        )
        return self.replace(spec, text)

    def _set_dataset(self, name: str, keep_preprocess: bool = True) -> None:
        self.replace(ds.with_dataset(self.spec, name, keep_preprocess), f"Use the {name} dataset")

    def _on_form_chosen(self, index: int) -> None:
        if index == 0:
            self.replace(ds.without_form(self.spec), "Set data form to auto")
            return
        self.set_value(("form",), self._forms[index - 1])

    def _set_size(self, axis: int, value: int) -> None:
        self.set_value(("size",), ds.image_size(self.spec, axis, value))

    def _set_option(self, key: str, value: Any) -> None:
        if not self._refreshing:
            self.set_value(("options", key), value)

    def _ask_path(self, source: str, folder: bool) -> str | None:
        start = str(self.base_dir() or Path.home())
        if folder:
            return QFileDialog.getExistingDirectory(self, "Choose an image folder", start) or None
        path, _ = QFileDialog.getOpenFileName(
            self, f"Choose a {SOURCES[source]}", start, FILE_FILTERS.get(source, "All files (*)")
        )
        return path or None

    # -- showing ---------------------------------------------------------------------------------

    def _show_no_source(self, raw: dict[str, Any]) -> None:
        """A missing or invalid section: show nothing the design does not hold."""
        known = raw.get("source") in SOURCES
        self.source_combo.setCurrentIndex(list(SOURCES).index(raw["source"]) if known else -1)
        for caption, widget in self.rows.values():
            caption.setVisible(False)
            widget.setVisible(False)
        self.file_error_label.hide()

    def _show_forms(self, name: str, form: str | None) -> None:
        """The dataset's forms in the combo (digits: auto first; the image sets: their
        default first), the chosen one current."""
        forms = _forms_of(name)
        if forms and forms != self._forms:
            self._forms = forms
            first = "auto (from the Input shape)" if name == "digits" else f"default ({forms[0]})"
            self.form_combo.clear()
            self.form_combo.addItems([first, *forms])
        self.form_combo.setCurrentIndex(self._forms.index(form) + 1 if form in self._forms else 0)

    def _show_source(self, spec: dict[str, Any]) -> None:
        """Show a normalized section's source: its rows, then the source's own editors."""
        source = spec["source"]
        self.source_combo.setCurrentIndex(list(SOURCES).index(source))
        visible = VISIBLE_ROWS[source]
        self.file_error_label.hide()
        for key, (caption, widget) in self.rows.items():
            on = key in visible and not (key == "form" and not _forms_of(spec.get("name")))
            caption.setVisible(on)
            widget.setVisible(on)
        if source == "builtin":
            name = spec["name"]
            self.dataset_combo.setCurrentIndex(max(0, self.dataset_combo.findData(name)))
            self.description_label.setText(BUILTIN_DATASETS.get(name, ""))
            self._show_forms(name, spec.get("form"))
            self._show_options(name, spec.get("options") or {})
            return
        self.path_label.setText(spec["path"])
        if source == "csv":
            self._show_columns(spec)
        elif source == "npz":
            self._show_keys(spec)
        elif source == "npy":
            self.npy_target_combo.setCurrentIndex(
                max(0, self.npy_target_combo.findData(spec["target"]))
            )
        elif source == "image_folder":
            if spec["size"] is not None:  # null: the files' own size
                self.height_spin.setValue(spec["size"][0])
                self.width_spin.setValue(spec["size"][1])
            self.color_combo.setCurrentText(spec["color"])
        if source in ("npy", "image_folder"):
            choice = spec.get("stream", "auto")
            self.stream_combo.setCurrentIndex(list(STREAM_CHOICES).index(choice))

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
                        int(low), int(high), lambda v, k=key: self._set_option(k, v)
                    )
                else:
                    editor = FloatSpinBox()
                    editor.setRange(float(low), float(high))
                    editor.setSingleStep(0.01 if high <= 1 else 0.1 if high <= 100 else 1.0)
                    editor.setKeyboardTracking(False)
                    editor.valueChanged.connect(lambda v, k=key: self._set_option(k, float(v)))
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
        text = self._text_columns(spec) if header else set()
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
        checkable = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable
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
                item.setCheckState(0, Qt.CheckState.Checked if used else Qt.CheckState.Unchecked)
                item.setCheckState(
                    1, Qt.CheckState.Checked if column in categorical else Qt.CheckState.Unchecked
                )
                if column in text:
                    item.setText(1, "text")
                    item.setToolTip(
                        1, "Holds text: as an input it is one-hot encoded even when unchecked"
                    )
            self.columns_tree.addTopLevelItem(item)
        self._fit_columns_tree(len(header))

    def _text_columns(self, spec: dict[str, Any]) -> set[str]:
        """The CSV's text columns (none when the rows cannot be read: the preview says why)."""
        try:
            return set(text_columns(self.resolve(spec["path"]), spec.get("delimiter", ",")))
        except DataError:
            return set()

    def _fit_columns_tree(self, rows: int) -> None:
        """As tall as its rows, up to eight (then it scrolls)."""
        tree = self.columns_tree
        row = tree.sizeHintForRow(0) if rows else tree.fontMetrics().height() + 6
        height = (
            tree.header().sizeHint().height()
            + max(1, min(rows, 8)) * row
            + 2 * tree.frameWidth()
            + 2
        )
        tree.setFixedHeight(height)

    def _show_keys(self, spec: dict[str, Any]) -> None:
        """Fill the x / y key combos from the archive's array names."""
        try:
            keys = npz_keys(self.resolve(spec["path"]))
        except DataError as exc:
            keys = []
            self._show_file_error(str(exc))
        for combo, key, none in (
            (self.x_key_combo, spec["x_key"], False),
            (self.y_key_combo, spec["y_key"], True),
        ):
            combo.clear()
            if none:
                combo.addItem("none (no targets)", None)
            for name in keys:
                combo.addItem(name, name)
            if key is not None and key not in keys:
                combo.addItem(f"{key} (not in the file)", key)
            combo.setCurrentIndex(max(0, combo.findData(key)))


def _forms_of(name: object) -> tuple[str, ...]:
    """The forms of a builtin dataset (empty for an unknown name or one without forms)."""
    return builtin_forms(name) if name in BUILTIN_DATASETS else ()
