"""The Evaluate panel: a checkpoint of the open design evaluated on its test or validation split
(:func:`engine.evaluate.evaluate_details`, in a cancellable
:class:`~gui.workers.BackgroundCall`), the metrics the evaluation holds (loss, accuracy,
per-class precision/recall/F1 and the confusion matrix; MAE/RMSE/R²; reconstruction error; SOM
errors), the worst samples of the split, "Try it" (:mod:`.try_it`) and "Fine-tune from this
checkpoint" (a signal the window hands to the training panel).

The checkpoint defaults to the ``best.pt`` of the newest finished run of the design in the run
store (:func:`engine.runs.store_for`); "Choose…" picks any file. Every checkpoint is read with
the engine's safe loader, so a hostile one is refused in one line without running.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import DeepwireError
from engine.runs import store_for
from gui.document import Document
from gui.panels.evaluate.pictures import picture, sequence_picture
from gui.panels.evaluate.try_it import TryIt
from gui.panels.evaluate.why import WhyBox
from gui.plots.confusion import ConfusionMatrixPlot
from gui.widgets import ERROR_COLOUR, WARNING_COLOUR, scrolled_body
from gui.workers import BackgroundCall

WORST_SHOWN = 8  # worst samples in the gallery
SPLITS = (("Test split", "test"), ("Validation split", "val"))


def newest_checkpoint(
    design_path: Path | None, design_name: str, runs_dir: Path | None
) -> Path | None:
    """``best.pt`` (else ``last.pt``) of the newest finished run of the design saved at
    ``design_path`` (None: unsaved, named ``design_name``). Reads the run store: call it off
    the GUI thread."""
    if runs_dir is None:
        return None
    try:
        runs = store_for(design_path, design_name, root=runs_dir).list_runs()
    except (DeepwireError, OSError):
        return None
    for run in runs:
        if run.status == "finished":
            found = run.checkpoint("best") or run.checkpoint("last")
            if found is not None:
                return found
    return None


def _evaluate(*args: Any, should_stop: Callable[[], bool]) -> Any:
    """:func:`engine.evaluate.evaluate_details` (imported here, in the worker: it loads torch)."""
    from engine.evaluate import evaluate_details

    return evaluate_details(*args, should_stop=should_stop)


def _load_predictor(*args: Any) -> Any:
    """An :class:`engine.evaluate.Predictor` (imported in the worker: it loads torch)."""
    from engine.evaluate import Predictor

    return Predictor(*args)


class EvaluatePanel(QWidget):
    """See the module docstring. ``runs_dir`` returns the run store's root (the training
    panel's ``runs_dir``; None: no store)."""

    statusMessage = Signal(str)
    fineTuneRequested = Signal(object)  # Path of the checkpoint
    evaluationStarted = Signal()  # results are on their way: the window makes room for them

    def __init__(
        self,
        document: Document,
        parent: QWidget | None = None,
        runs_dir: Callable[[], Path | None] = lambda: None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.runs_dir = runs_dir
        self.checkpoint: Path | None = None
        self.chosen = False  # the user chose the checkpoint (else: the newest run's)
        self.chooser = None  # gui.widgets.FileChooser (tests fake it)
        self.call: BackgroundCall | None = None  # the evaluation
        self.model_call: BackgroundCall | None = None  # loading the model for Try it
        self.lookup: BackgroundCall | None = None  # finding the newest run's checkpoint
        self.details: Any = None  # engine.evaluate.EvaluationDetails of the last evaluation
        self._model_key: tuple | None = None
        layout = scrolled_body(self)
        layout.addWidget(self._build_chooser())
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        layout.addWidget(self._build_results())
        layout.addWidget(self._build_worst())
        self.try_box = QGroupBox("Try it")
        box = QVBoxLayout(self.try_box)
        self.try_it = TryIt()
        box.addWidget(self.try_it)
        layout.addWidget(self.try_box)
        self.why = WhyBox()
        layout.addWidget(self.why)
        self.try_it.tried.connect(self.why.set_sample)
        self.worst_table.itemSelectionChanged.connect(self._explain_worst)
        layout.addStretch(1)
        document.designReset.connect(self._on_design_reset)
        document.undo_stack.indexChanged.connect(self._forget_model)
        document.sectionChanged.connect(self._default_split)
        self._default_split()
        self.refresh_default()

    # -- construction ----------------------------------------------------------------------------

    def _build_chooser(self) -> QWidget:
        box = QGroupBox("Checkpoint")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setReadOnly(True)
        self.path_edit.setPlaceholderText("no finished run yet: train, or Choose… a checkpoint")
        self.choose_button = QPushButton("Choose…")
        self.choose_button.setToolTip("Evaluate another checkpoint (.pt) of this design")
        self.choose_button.clicked.connect(lambda _c=False: self.choose_checkpoint())
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.choose_button)
        layout.addLayout(row)
        row = QHBoxLayout()
        self.split_box = QComboBox()
        for text, split in SPLITS:
            self.split_box.addItem(text, split)
        self.split_box.setToolTip(
            "The samples to evaluate on (the split comes from the run's seed); the test split "
            "when the design keeps one, else the validation split"
        )
        self.split_chosen = False  # the user picked a split: the design no longer picks it
        self.split_box.activated.connect(lambda _i: setattr(self, "split_chosen", True))
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.clicked.connect(lambda _c=False: self.evaluate())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(lambda _c=False: self.cancel())
        self.cancel_button.hide()
        self.finetune_button = QPushButton("Fine-tune")
        self.finetune_button.setToolTip(
            "Start a new training run from this checkpoint's weights (fresh optimizer)"
        )
        self.finetune_button.clicked.connect(lambda _c=False: self._fine_tune())
        row.addWidget(self.split_box)
        row.addWidget(self.evaluate_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.finetune_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.state_label = QLabel()
        self.state_label.setWordWrap(True)
        layout.addWidget(self.state_label)
        return box

    def _build_results(self) -> QWidget:
        self.results_box = QGroupBox("Results")
        layout = QVBoxLayout(self.results_box)
        self.metrics_label = QLabel()
        self.metrics_label.setTextFormat(Qt.TextFormat.RichText)
        self.metrics_label.setWordWrap(True)
        self.metrics_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notes_label = QLabel()
        self.notes_label.setWordWrap(True)
        self.notes_label.setStyleSheet(f"color: {WARNING_COLOUR};")
        self.class_table = QTableWidget(0, 4)
        self.class_table.setHorizontalHeaderLabels(["precision", "recall", "F1", "support"])
        self.class_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.class_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.class_table.setMinimumHeight(160)
        self.class_table.setMinimumWidth(0)
        self.confusion = ConfusionMatrixPlot(self)
        self.confusion.setToolTip("Rows: true class, columns: predicted; colour: share of the row")
        for widget in (self.metrics_label, self.notes_label, self.class_table, self.confusion):
            layout.addWidget(widget)
        self.results_box.hide()
        return self.results_box

    def _build_worst(self) -> QWidget:
        self.worst_box = QGroupBox("Worst samples (highest loss first)")
        layout = QVBoxLayout(self.worst_box)
        self.worst_table = QTableWidget(0, 5)
        self.worst_table.setHorizontalHeaderLabels(["sample", "loss", "true", "predicted", "p"])
        self.worst_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.worst_table.verticalHeader().hide()
        header = self.worst_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.worst_table.setMinimumHeight(220)
        self.worst_table.setMinimumWidth(0)
        layout.addWidget(self.worst_table)
        self.worst_box.hide()
        return self.worst_box

    # -- the checkpoint --------------------------------------------------------------------------

    @Slot()
    def refresh_default(self) -> None:
        """Take the newest finished run's checkpoint (unless the user chose one), looked up in
        the background: the run store reads every run's files."""
        if self.chosen and self.checkpoint is not None:
            return
        if self.lookup is not None:
            self.lookup.cancel()
            self.lookup = None
        if self.runs_dir() is None:  # no run store: nothing to look for
            self._set_checkpoint(None, chosen=False)
            return
        self.lookup = BackgroundCall(
            newest_checkpoint,
            self.document.path,
            self.document.design.name,
            self.runs_dir(),
            parent=self,
            name="deepwire-newest-checkpoint",
        )
        self.lookup.done.connect(self._on_lookup_done)
        self.lookup.start()

    @Slot(object, object)
    def _on_lookup_done(self, path: Path | None, _error: str | None) -> None:
        if self.sender() is not self.lookup:
            return  # an older lookup
        self.lookup = None
        if not (self.chosen and self.checkpoint is not None):
            self._set_checkpoint(path, chosen=False)

    def choose_checkpoint(self, path: str | Path | None = None) -> bool:
        """Evaluate ``path`` from now on (asks for a file when None)."""
        if path is None:
            if self.chooser is None:
                from gui.widgets import FileChooser

                self.chooser = FileChooser(self)
            start = self.checkpoint.parent if self.checkpoint else self.runs_dir() or ""
            path = self.chooser.open_file(
                "Evaluate a checkpoint", str(start), "Checkpoints (*.pt);;All files (*)"
            )
            if path is None:
                return False
        self._set_checkpoint(Path(path), chosen=True)
        return True

    def _set_checkpoint(self, path: Path | None, chosen: bool) -> None:
        self.chosen = chosen
        if path != self.checkpoint:
            self.checkpoint = path
            self._forget_model()
        self.path_edit.setText(str(path) if path is not None else "")
        self.path_edit.setToolTip(str(path) if path is not None else "")
        self._update_controls()

    def _update_controls(self) -> None:
        busy = self.call is not None and self.call.running
        have = self.checkpoint is not None
        self.evaluate_button.setEnabled(have and not busy)
        self.finetune_button.setEnabled(have and not busy)
        self.choose_button.setEnabled(not busy)
        self.split_box.setEnabled(not busy)
        self.cancel_button.setVisible(busy)

    @Slot()
    @Slot(str)
    def _default_split(self, section: str = "data") -> None:
        """Evaluate on the test split when the design keeps one, else on the validation split
        (a design without a test split, as the templates, would fail on the test split), until
        the user picks one."""
        if self.split_chosen or section != "data":
            return
        split = self.document.design.data.get("split")
        test = split.get("test", 0) if isinstance(split, dict) else 0
        has_test = isinstance(test, int | float) and test > 0
        self.split_box.setCurrentIndex(self.split_box.findData("test" if has_test else "val"))

    @Slot()
    def _on_design_reset(self) -> None:
        self.cancel()
        self.chosen = False
        self.split_chosen = False
        self._default_split()
        self.details = None
        self.results_box.hide()
        self.worst_box.hide()
        self.error_label.hide()
        self.state_label.clear()
        self.try_it.set_samples(None)
        self._forget_model()
        self.refresh_default()

    # -- evaluating ------------------------------------------------------------------------------

    def evaluate(self) -> bool:
        """Evaluate the checkpoint on the chosen split in the background; False when nothing
        can start."""
        if self.checkpoint is None or (self.call is not None and self.call.running):
            return False
        doc = self.document
        base_dir = doc.path.parent if doc.path is not None else None
        split = self.split_box.currentData()
        self.call = BackgroundCall(
            _evaluate,
            doc.design.copy(),
            self.checkpoint,
            split,
            base_dir,
            WORST_SHOWN,
            parent=self,
            name="deepwire-evaluate",
            cancellable=True,
        )
        self.call.done.connect(self._on_evaluated)
        self.call.cancelled.connect(self._on_cancelled)
        self.error_label.hide()
        self.state_label.setText(f"Evaluating {self.checkpoint.name} on the {split} split…")
        self.call.start()
        self._update_controls()
        self._load_model()
        self.evaluationStarted.emit()
        return True

    @Slot()
    def cancel(self) -> None:
        """Stop the evaluation (its result is dropped)."""
        if self.call is not None and self.call.running:
            self.call.cancel()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop and join the background work (window close, tests); True when it ended."""
        done = True
        for call in (self.call, self.model_call, self.lookup):
            if call is not None:
                call.cancel()
                done = call.wait(timeout) and done
        return self.why.shutdown(timeout) and done

    @property
    def busy(self) -> bool:
        """True while an evaluation or a model load runs."""
        return any(c is not None and c.running for c in (self.call, self.model_call))

    @Slot()
    def _on_cancelled(self) -> None:
        self.state_label.setText("Evaluation cancelled")
        self._update_controls()

    @Slot(object, object)
    def _on_evaluated(self, details: Any, error: str | None) -> None:
        self._update_controls()
        if error is not None:
            self._show_error(f"Cannot evaluate: {error}")
            self.state_label.clear()
            return
        self.details = details
        result = details.evaluation
        self.state_label.setText(
            f"Epoch {result.epoch} checkpoint on {result.n_samples} "
            f"{'test' if result.split == 'test' else 'validation'} samples"
        )
        self._show_metrics(result)
        self._show_worst(details.worst)
        self.try_it.set_samples(details.samples)
        self.statusMessage.emit(self.state_label.text())

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.statusMessage.emit(message)

    def _show_metrics(self, result: Any) -> None:
        rows = [
            (f"loss ({result.loss_name})" if result.loss_name else "loss", result.loss),
            ("accuracy", result.accuracy),
            ("MAE", result.mae),
            ("RMSE", result.rmse),
            ("R²", result.r2),
            ("reconstruction error (MSE)", result.reconstruction_error),
            ("quantization error", result.quantization_error),
            ("topographic error", result.topographic_error),
        ]
        self.metric_values = {name: value for name, value in rows if value is not None}
        self.metrics_label.setText(
            "<table>"
            + "".join(
                f"<tr><td>{name}&nbsp;&nbsp;</td><td align='right'><b>{value:.4f}</b></td></tr>"
                for name, value in self.metric_values.items()
            )
            + "</table>"
        )
        self.notes_label.setText("\n".join(result.notes))
        self.notes_label.setVisible(bool(result.notes))
        classes = result.classes
        self.class_table.setRowCount(len(classes))
        self.class_table.setVerticalHeaderLabels([c.name for c in classes])
        for r, c in enumerate(classes):
            for k, text in enumerate(
                (f"{c.precision:.3f}", f"{c.recall:.3f}", f"{c.f1:.3f}", str(c.support))
            ):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.class_table.setItem(r, k, item)
        self.class_table.setVisible(bool(classes))
        if result.confusion is not None:
            self.confusion.show_matrix(result.confusion, [c.name for c in classes])
        self.confusion.setVisible(result.confusion is not None)
        self.results_box.show()

    def _show_worst(self, worst: list[Any]) -> None:
        table = self.worst_table
        table.setRowCount(len(worst))
        shape = self._picture_shape(worst)
        table.setColumnHidden(0, False)
        for r, s in enumerate(worst):
            first = QTableWidgetItem(f"#{s.index}")
            if shape is not None:
                first.setData(Qt.ItemDataRole.DecorationRole, picture(s.inputs, shape, 48))
            elif s.inputs.ndim == 2:  # a sequence (steps, features): a small line plot
                first.setText(f"#{s.index}")
                first.setData(Qt.ItemDataRole.DecorationRole, sequence_picture(s.inputs))
                first.setToolTip(
                    f"{s.inputs.shape[0]} steps × {s.inputs.shape[1]} features; the first "
                    f"{min(3, s.inputs.shape[1])} drawn, each stretched to the height"
                )
            else:
                flat = s.inputs.reshape(-1)
                text = ", ".join(f"{v:.3g}" for v in flat[:6]) + (", …" if len(flat) > 6 else "")
                first.setText(f"#{s.index}: {text}")
            probs = ""
            if s.probabilities is not None:
                names = [c.name for c in self.details.evaluation.classes]
                top = sorted(range(len(names)), key=lambda i: -s.probabilities[i])[:2]
                probs = ", ".join(f"{names[i]} {s.probabilities[i]:.0%}" for i in top)
            for k, text in enumerate((None, f"{s.loss:.4g}", s.truth or "—", s.predicted, probs)):
                if k == 0:
                    table.setItem(r, 0, first)
                else:
                    table.setItem(r, k, QTableWidgetItem(text))
        if shape is not None or (worst and worst[0].inputs.ndim == 2):
            table.verticalHeader().setDefaultSectionSize(54)
        table.resizeColumnsToContents()
        self.worst_box.setVisible(bool(worst))

    @staticmethod
    def _picture_shape(worst: list[Any]) -> tuple[int, int, int] | None:
        from engine.evaluate import image_shape  # torch is loaded: the evaluation ran

        if not worst:
            return None
        return image_shape(tuple(worst[0].inputs.shape))

    # -- the model for Try it --------------------------------------------------------------------

    def _key(self) -> tuple | None:
        path = self.checkpoint
        if path is None:
            return None
        try:
            stat = path.stat()
        except OSError:
            return None
        return (str(path), stat.st_mtime_ns, stat.st_size, self.document.undo_stack.index())

    @Slot()
    def _forget_model(self, *_args: object) -> None:
        self._model_key = None
        self.try_it.set_predictor(None)
        self.why.set_predictor(None)

    def _load_model(self) -> bool:
        """Load the checkpoint's model for Try it in the background, unless it is loaded."""
        key = self._key()
        if key is None or key == self._model_key:
            return False
        if self.model_call is not None and self.model_call.running:
            return False
        self._model_key = key
        self.model_call = BackgroundCall(
            _load_predictor,
            self.document.design.copy(),
            self.checkpoint,
            parent=self,
            name="deepwire-load-model",
        )
        self.model_call.done.connect(self._on_model)
        self.try_it.set_predictor(None, "Loading the model…")
        self.model_call.start()
        return True

    @Slot(object, object)
    def _on_model(self, predictor: Any, error: str | None) -> None:
        if error is not None:
            self._model_key = None
            self.try_it.set_predictor(None, f"Cannot try this checkpoint: {error}")
            return
        self.try_it.set_predictor(predictor)
        self.why.set_predictor(predictor)

    @Slot()
    def _explain_worst(self) -> None:
        """Explain the selected worst sample in "Why this prediction?"."""
        rows = {i.row() for i in self.worst_table.selectedIndexes()}
        if len(rows) != 1 or self.details is None:
            return
        s, samples = self.details.worst[rows.pop()], self.details.samples
        self.why.set_sample(samples.prepared[s.index], True, s.inputs, f"Sample #{s.index}")

    # -- fine-tune -------------------------------------------------------------------------------

    def _fine_tune(self) -> None:
        if self.checkpoint is not None:
            self.fineTuneRequested.emit(self.checkpoint)


__all__ = ["EvaluatePanel", "newest_checkpoint"]
