"""The training panel's settings form: the design's ``training`` section, edited field by field.

Every change goes through :mod:`engine.editing.training_section` (which keys it sets, or the
engine's one-line reason to refuse it) and becomes a :class:`~gui.commands.SetSection` on the undo
stack; the form re-reads the design whenever the undo stack moves.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QCheckBox, QComboBox, QGroupBox, QSpinBox, QWidget

from engine.editing import training_section
from engine.errors import DeepwireError
from engine.training.config import DEVICES, OPTIMIZERS, TASK_LOSSES, TASKS, TrainConfig
from gui.commands import SetSection
from gui.torch_loader import torch_loader
from gui.widgets import ERROR_COLOUR, FloatSpinBox, growing_form


class SettingsForm:
    """The settings half of :class:`~gui.panels.training.TrainingPanel` (a mixin: it needs the
    panel's ``document``, ``statusMessage`` and ``_label``)."""

    def _build_settings_form(self) -> QGroupBox:
        """The group box of training settings, one editor per key."""
        self.settings_box = QGroupBox("Training settings (saved with the design)")
        form = growing_form()
        self.settings_box.setLayout(form)
        self.editors: dict[str, QWidget] = {}
        self.task_combo = self._combo("task", TASKS, "What the network learns: the family loop")
        self.epochs_spin = self._spin("epochs", 1, 1_000_000, "Passes over the training data")
        self.batch_spin = self._spin("batch_size", 1, 10_000_000, "Samples per optimisation step")
        self.lr_spin = self._float("lr", 0.0, 10.0, "Learning rate: the size of each step")
        self.optimizer_combo = self._combo(
            "optimizer", OPTIMIZERS, "How the weights follow the gradients"
        )
        self.loss_combo = self._combo("loss", (), "The error the network minimises")
        self.decay_spin = self._float(
            "weight_decay", 0.0, 10.0, "Pulls weights toward zero; fights overfitting"
        )
        self.patience_spin = self._spin(
            "early_stopping",
            0,
            1_000_000,
            "Stop after this many epochs without a better validation loss (off: train every epoch)",
        )
        self.patience_spin.setSpecialValueText("off")
        self.device_combo = self._combo("device", DEVICES, "Where training runs")
        self.tensorboard_check = self._check(
            "tensorboard",
            "Write TensorBoard event files into the run folder: every metric per epoch, weight "
            "histograms and the graph (view them with: tensorboard --logdir <the run folder>)",
        )
        loader = torch_loader()
        if loader.is_ready():
            self._mark_unavailable_devices()
        else:  # asking torch about devices waits for it: after it has loaded in the background
            loader.ready.connect(self._mark_unavailable_devices)
        for label, key in (
            ("Task", "task"),
            ("Epochs", "epochs"),
            ("Batch size", "batch_size"),
            ("Learning rate", "lr"),
            ("Optimizer", "optimizer"),
            ("Loss", "loss"),
            ("Weight decay", "weight_decay"),
            ("Early stopping", "early_stopping"),
            ("Device", "device"),
            ("TensorBoard", "tensorboard"),
        ):
            form.addRow(label, self.editors[key])
        self.settings_note = self._label(None)
        self.settings_error = self._label(ERROR_COLOUR)
        form.addRow(self.settings_error)
        form.addRow(self.settings_note)
        return self.settings_box

    def _combo(self, key: str, items: tuple[str, ...], tip: str) -> QComboBox:
        combo = QComboBox()
        combo.addItems(list(items))
        combo.setToolTip(tip)
        combo.activated.connect(lambda _i, k=key, c=combo: self.set_setting(k, c.currentText()))
        self.editors[key] = combo
        return combo

    def _check(self, key: str, tip: str) -> QCheckBox:
        check = QCheckBox("write event files")
        check.setToolTip(tip)
        check.toggled.connect(lambda on, k=key: self.set_setting(k, on))
        self.editors[key] = check
        return check

    def _spin(self, key: str, low: int, high: int, tip: str) -> QSpinBox:
        return self._number(QSpinBox(), key, low, high, tip)

    def _float(self, key: str, low: float, high: float, tip: str) -> FloatSpinBox:
        return self._number(FloatSpinBox(), key, low, high, tip)

    def _number(self, spin: Any, key: str, low: float, high: float, tip: str) -> Any:
        """``spin`` (a whole-number or decimal box) as the editor of ``training[key]``."""
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)  # commit on Enter / focus out / arrows, not per key
        spin.setToolTip(tip)
        spin.valueChanged.connect(lambda v, k=key: self._spin_changed(k, v))
        self.editors[key] = spin
        return spin

    @Slot()
    def _mark_unavailable_devices(self) -> None:
        from engine.training.devices import device_available  # imports torch

        model = self.device_combo.model()
        for i, name in enumerate(DEVICES):
            if not device_available(name):
                item = model.item(i)
                item.setEnabled(False)
                item.setToolTip(f"{name} is not available on this machine")

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
            self.patience_spin.setValue(
                cfg.early_stopping.patience if cfg.early_stopping is not None else 0
            )
            self.device_combo.setCurrentText(cfg.device)
            self.tensorboard_check.setChecked(cfg.tensorboard)
            if error is not None:
                self.settings_error.setText(f"The design's training section: {error}")
                self.settings_error.show()
            som = cfg.task == "som"
            for key in ("lr", "optimizer", "loss", "weight_decay"):
                self.editors[key].setEnabled(not som)
                if som:
                    self.editors[key].setToolTip(
                        "A SOM learns competitively: no optimizer, loss or learning-rate setting"
                    )
        finally:
            self._refreshing = False

    @Slot()
    def _on_design_edited(self) -> None:
        self.settings_error.hide()  # a refusal is about the edit before; show the new state
        self.refresh_settings()
        self._update_controls()
