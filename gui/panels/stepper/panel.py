"""The Step Through panel: one training step of the design, stage by stage (teaching mode).

Train → Step Through One Batch… starts :class:`engine.insight.stepper.Stepper` on a copy of the
design in a :class:`~gui.workers.BackgroundCall` (it imports torch and prepares the data); the
panel then walks its stages with Next / Back, and Repeat trains the next batch, again off the GUI
thread. Each stage's node is announced with :attr:`StepperPanel.nodeHighlighted` (the window
selects it on the canvas). Closing the window stops the worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from gui.document import Document
from gui.panels.stepper.picture import StagePicture
from gui.widgets import LazyWidget
from gui.workers import BackgroundCall

KIND_TITLES = {
    "data": "Data in",
    "forward": "Forward",
    "error": "Error check",
    "backward": "Backward",
    "update": "Update",
    "distances": "Best-matching unit",
    "neighbourhood": "Neighbourhood",
}
IDLE_TEXT = (
    "Train → Step Through One Batch… takes one small batch of the design's training data and "
    "stops at every stage of one training step."
)


def _start(design: Any, base_dir: Path | None, *, should_stop: Any) -> tuple[Any, list]:
    """Worker: set the stepper up (prepares the data) and run its first batch."""
    from engine.insight.stepper import Stepper

    stepper = Stepper(design, base_dir, should_stop=should_stop)
    return stepper, stepper.next_batch()


class StepperPanel(QWidget):
    """Next / Back through the stages of one step; Repeat runs the next batch."""

    nodeHighlighted = Signal(str)  # the node the shown stage is about
    statusMessage = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.stepper: Any = None  # engine.insight.stepper.Stepper once started
        self.stages: list = []
        self.index = 0
        self.batch = 0
        self.call: BackgroundCall | None = None
        self.step_action = QAction("Step Through One &Batch…", self)
        self.step_action.setStatusTip("Stop at every stage of one training step: Next / Back")
        self.step_action.triggered.connect(lambda _c=False: self.start())
        self._build_ui()
        self._update_buttons()

    def _build_ui(self) -> None:
        layout = QVBoxLayout(self)
        self.header = QLabel("Not started")
        self.header.setStyleSheet("font-weight: bold")
        self.caption = QLabel(IDLE_TEXT)
        self.caption.setWordWrap(True)
        self.caption.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.caption.setMinimumHeight(60)
        self.caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.lazy_picture = LazyWidget(StagePicture)  # built when the panel is first shown
        self.numbers = QLabel("")
        self.numbers.setWordWrap(True)
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b")
        self.error_label.hide()
        row = QHBoxLayout()
        self.back_button = QPushButton("◀ Back")
        self.back_button.setToolTip("The stage before")
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("The next stage of this step")
        self.repeat_button = QPushButton("Repeat (next batch)")
        self.repeat_button.setToolTip("Train this step and go through the next batch")
        self.back_button.clicked.connect(self.back)
        self.next_button.clicked.connect(self.next)
        self.repeat_button.clicked.connect(self.repeat)
        for button in (self.back_button, self.next_button, self.repeat_button):
            row.addWidget(button)
        for widget in (self.header, self.caption):
            layout.addWidget(widget)
        layout.addWidget(self.lazy_picture, 1)
        layout.addWidget(self.numbers)
        layout.addWidget(self.error_label)
        layout.addLayout(row)

    # -- running -------------------------------------------------------------------------------
    @property
    def picture(self) -> StagePicture:
        """The stage's picture (built now if the panel was never shown)."""
        return self.lazy_picture.widget()

    @property
    def busy(self) -> bool:
        """True while the stepper works in the background."""
        return self.call is not None and self.call.running

    def start(self) -> bool:
        """Start stepping the design as it is now (a copy); False when busy already."""
        if self.busy:
            return False
        doc = self.document
        self.stepper, self.stages, self.index, self.batch = None, [], 0, 0
        base_dir = doc.path.parent if doc.path is not None else None
        self._run(
            BackgroundCall(
                _start,
                doc.design.copy(),
                base_dir,
                parent=self,
                name="deepwire-stepper",
                cancellable=True,
            )
        )
        self.header.setText("Preparing the data and one batch…")
        return True

    def repeat(self) -> bool:
        """Run the next batch (the weights carry on from this step); False when not possible."""
        if self.busy or self.stepper is None:
            return False
        stepper = self.stepper
        self._run(
            BackgroundCall(
                lambda: (stepper, stepper.next_batch()), parent=self, name="deepwire-stepper"
            )
        )
        self.header.setText("Training the next batch…")
        return True

    def _run(self, call: BackgroundCall) -> None:
        self.error_label.hide()
        self.call = call
        call.done.connect(self._on_done)
        call.cancelled.connect(self._update_buttons)
        call.start()
        self._update_buttons()

    @Slot(object, object)
    def _on_done(self, result: Any, error: str | None) -> None:
        if error is not None:
            self.header.setText("Could not step through this design")
            self.error_label.setText(error)
            self.error_label.show()
            self.statusMessage.emit(error)
        else:
            self.stepper, self.stages = result
            self.batch += 1
            self.index = 0
            self._show()
        self._update_buttons()

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop the worker (window closing); True when it has ended."""
        if self.call is None:
            return True
        self.call.cancel()
        return self.call.wait(timeout)

    # -- walking -------------------------------------------------------------------------------
    def next(self) -> None:
        """The next stage."""
        if self.index < len(self.stages) - 1:
            self.index += 1
            self._show()

    def back(self) -> None:
        """The stage before."""
        if self.index > 0:
            self.index -= 1
            self._show()

    @property
    def stage(self) -> Any:
        """The stage shown now (None before the first batch)."""
        return self.stages[self.index] if self.stages else None

    def _show(self) -> None:
        stage = self.stage
        if stage is None:
            return
        where = f" · {stage.node}" if stage.node else ""
        step = f" ({stage.step})" if stage.step else ""
        self.header.setText(
            f"Batch {self.batch}, stage {self.index + 1} of {len(self.stages)}: "
            f"{KIND_TITLES.get(stage.kind, stage.kind)}{where}{step}"
        )
        self.caption.setText(stage.caption)
        self.picture.show_stage(stage)
        self.numbers.setText(self._numbers_text(stage))
        if stage.node:
            self.nodeHighlighted.emit(stage.node)
        self._update_buttons()

    @staticmethod
    def _numbers_text(stage: Any) -> str:
        n = stage.numbers
        if stage.kind == "error":
            parts = [f"Loss {n['loss']:.4g}"]
            if "correct" in n:
                parts.append(f"{int(n['correct'])} of {len(stage.tensors['output'])} right")
            if "loss_real" in n:
                parts.append(f"real {n['loss_real']:.4g} + fake {n['loss_fake']:.4g}")
            return " · ".join(parts)
        if stage.kind == "update":
            return f"Change norm {n['change_norm']:.3g}"
        if stage.kind == "backward" and "norm" in n:
            return f"Gradient norm {n['norm']:.3g}"
        if stage.kind == "forward" and "mean" in n:
            return f"Mean {n['mean']:.3g} · spread {n['std']:.3g} · zeros {n['zeros']:.0%}"
        return ""

    @Slot()
    def _update_buttons(self) -> None:
        busy = self.busy
        self.back_button.setEnabled(not busy and self.index > 0)
        self.next_button.setEnabled(not busy and self.index < len(self.stages) - 1)
        self.repeat_button.setEnabled(not busy and self.stepper is not None)

    def set_blocked(self, reason: str | None) -> None:
        """Disable stepping with ``reason`` as the tooltip (design problems, a run going on)."""
        self.step_action.setEnabled(reason is None)
        self.step_action.setToolTip(reason or self.step_action.statusTip())
        self.repeat_button.setToolTip(reason or "Train this step and go through the next batch")
        if reason is not None:
            self.repeat_button.setEnabled(False)
        else:
            self._update_buttons()
