""" "Try it": one sample through a checkpoint's model (an
:class:`engine.evaluate.Predictor`, loaded off the GUI thread by the panel and kept while the
checkpoint and design are unchanged) — drawn with the mouse, opened from an image file, typed
into a one-row table, or picked from the evaluated split — shown as the prediction with its
class probabilities."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import DeepwireError, first_line
from gui.panels.evaluate.pictures import DrawingPad, ProbabilityBars, gray_array, picture
from gui.widgets import ERROR_COLOUR

MAX_TABLE_FEATURES = 64  # a flat input with more features than this gets no one-row table


class TryIt(QWidget):
    """The "Try it" box; :meth:`set_predictor` enables it, :meth:`set_samples` enables
    "Pick a sample" (the samples of the last evaluation). :attr:`tried` carries each sample
    predicted: (sample, already preprocessed?, the sample as shown, title)."""

    tried = Signal(object, bool, object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.predictor: Any = None  # engine.evaluate.Predictor
        self.samples: Any = None  # engine.evaluate.SplitSamples
        self.chooser = None  # gui.widgets.FileChooser (tests fake it)
        self.last_input: np.ndarray | None = None  # the raw sample last predicted (tests)
        self.last_labels: list[str] | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.state_label = QLabel("Evaluate or choose a checkpoint to try the model")
        self.state_label.setWordWrap(True)
        layout.addWidget(self.state_label)
        layout.addWidget(self._build_pad())
        self.table = QTableWidget(1, 0)
        self.table.setVerticalHeaderLabels(["value"])
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + 34)
        self.table.setToolTip("Type or paste one row of features, then Predict row")
        self.table.setMinimumWidth(0)
        layout.addWidget(self.table)
        layout.addLayout(self._build_buttons())
        self.sample_picture = QLabel()
        layout.addWidget(self.sample_picture)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.result_label.font()
        font.setBold(True)
        self.result_label.setFont(font)
        layout.addWidget(self.result_label)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOUR};")
        layout.addWidget(self.error_label)
        self.bars = ProbabilityBars()
        layout.addWidget(self.bars)
        self.set_predictor(None)

    def _build_pad(self) -> QWidget:
        """The drawing pad with Clear and what the model sees of the drawing."""
        self.pad_row = QWidget()
        pad_layout = QHBoxLayout(self.pad_row)
        pad_layout.setContentsMargins(0, 0, 0, 0)
        self.pad = DrawingPad()
        self.pad.drawn.connect(self.predict_drawing)
        pad_layout.addWidget(self.pad)
        side = QVBoxLayout()
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self._clear_pad)
        self.seen_label = QLabel()  # what the model sees (the pad at its input size)
        self.seen_label.setToolTip("The drawing as the model sees it, at its input size")
        side.addWidget(self.clear_button)
        side.addWidget(QLabel("Model sees:"))
        side.addWidget(self.seen_label)
        side.addStretch(1)
        pad_layout.addLayout(side)
        pad_layout.addStretch(1)
        return self.pad_row

    def _build_buttons(self) -> QVBoxLayout:
        """Open image… and Predict row; under them Pick a sample and which sample (two rows:
        one would be wider than the dock)."""
        rows = QVBoxLayout()
        first, second = QHBoxLayout(), QHBoxLayout()
        self.open_button = QPushButton("Open image…")
        self.open_button.setToolTip("Predict a picture file (png, jpg, bmp, gif)")
        self.open_button.clicked.connect(lambda _c=False: self.open_image())
        self.row_button = QPushButton("Predict row")
        self.row_button.clicked.connect(lambda _c=False: self.predict_row())
        self.pick_button = QPushButton("Pick a sample")
        self.pick_button.setToolTip(
            "Predict a random sample of the evaluated split (or the one numbered)"
        )
        self.pick_button.clicked.connect(lambda _c=False: self.pick_sample())
        self.sample_box = QSpinBox()
        self.sample_box.setRange(-1, 0)
        self.sample_box.setSpecialValueText("random")
        self.sample_box.setValue(-1)
        self.sample_box.setToolTip("Which sample of the split Pick a sample takes (random: any)")
        for row, widgets in (
            (first, (self.open_button, self.row_button)),
            (second, (self.pick_button, self.sample_box)),
        ):
            for widget in widgets:
                row.addWidget(widget)
            row.addStretch(1)
            rows.addLayout(row)
        return rows

    # -- what the model takes ------------------------------------------------------------------

    def set_predictor(self, predictor: Any, message: str = "") -> None:
        """Use ``predictor`` (None: none; ``message`` says why or what is happening)."""
        self.predictor = predictor
        shape = predictor.image_shape if predictor is not None else None
        self.pad_row.setVisible(shape is not None and shape[0] == 1)
        self.open_button.setVisible(shape is not None)
        columns = self._table_columns()
        self.table.setVisible(bool(columns))
        self.row_button.setVisible(bool(columns))
        if (
            columns
            and [self.table.horizontalHeaderItem(i).text() for i in range(self.table.columnCount())]
            != columns
        ):
            self.table.setColumnCount(len(columns))
            self.table.setHorizontalHeaderLabels(columns)
            for i in range(len(columns)):
                self.table.setItem(0, i, QTableWidgetItem(""))
        self._update_pick()
        if predictor is None:
            self.state_label.setText(message or "Evaluate or choose a checkpoint to try the model")
        else:
            what = (
                "Draw a digit, open an image"
                if self.pad_row.isVisible()
                else ("Open an image" if shape is not None else "Type a row")
            )
            self.state_label.setText(f"{what}, or pick a sample of the evaluated split")

    def _table_columns(self) -> list[str]:
        p = self.predictor
        if p is None or p.image_shape is not None:
            return []  # a picture: drawn or opened, not typed
        if p.columns:
            return p.columns
        if p.image_shape is None and len(p.raw_shape) == 1 and p.raw_shape[0] <= MAX_TABLE_FEATURES:
            return [f"x{i}" for i in range(p.raw_shape[0])]
        return []

    def set_samples(self, samples: Any) -> None:
        """The split samples "Pick a sample" draws from (None: none)."""
        self.samples = samples
        self._update_pick()

    def _update_pick(self) -> None:
        n = len(self.samples) if self.samples is not None else 0
        self.sample_box.setRange(-1, max(0, n - 1))
        ok = self.predictor is not None and n > 0
        self.pick_button.setEnabled(ok)
        self.sample_box.setEnabled(ok)
        self.pick_button.setToolTip(
            "Predict a random sample of the evaluated split (or the one numbered)"
            if ok
            else "Evaluate first: the samples come from the evaluated split"
        )

    # -- predicting ----------------------------------------------------------------------------

    def _clear_pad(self) -> None:
        self.pad.clear()
        self.seen_label.clear()
        self.result_label.clear()
        self.bars.show_probabilities([], [])

    def predict_drawing(self) -> bool:
        """Predict what the pad shows, read as the model's input like an opened image."""
        from PIL import Image

        from engine.evaluate import image_sample

        if self.predictor is None or self.pad.empty:
            return False
        img = Image.fromarray(gray_array(self.pad.image), "L")
        try:
            raw = image_sample(img, self.predictor.raw_shape)
        except DeepwireError as exc:
            return self._fail(str(exc))
        self.seen_label.setPixmap(picture(raw, self.predictor.image_shape, 48))
        return self._predict(raw[None], "Drawing")

    def open_image(self, path: str | Path | None = None) -> bool:
        """Predict an image file (asks for one when ``path`` is None)."""
        if self.predictor is None:
            return False
        if path is None:
            if self.chooser is None:
                from gui.widgets import FileChooser

                self.chooser = FileChooser(self)
            path = self.chooser.open_file(
                "Try the model on an image", "", "Images (*.png *.jpg *.jpeg *.bmp *.gif)"
            )
            if path is None:
                return False
        try:
            raw = self.predictor.read(path)
        except DeepwireError as exc:
            return self._fail(str(exc))
        self._show_sample(raw[0])
        return self._predict(raw, Path(path).name)

    def set_row(self, values: list[str]) -> None:
        """Fill the one-row table (as a user types or pastes)."""
        for i, value in enumerate(values[: self.table.columnCount()]):
            self.table.setItem(0, i, QTableWidgetItem(str(value)))

    def predict_row(self) -> bool:
        """Predict the row typed into the table (text columns as text)."""
        p = self.predictor
        if p is None:
            return False
        columns = self._table_columns()
        cats = set(p.categorical)
        row: list[Any] = []
        for i, name in enumerate(columns):
            item = self.table.item(0, i)
            text = item.text().strip() if item is not None else ""
            if i in cats:
                row.append(text)
                continue
            try:
                row.append(float(text) if text else float("nan"))
            except ValueError:
                return self._fail(f"column {name!r}: {text[:30]!r} is not a number")
        dtype = object if cats else np.float64
        raw = np.asarray([row], dtype=dtype).reshape(1, *p.raw_shape)
        return self._predict(raw, "Row")

    def pick_sample(self, index: int | None = None) -> bool:
        """Predict sample ``index`` of the evaluated split (None: the spin box's; random)."""
        if self.predictor is None or self.samples is None or not len(self.samples):
            return False
        if index is None:
            index = self.sample_box.value()
        if index < 0:
            index = random.randrange(len(self.samples))
        samples = self.samples
        self._show_sample(samples.inputs[index])
        truth = samples.truth[index]
        self.last_input = samples.inputs[index][None]
        try:
            pred = self.predictor.predict_prepared(samples.prepared[index : index + 1])
        except DeepwireError as exc:
            return self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - a model that cannot run this sample
            return self._fail(f"the model cannot predict this sample: {first_line(exc, 160)}")
        title = f"Sample {index} of the {'test' if samples.split == 'test' else 'validation'} split"
        if truth is not None:
            title += f" (true: {truth})"
        self.tried.emit(samples.prepared[index], True, samples.inputs[index], f"Sample {index}")
        return self._show(pred, title)

    def _show_sample(self, inputs: np.ndarray) -> None:
        shape = self.predictor.image_shape if self.predictor is not None else None
        if shape is not None:
            self.sample_picture.setPixmap(picture(inputs, shape, 72))
            self.sample_picture.show()
        else:
            self.sample_picture.clear()
            self.sample_picture.hide()
            flat = np.asarray(inputs).reshape(-1)
            if self.table.isVisible() and len(flat) == self.table.columnCount():
                self.set_row(
                    [f"{v:.4g}" if isinstance(v, float | np.floating) else str(v) for v in flat]
                )

    def _predict(self, raw: np.ndarray, title: str) -> bool:
        self.last_input = raw
        try:
            pred = self.predictor.predict(raw)
        except DeepwireError as exc:
            return self._fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - a model that cannot run this sample
            return self._fail(f"the model cannot predict this sample: {first_line(exc, 160)}")
        self.tried.emit(raw[0], False, raw[0], title)
        return self._show(pred, title)

    def _show(self, pred: Any, title: str) -> bool:
        self.error_label.clear()
        if pred.labels is not None:
            self.last_labels = list(pred.labels)
            self.result_label.setText(f"{title}: predicted {pred.labels[0]}")
            self.bars.show_probabilities(pred.class_names, pred.probabilities[0])
        else:
            self.last_labels = None
            values = ", ".join(f"{v:.4g}" for v in pred.values[0][:8])
            more = ", …" if len(pred.values[0]) > 8 else ""
            self.result_label.setText(f"{title}: predicted {values}{more}")
            self.bars.show_probabilities([], [])
        return True

    def _fail(self, message: str) -> bool:
        self.error_label.setText(message)
        self.result_label.clear()
        self.bars.show_probabilities([], [])
        return False
