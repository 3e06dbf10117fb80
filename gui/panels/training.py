"""The training panel: Train / Pause / Stop, live progress, and the design's training settings.

Train hands a snapshot of the design to a :class:`~gui.runner.TrainingRunner`; the panel shows
the epoch, step, ETA and the latest losses and metrics from the events the runner drains, warns
when the validation loss climbs while the training loss keeps falling (overfitting), and ends with
a one-paragraph summary or the one-line reason a run failed.

The settings form edits the design's ``training`` section. Every change is a
:class:`~gui.commands.SetSection` on the undo stack (so it is undoable and saved with the design)
and is checked with :class:`~engine.training.TrainConfig` first: an invalid value is refused with
the reason and nothing is pushed. The form re-reads the design whenever the undo stack moves.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)

from engine.data import PreparedData
from engine.editing import training_section
from engine.errors import DeepwireError
from engine.training.checkpoint import load_checkpoint
from engine.training.config import DEVICES, OPTIMIZERS, TASK_LOSSES, TASKS, TrainConfig
from engine.training.events import BatchEvent, EpochEvent, TrainStartEvent
from engine.training.run_files import new_run_folder
from engine.training.summary import RunSummary
from gui.commands import SetSection
from gui.document import Document
from gui.formatting import design_stem
from gui.icons import icon
from gui.panels import scrolled_body
from gui.panels.inspector import ERROR_COLOUR, FloatSpinBox
from gui.plots import TrainingPlots, pretty
from gui.runner import RunResult, TrainingRunner
from gui.summary import summary_of

WARNING_COLOUR = "#c77c02"  # amber, readable on light and dark backgrounds
OVERFIT_EPOCHS = 3          # epochs of rising validation loss before the warning shows
OVERFIT_RISE = 0.02         # … by at least this share above its best
GUI_SAMPLE_EVERY = 25       # steps between layer statistics when the design does not say
PANEL_REFRESH_S = 0.2       # the progress labels follow the run five times a second


def overfitting(history: list[tuple[int, float, float | None]],
                patience: int = OVERFIT_EPOCHS, rise: float = OVERFIT_RISE) -> str | None:
    """A warning when validation loss has risen for ``patience`` epochs while training loss fell.

    ``history`` holds ``(epoch, train_loss, val_loss)``. The warning compares the latest epoch
    with the best validation epoch: at least ``patience`` epochs later, validation loss more than
    ``rise`` above its best and training loss below its value then.
    """
    points = [(e, t, v) for e, t, v in history if v is not None and math.isfinite(v)]
    if len(points) <= patience:
        return None
    best = min(range(len(points)), key=lambda i: points[i][2])
    epoch_b, train_b, val_b = points[best]
    epoch_n, train_n, val_n = points[-1]
    if len(points) - 1 - best < patience or val_n <= val_b * (1 + rise) + 1e-12 \
            or train_n >= train_b:
        return None
    return (f"Overfitting: validation loss rose from {val_b:.4g} (epoch {epoch_b}) to "
            f"{val_n:.4g} while training loss kept falling ({train_b:.4g} → {train_n:.4g}). "
            "Try Dropout layers, early stopping (patience), weight decay, or more data.")


def clock(seconds: float) -> str:
    """``75`` → ``1:15``; ``3725`` → ``1:02:05``."""
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def metric_text(name: str, value: float) -> str:
    """Accuracy as a percentage, everything else with 4 significant digits."""
    if name.endswith("accuracy"):
        return f"{value:.1%}"
    return f"{value:.4g}"


#: What a run that failed before its first epoch leaves in its folder.
UNFINISHED_RUN_FILES = ("summary.json", "metrics.jsonl")


def _remove_unfinished_run(folder: Path) -> bool:
    """Delete a failed run's folder when it holds only what a failed start writes (the error
    summary, an empty metrics log); True when the folder is gone. A folder with anything else
    (a checkpoint, a logged epoch) is kept."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return not folder.exists()
    if any(p.name not in UNFINISHED_RUN_FILES or not p.is_file() for p in entries):
        return False
    metrics = folder / "metrics.jsonl"
    if metrics.is_file() and metrics.stat().st_size:  # an epoch was logged: keep it
        return False
    try:
        for path in entries:
            path.unlink()
        folder.rmdir()
    except OSError:
        return False
    return True


class TrainingPanel(QWidget):
    """Runs the document's design and edits its training settings (see the module docstring).

    ``plots`` (optional) receives the same event batches. ``runs_dir`` (None: no files) is where
    each run's checkpoints and metrics go, in a ``<design>-<date>-<time>`` folder.
    """

    statusMessage = Signal(str)
    runFinished = Signal(object)  # RunResult
    exportRequested = Signal()    # the Export… button after a finished run

    def __init__(self, document: Document, plots: TrainingPlots | None = None,
                 parent: QWidget | None = None, *, runner: TrainingRunner | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.plots = plots
        self.runner = runner if runner is not None else TrainingRunner(self)
        self.runs_dir: Path | None = None
        self.data: PreparedData | None = None  # train on this instead of the data section
        self.last_result: RunResult | None = None
        self.last_out_dir: Path | None = None
        self.chooser = None  # opens the file dialog (gui.panels.background.FileChooser; tests fake)
        self._refreshing = False
        self._last_shown = 0.0
        self._reset_progress()

        self._build_actions()
        self._build_ui()
        self.summary = summary_of(document)
        self.summary.changed.connect(self._update_controls)
        document.undo_stack.indexChanged.connect(self._on_design_edited)
        document.designReset.connect(self.clear_results)
        document.designReset.connect(self._on_design_edited)
        self.runner.eventsReady.connect(self._on_events)
        if plots is not None:
            self.runner.eventsReady.connect(plots.add_events)
        self.runner.finished.connect(self._on_finished)
        self.runner.stateChanged.connect(self._on_state)
        self.refresh_settings()
        self._update_controls()

    # -- construction ----------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.train_action = QAction(icon("train"), "&Train", self)
        self.train_action.setShortcut(QKeySequence("F5"))
        self.train_action.setStatusTip("Train the design with its training settings")
        self.train_action.triggered.connect(lambda _c=False: self.train())
        self.pause_action = QAction(icon("pause"), "&Pause", self)
        self.pause_action.setShortcut(QKeySequence("F6"))
        self.pause_action.setStatusTip("Pause or resume the training run")
        self.pause_action.triggered.connect(lambda _c=False: self.runner.toggle_pause())
        self.stop_action = QAction(icon("stop"), "&Stop", self)
        self.stop_action.setShortcut(QKeySequence("Shift+F5"))
        self.stop_action.setStatusTip("Stop training after the current batch")
        self.stop_action.triggered.connect(lambda _c=False: self.stop())
        self.resume_action = QAction("Resume From &Checkpoint…", self)
        self.resume_action.setStatusTip("Continue a run from its best.pt / last.pt: the epochs "
                                        "setting is the total")
        self.resume_action.triggered.connect(lambda _c=False: self.resume_from_checkpoint())
        for action in (self.train_action, self.pause_action, self.stop_action):
            action.setToolTip(f"{action.text().replace('&', '')} "
                              f"({action.shortcut().toString()})")

    def _build_ui(self) -> None:
        layout = scrolled_body(self)

        buttons = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        for name, action in (("train", self.train_action), ("pause", self.pause_action),
                             ("stop", self.stop_action)):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button)
            self.buttons[name] = button
        layout.addLayout(buttons)
        more = QHBoxLayout()
        self.resume_button = QToolButton()
        self.resume_button.setDefaultAction(self.resume_action)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Export this run's trained model (File → Export Trained "
                                      "Model…)")
        self.export_button.clicked.connect(lambda _c=False: self.exportRequested.emit())
        self.export_button.hide()
        more.addWidget(self.resume_button)
        more.addWidget(self.export_button)
        more.addStretch(1)
        layout.addLayout(more)

        self.blocked_label = self._label(ERROR_COLOUR)
        self.state_label = QLabel("Ready")
        self.state_label.setWordWrap(True)
        font = self.state_label.font()
        font.setBold(True)
        self.state_label.setFont(font)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.rate_label = QLabel()
        self.rate_label.setWordWrap(True)
        self.values_label = QLabel()
        self.values_label.setTextFormat(Qt.TextFormat.RichText)
        self.values_label.setWordWrap(True)
        self.warning_label = self._label(WARNING_COLOUR)
        self.error_label = self._label(ERROR_COLOUR)
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()
        for widget in (self.blocked_label, self.state_label, self.progress, self.rate_label,
                       self.values_label, self.warning_label, self.error_label,
                       self.result_label):
            layout.addWidget(widget)

        self.settings_box = QGroupBox("Training settings (saved with the design)")
        form = QFormLayout(self.settings_box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.editors: dict[str, QWidget] = {}
        self.task_combo = self._combo("task", TASKS, "What the network learns: the family loop")
        self.epochs_spin = self._spin("epochs", 1, 1_000_000, "Passes over the training data")
        self.batch_spin = self._spin("batch_size", 1, 10_000_000,
                                     "Samples per optimisation step")
        self.lr_spin = self._float("lr", 0.0, 10.0, "Learning rate: the size of each step")
        self.optimizer_combo = self._combo("optimizer", OPTIMIZERS,
                                           "How the weights follow the gradients")
        self.loss_combo = self._combo("loss", (), "The error the network minimises")
        self.decay_spin = self._float("weight_decay", 0.0, 10.0,
                                      "Pulls weights toward zero; fights overfitting")
        self.patience_spin = self._spin("early_stopping", 0, 1_000_000,
                                        "Stop after this many epochs without a better "
                                        "validation loss (off: train every epoch)")
        self.patience_spin.setSpecialValueText("off")
        self.device_combo = self._combo("device", DEVICES, "Where training runs")
        self._mark_unavailable_devices()
        for label, key in (("Task", "task"), ("Epochs", "epochs"), ("Batch size", "batch_size"),
                           ("Learning rate", "lr"), ("Optimizer", "optimizer"), ("Loss", "loss"),
                           ("Weight decay", "weight_decay"),
                           ("Early stopping", "early_stopping"), ("Device", "device")):
            form.addRow(label, self.editors[key])
        self.settings_note = self._label(None)
        self.settings_error = self._label(ERROR_COLOUR)
        form.addRow(self.settings_error)
        form.addRow(self.settings_note)
        layout.addWidget(self.settings_box)
        layout.addStretch(1)

    @staticmethod
    def _label(colour: str | None) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        if colour:
            label.setStyleSheet(f"color: {colour};")
        label.hide()
        return label

    def _combo(self, key: str, items: tuple[str, ...], tip: str) -> QComboBox:
        combo = QComboBox()
        combo.addItems(list(items))
        combo.setToolTip(tip)
        combo.activated.connect(lambda _i, k=key, c=combo: self.set_setting(k, c.currentText()))
        self.editors[key] = combo
        return combo

    def _spin(self, key: str, low: int, high: int, tip: str) -> QSpinBox:
        spin = QSpinBox()
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)  # commit on Enter / focus out / arrows, not per key
        spin.setToolTip(tip)
        spin.valueChanged.connect(lambda v, k=key: self._spin_changed(k, v))
        self.editors[key] = spin
        return spin

    def _float(self, key: str, low: float, high: float, tip: str) -> FloatSpinBox:
        spin = FloatSpinBox()
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)
        spin.setToolTip(tip)
        spin.valueChanged.connect(lambda v, k=key: self._spin_changed(k, v))
        self.editors[key] = spin
        return spin

    def _mark_unavailable_devices(self) -> None:
        from engine.training.devices import device_available  # imports torch

        model = self.device_combo.model()
        for i, name in enumerate(DEVICES):
            if not device_available(name):
                item = model.item(i)
                item.setEnabled(False)
                item.setToolTip(f"{name} is not available on this machine")

    # -- settings -------------------------------------------------------------------------------

    def config(self) -> TrainConfig:
        """The design's validated training settings (raises TrainingError when invalid)."""
        return TrainConfig.from_design(self.document.design)

    def check_setting(self, key: str, value: Any) -> str | None:
        """Why ``training[key] = value`` is refused, or None when it is valid."""
        try:
            training_section.check_setting(self.document.design, key, value)
        except DeepwireError as exc:
            return str(exc)
        return None

    def set_setting(self, key: str, value: Any) -> bool:
        """Push ``training[key] = value`` (REMOVE deletes it) if valid; else show why not. A task
        change also sets that task's default loss when the current one does not fit."""
        if self._refreshing:
            return False
        try:
            changes = training_section.setting_changes(self.document.design, key, value)
        except DeepwireError as exc:
            self._refuse(str(exc))
            return False
        if not changes:
            return False
        stack = self.document.undo_stack
        if len(changes) > 1:
            stack.beginMacro(f"Set training {key} to {value}")
        for name, new in changes.items():
            self.document.push(SetSection(self.document, "training", name, new))
        if len(changes) > 1:
            stack.endMacro()
        self.settings_error.hide()
        return True

    def _spin_changed(self, key: str, value: float) -> None:
        if self._refreshing:
            return
        self.set_setting(key, training_section.number_value(self.document.design, key, value))

    def _refuse(self, reason: str) -> None:
        self.settings_error.setText(f"Not applied: {reason}")
        self.settings_error.show()
        self.statusMessage.emit(f"Not applied: {reason}")
        self.refresh_settings()

    @Slot()
    def refresh_settings(self) -> None:
        """Show the design's training settings (defaults where a key is absent)."""
        self._refreshing = True
        try:
            try:
                cfg = self.config()
                error = None
            except DeepwireError as exc:
                cfg, error = TrainConfig(), str(exc)
            self.task_combo.setCurrentText(cfg.task)
            self.loss_combo.clear()
            self.loss_combo.addItems(list(TASK_LOSSES.get(cfg.task, (cfg.loss,))))
            self.loss_combo.setCurrentText(cfg.loss)
            self.epochs_spin.setValue(cfg.epochs)
            self.batch_spin.setValue(cfg.batch_size)
            self.lr_spin.setValue(cfg.lr)
            self.optimizer_combo.setCurrentText(cfg.optimizer)
            self.decay_spin.setValue(cfg.weight_decay)
            self.patience_spin.setValue(cfg.early_stopping.patience
                                        if cfg.early_stopping is not None else 0)
            self.device_combo.setCurrentText(cfg.device)
            if error is not None:
                self.settings_error.setText(f"The design's training section: {error}")
                self.settings_error.show()
            som = cfg.task == "som"
            for key in ("lr", "optimizer", "loss", "weight_decay"):
                self.editors[key].setEnabled(not som)
                if som:
                    self.editors[key].setToolTip("A SOM learns competitively: no optimizer, "
                                                 "loss or learning-rate setting")
        finally:
            self._refreshing = False

    @Slot()
    def _on_design_edited(self) -> None:
        self.settings_error.hide()  # a refusal is about the edit before; show the new state
        self.refresh_settings()
        self._update_controls()

    # -- running --------------------------------------------------------------------------------

    def blocked_reason(self) -> str | None:
        """Why Train is unavailable now, or None."""
        problems = self.summary.problems
        if problems:
            count = len(problems)
            return (f"Fix the design first ({count} problem{'s' if count != 1 else ''} "
                    f"listed under Problems): {problems[0]}")
        if not self.document.design.nodes:
            return "The design is empty: add layers from the palette"
        try:
            self.config()
        except DeepwireError as exc:
            return str(exc)
        return None

    def _can_start(self) -> bool:
        """Whether a run may start now; shows the reason when the design blocks it."""
        if self.runner.is_active:
            return False
        reason = self.blocked_reason()
        if reason is not None:
            self._show_error(reason)
            return False
        return True

    def resume_from_checkpoint(self, path: str | Path | None = None) -> bool:
        """Continue training from a checkpoint of this design (asks for one when ``path`` is
        None); False, with the one-line reason shown, when it cannot start."""
        if not self._can_start():
            return False
        if path is None:
            if self.chooser is None:
                from gui.panels.background import FileChooser  # it imports this module

                self.chooser = FileChooser(self)
            start = self.last_out_dir or self.runs_dir or ""
            path = self.chooser.open_file("Resume training from a checkpoint", str(start),
                                          "Checkpoints (*.pt);;All files (*)")
            if path is None:
                return False
        path = Path(path)
        try:
            ckpt = load_checkpoint(path)
        except (DeepwireError, OSError) as exc:
            self._show_error(f"Cannot resume: {exc}")
            return False
        if not ckpt.matches(self.document.design):
            self._show_error(f"Cannot resume: {path.name} was saved for a different design "
                             "(layers, parameters or wiring differ): open the design it came from")
            return False
        epochs = self.config().epochs
        if ckpt.epoch >= epochs:
            self._show_error(f"Cannot resume: {path.name} already trained {ckpt.epoch} of "
                             f"{epochs} epochs: raise Epochs in the training settings (the total)")
            return False
        return self.train(resume=path)

    def train(self, data: PreparedData | None = None,
              overrides: dict[str, Any] | None = None, *,
              resume: str | Path | None = None) -> bool:
        """Start a run of the current design (``resume``: continue from that checkpoint);
        False (with the reason shown) when it cannot."""
        if not self._can_start():
            return False
        doc = self.document
        base_dir = doc.path.parent if doc.path is not None else None
        out_dir = None
        if self.runs_dir is not None:
            out_dir = new_run_folder(self.runs_dir, design_stem(doc.path, doc.design.name))
        overrides = dict(overrides or {})
        training = doc.design.training if isinstance(doc.design.training, dict) else {}
        if "sample_every" not in training:  # livelier layer plots than the CLI's default
            overrides.setdefault("sample_every", GUI_SAMPLE_EVERY)
        try:
            if self.plots is not None:
                task = TrainConfig.from_design(doc.design, overrides).task
                self.plots.prepare_run(doc.design, task)
            config = self.runner.start(doc.design, base_dir=base_dir, out_dir=out_dir,
                                       data=data if data is not None else self.data,
                                       overrides=overrides, resume=resume)
        except DeepwireError as exc:
            self._show_error(str(exc))
            return False
        self.last_out_dir = out_dir
        self._reset_progress()
        self.epochs_total = config.epochs
        self.error_label.hide()
        self.warning_label.hide()
        self.result_label.hide()
        self.export_button.hide()
        self.values_label.clear()
        self.rate_label.clear()
        self.state_label.setText("Loading data and building the network…")
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.statusMessage.emit("Training started")
        self._update_controls()
        return True

    @Slot()
    def clear_results(self) -> None:
        """Forget the last run (another design was opened or created): its progress, summary,
        folder and plots belong to the design that was replaced. A run still going is stopped
        and joined first."""
        if self.runner.is_active:
            self.runner.shutdown()
        self.last_result = None
        self.last_out_dir = None
        self._reset_progress()
        self.state_label.setText("Ready")
        self.progress.setValue(0)
        self.progress.setFormat("")
        for label in (self.rate_label, self.values_label):
            label.clear()
        self.rate_label.setToolTip("")
        for label in (self.warning_label, self.error_label, self.result_label):
            label.clear()
            label.hide()
        self.export_button.hide()
        if self.plots is not None:
            self.plots.clear_run()
        self._update_controls()

    @Slot()
    def stop(self) -> None:
        """Stop the run before its next batch."""
        if self.runner.is_active:
            self.runner.stop()
            self.state_label.setText("Stopping…")

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop and join the worker (window close); True when it ended in time."""
        return self.runner.shutdown(timeout)

    @property
    def is_training(self) -> bool:
        return self.runner.is_active

    def _reset_progress(self) -> None:
        self.start_event: TrainStartEvent | None = None
        self.epochs_total = 0
        self.epoch_done = 0
        self.step = 0
        self.batch = 0
        self.bpe = 1
        self.epoch_running = 0
        self.samples_per_s = 0.0
        self.current: dict[str, float] = {}
        self.history: list[tuple[int, float, float | None]] = []
        self.best: tuple[int, float] | None = None
        self._train_t0: float | None = None

    @Slot(object)
    def _on_events(self, events: list) -> None:
        for event in events:
            if isinstance(event, BatchEvent):
                self.step = event.step
                self.batch = event.batch
                self.epoch_running = event.epoch
                self.bpe = max(1, event.batches_per_epoch)
                self.samples_per_s = event.samples_per_s
                for name, values in event.losses.items():
                    if values:
                        self.current[f"last batch {name}"] = values[-1]
            elif isinstance(event, EpochEvent):
                self.epoch_done = event.epoch
                self.epochs_total = event.epochs
                self.batch = 0
                self.history.append((event.epoch, event.metrics["train_loss"],
                                     event.metrics.get("val_loss")))
                for key in [k for k in self.current if not k.startswith("last batch ")]:
                    del self.current[key]
                self.current.update(event.metrics)
                if self.start_event is not None and len(self.start_event.loss_names) > 1:
                    self.current.pop("train_loss", None)  # a GAN's loss sum means little
                if event.is_best and event.metrics.get("val_loss") is not None:
                    self.best = (event.epoch, event.metrics["val_loss"])
            elif isinstance(event, TrainStartEvent):
                self.start_event = event
                self.epochs_total = event.epochs
                self.epoch_done = event.start_epoch
                self.epoch_running = event.start_epoch
                self.bpe = max(1, event.batches_per_epoch)
                self._train_t0 = self.runner.active_seconds()
        # labels re-layout on every change: a few updates a second are plenty to read
        now = time.perf_counter()
        if now - self._last_shown >= PANEL_REFRESH_S:
            self._last_shown = now
            self._show_progress()

    def _show_progress(self) -> None:
        start = self.start_event
        if start is None:
            return
        total = max(1, self.epochs_total - start.start_epoch)
        done = self.epoch_done - start.start_epoch
        if self.batch and self.epoch_running >= self.epoch_done:
            done += self.batch / self.bpe
        fraction = min(1.0, max(0.0, done / total))
        self.progress.setValue(round(fraction * 1000))
        self.progress.setFormat(f"{fraction:.0%}")
        if self.runner.state == "paused":
            state = "Paused"
        elif self.runner.state == "stopping":
            state = "Stopping…"
        else:
            state = "Training"
        epoch_now = min(self.epochs_total, self.epoch_done + (1 if self.batch else 0)) \
            or self.epoch_done
        self.state_label.setText(f"{state} — epoch {max(epoch_now, 1)} of {self.epochs_total}"
                                 f" · step {self.step:,}")
        elapsed = self.runner.active_seconds() - (self._train_t0 or 0.0)
        parts = []
        if fraction > 0.01 and elapsed > 0:
            parts.append(f"ETA {clock(elapsed * (1 - fraction) / fraction)}")
        parts.append(f"{clock(elapsed)} elapsed")
        if self.samples_per_s:
            parts.append(f"{self.samples_per_s / 1000:.1f}k samples/s"
                         if self.samples_per_s >= 1000 else
                         f"{self.samples_per_s:.0f} samples/s")
        self.rate_label.setText(" · ".join(parts))
        self.rate_label.setToolTip(f"{start.n_train:,} training and {start.n_val:,} validation "
                                   f"samples on {start.device}: {start.data_description}")
        self._show_values()
        warning = overfitting(self.history)
        self.warning_label.setText(f"⚠ {warning}" if warning else "")
        self.warning_label.setVisible(warning is not None)

    def _show_values(self) -> None:
        rows = []
        for name, value in self.current.items():
            if not isinstance(value, int | float) or not math.isfinite(value):
                continue
            rows.append(f"<tr><td>{pretty(name)}</td><td align='right'>&nbsp;&nbsp;"
                        f"<b>{metric_text(name, value)}</b></td></tr>")
        if self.best is not None:
            rows.append(f"<tr><td>best val loss</td><td align='right'>&nbsp;&nbsp;"
                        f"<b>{self.best[1]:.4g}</b> (epoch {self.best[0]})</td></tr>")
        self.values_label.setText(f"<table>{''.join(rows)}</table>" if rows else "")

    @Slot(object)
    def _on_finished(self, result: RunResult) -> None:
        self.last_result = result
        summary = result.summary if result.summary is not None else RunSummary()
        if self.start_event is not None:
            self._show_progress()  # the last events may have arrived between refreshes
        done = int(summary.epochs_completed or self.epoch_done)
        if result.error is not None:
            self.state_label.setText(f"Failed after {done} epoch{'s' if done != 1 else ''}")
            self._show_error(f"Training failed: {result.error}")
            if self.last_out_dir is not None and _remove_unfinished_run(self.last_out_dir):
                self.last_out_dir = None
        else:
            self.error_label.hide()
            self.result_label.setText(self._result_text(result, summary, done))
            self.result_label.show()
            total = summary.epochs if result.summary is not None else self.epochs_total
            if result.stopped:
                self.state_label.setText(f"Stopped after {done} of {total} epochs")
            elif summary.early_stopped:
                self.state_label.setText(f"Early stopping after {done} of {total} epochs")
            else:
                self.state_label.setText(f"Finished {done} epochs")
                self.progress.setValue(1000)
                self.progress.setFormat("100%")
            self.statusMessage.emit(self.state_label.text())
            out = self.last_out_dir
            self.export_button.setVisible(out is not None and any(
                (out / name).is_file() for name in ("best.pt", "last.pt")))
        self.rate_label.clear()
        if self.plots is not None:
            self.plots.flush()
        self._show_values()
        self._update_controls()
        self.runFinished.emit(result)

    def _result_text(self, result: RunResult, summary: RunSummary, done: int) -> str:
        lines = [f"{done} epoch{'s' if done != 1 else ''} in {clock(result.seconds)}"
                 + (f", {summary.train_samples_per_s / 1000:.1f}k samples/s"
                    if summary.train_samples_per_s else "") + "."]
        best = summary.best
        monitor = summary.monitor
        if best and monitor and best.get(monitor) is not None:
            extra = [f"{pretty(k)} {metric_text(k, v)}" for k, v in best.items()
                     if k not in ("epoch", "train_loss", "val_loss", "lr", "elapsed_s", monitor)
                     and isinstance(v, int | float)]
            lines.append(f"Best {pretty(monitor)} {best[monitor]:.4g} at epoch {best['epoch']}"
                         + (f" ({', '.join(extra[:3])})" if extra else "") + ".")
        elif summary.final:
            final = summary.final
            several = self.start_event is not None and len(self.start_event.loss_names) > 1
            skip = ("epoch", "lr", "elapsed_s") + (("train_loss",) if several else ())
            extra = [f"{pretty(k)} {metric_text(k, v)}" for k, v in final.items()
                     if k not in skip and isinstance(v, int | float)]
            lines.append("Last epoch: " + ", ".join(extra[:4]) + ".")
        if summary.restored_best:
            lines.append("The weights of the best epoch were restored.")
        if self.last_out_dir is not None and summary.best_checkpoint:
            lines.append(f"Checkpoints and metrics: {self.last_out_dir}")
        return " ".join(lines)

    def _show_error(self, message: str) -> None:
        self.error_label.setText(message)
        self.error_label.show()
        self.statusMessage.emit(message)

    @Slot(str)
    def _on_state(self, _state: str) -> None:
        self._update_controls()
        if self.runner.is_active:
            self._show_progress()

    @Slot()
    def _update_controls(self) -> None:
        active = self.runner.is_active
        state = self.runner.state
        reason = None if active else self.blocked_reason()
        self.train_action.setEnabled(not active and reason is None)
        self.resume_action.setEnabled(not active and reason is None)
        self.resume_action.setToolTip(reason or "Continue a run from one of its checkpoints")
        self.pause_action.setEnabled(active and state in ("running", "paused"))
        self.stop_action.setEnabled(active and state != "stopping")
        paused = state == "paused"
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self.pause_action.setIcon(icon("train" if paused else "pause"))
        self.blocked_label.setText(reason or "")
        self.blocked_label.setVisible(reason is not None)
        self.train_action.setToolTip(reason or "Train the design (F5)")
        self.settings_note.setText("Changes apply to the next run; this run trains the design "
                                   "as it was when you pressed Train." if active else "")
        self.settings_note.setVisible(active)
