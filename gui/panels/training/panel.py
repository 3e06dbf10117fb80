"""The training panel: Train / Pause / Stop, live progress, and the design's training settings.

Train hands a snapshot of the design to a :class:`~gui.runner.TrainingRunner`; the panel shows
the epoch, step, ETA and the latest losses and metrics from the events the runner drains, warns
when the validation loss climbs while the training loss keeps falling (overfitting), and ends with
a one-paragraph summary or the one-line reason a run failed.

The settings form (:mod:`.settings_form`) edits the design's ``training`` section. Every change
is a :class:`~gui.commands.SetSection` on the undo stack (so it is undoable and saved with the
design) and is checked by the engine first: an invalid value is refused with the reason and
nothing is pushed. The progress labels and the result text live in :mod:`.progress`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.data import PreparedData
from engine.errors import DeepwireError
from engine.runs import store_for
from engine.training.config import TrainConfig
from engine.training.summary import RunSummary
from gui.document import Document
from gui.icons import icon
from gui.panels.training.prepared import DownloadBar, PreparedCache
from gui.panels.training.progress import RunProgress, remove_unfinished_run
from gui.panels.training.settings_form import SettingsForm
from gui.plots import TrainingPlots
from gui.runner import RunResult, TrainingRunner
from gui.summary import summary_of
from gui.torch_loader import torch_loader
from gui.widgets import ERROR_COLOUR, WARNING_COLOUR, scrolled_body

GUI_SAMPLE_EVERY = 25  # steps between layer statistics when the design does not say
LOADING_TEXT = "Loading PyTorch…"
LOADING_TIP = "PyTorch is loading in the background: Train is enabled as soon as it is ready"
PREPARING_TEXT = "Preparing the data in the background…"
PREPARE_DELAY_MS = 300  # after an edit, before the data is prepared ahead of Train


class TrainingPanel(SettingsForm, RunProgress, QWidget):
    """Runs the document's design and edits its training settings (see the module docstring).

    ``plots`` (optional) receives the same event batches. ``runs_dir`` (None: no files) is where
    each run's checkpoints and metrics go, in a ``<design>-<date>-<time>`` folder.
    """

    statusMessage = Signal(str)
    runFinished = Signal(object)  # RunResult
    exportRequested = Signal()  # the Export… button after a finished run

    def __init__(
        self,
        document: Document,
        plots: TrainingPlots | None = None,
        parent: QWidget | None = None,
        *,
        runner: TrainingRunner | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.plots = plots
        self.runner = runner if runner is not None else TrainingRunner(self)
        #: Why other work keeps Train unavailable (the window: a running search), or None.
        self.busy_elsewhere: Callable[[], str | None] = lambda: None
        self.runs_dir: Path | None = None
        self.data: PreparedData | None = None  # train on this instead of the data section
        self.last_result: RunResult | None = None
        self.last_out_dir: Path | None = None
        self.chooser = None  # opens the file dialog (gui.widgets.FileChooser; tests fake)
        self._refreshing = False
        self._last_shown = 0.0
        self._reset_progress()
        # the design's built-in data, prepared ahead of Train (see .prepared)
        self.prepared = PreparedCache(self)
        self._prepare_timer = QTimer(self)
        self._prepare_timer.setSingleShot(True)
        self._prepare_timer.setInterval(PREPARE_DELAY_MS)
        self._prepare_timer.timeout.connect(self.prepare_ahead)

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
        self.runner.notice.connect(self.statusMessage)
        self.prepared.changed.connect(self._show_preparing)
        document.undo_stack.indexChanged.connect(self._schedule_prepare)
        document.designReset.connect(self._schedule_prepare)
        self.loader = torch_loader()
        if not self.loader.is_ready():
            self.state_label.setText(LOADING_TEXT)
            self.loader.ready.connect(self._on_torch_ready)
        else:
            self._prepare_timer.start()
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
        self.resume_action.setStatusTip(
            "Continue a run from its best.pt / last.pt: the epochs setting is the total"
        )
        self.resume_action.triggered.connect(lambda _c=False: self.resume_from_checkpoint())
        for action in (self.train_action, self.pause_action, self.stop_action):
            action.setToolTip(f"{action.text().replace('&', '')} ({action.shortcut().toString()})")

    def _build_ui(self) -> None:
        layout = scrolled_body(self)

        layout.addLayout(self._build_run_buttons())
        layout.addLayout(self._build_more_buttons())
        self._build_progress(layout)

        layout.addWidget(self._build_settings_form())
        layout.addStretch(1)

    def _build_run_buttons(self) -> QHBoxLayout:
        """Train, Pause and Stop, side by side."""
        buttons = QHBoxLayout()
        self.buttons: dict[str, QToolButton] = {}
        for name, action in (
            ("train", self.train_action),
            ("pause", self.pause_action),
            ("stop", self.stop_action),
        ):
            button = QToolButton()
            button.setDefaultAction(action)
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            buttons.addWidget(button)
            self.buttons[name] = button
        return buttons

    def _build_more_buttons(self) -> QHBoxLayout:
        """Resume, and Export… (shown once a run has a trained model)."""
        more = QHBoxLayout()
        self.resume_button = QToolButton()
        self.resume_button.setDefaultAction(self.resume_action)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip(
            "Export this run's trained model (File → Export Trained Model…)"
        )
        self.export_button.clicked.connect(lambda _c=False: self.exportRequested.emit())
        self.export_button.hide()
        more.addWidget(self.resume_button)
        more.addWidget(self.export_button)
        more.addStretch(1)
        return more

    def _build_progress(self, layout: QVBoxLayout) -> None:
        """The run's state, progress bar, rate, values, warnings, errors and result."""
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
        self.preparing_label = self._label(None)
        self.preparing_label.setText(PREPARING_TEXT)
        self.preparing_label.setToolTip(
            "So the first batch follows Train at once; Train need not wait for it"
        )
        self.result_label = QLabel()
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.result_label.hide()
        self.download_bar = DownloadBar(self.prepared)  # a named dataset's first download
        for widget in (
            self.blocked_label,
            self.state_label,
            self.progress,
            self.rate_label,
            self.values_label,
            self.warning_label,
            self.error_label,
            self.result_label,
            self.preparing_label,
            self.download_bar,
        ):
            layout.addWidget(widget)

    @staticmethod
    def _label(colour: str | None) -> QLabel:
        label = QLabel()
        label.setWordWrap(True)
        if colour:
            label.setStyleSheet(f"color: {colour};")
        label.hide()
        return label

    # -- running --------------------------------------------------------------------------------

    def blocked_reason(self) -> str | None:
        """Why Train is unavailable now, or None."""
        elsewhere = self.busy_elsewhere()
        if elsewhere is not None:
            return elsewhere
        problems = self.summary.problems
        if problems:
            count = len(problems)
            return (
                f"Fix the design first ({count} problem{'s' if count != 1 else ''} "
                f"listed under Problems): {problems[0]}"
            )
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
        if not self.loader.is_ready():
            self.statusMessage.emit(LOADING_TIP)
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
                from gui.widgets import FileChooser

                self.chooser = FileChooser(self)
            start = self.last_out_dir or self.runs_dir or ""
            path = self.chooser.open_file(
                "Resume training from a checkpoint", str(start), "Checkpoints (*.pt);;All files (*)"
            )
            if path is None:
                return False
        path = Path(path)
        from engine.training.checkpoint import load_checkpoint  # torch: loaded (Train enabled)

        try:
            ckpt = load_checkpoint(path)
        except (DeepwireError, OSError) as exc:
            self._show_error(f"Cannot resume: {exc}")
            return False
        if not ckpt.matches(self.document.design):
            self._show_error(
                f"Cannot resume: {path.name} was saved for a different design "
                "(layers, parameters or wiring differ): open the design it came from"
            )
            return False
        epochs = self.config().epochs
        if ckpt.epoch >= epochs:
            self._show_error(
                f"Cannot resume: {path.name} already trained {ckpt.epoch} of "
                f"{epochs} epochs: raise Epochs in the training settings (the total)"
            )
            return False
        return self.train(resume=path)

    def fine_tune(self, path: str | Path) -> bool:
        """Start a new run from the weights of the checkpoint at ``path`` with a fresh
        optimizer (the Evaluate panel's Fine-tune); False, with the reason shown, when it
        cannot start."""
        return self.train(init_from=path)

    def train(
        self,
        data: PreparedData | None = None,
        overrides: dict[str, Any] | None = None,
        *,
        resume: str | Path | None = None,
        init_from: str | Path | None = None,
    ) -> bool:
        """Start a run of the current design (``resume``: continue from that checkpoint;
        ``init_from``: a new run from its weights); False (with the reason shown) when it
        cannot."""
        if not self._can_start():
            return False
        doc = self.document
        base_dir = doc.path.parent if doc.path is not None else None
        out_dir = None
        if self.runs_dir is not None:
            out_dir = store_for(doc.path, doc.design.name, root=self.runs_dir).new_run_folder()
        overrides = dict(overrides or {})
        training = doc.design.training if isinstance(doc.design.training, dict) else {}
        if "sample_every" not in training:  # livelier layer plots than the CLI's default
            overrides.setdefault("sample_every", GUI_SAMPLE_EVERY)
        given = data if data is not None else self.data
        try:
            planned = TrainConfig.from_design(doc.design, overrides)
            if given is None and resume is None:  # a resumed run uses its checkpoint's seed
                given = self.prepared.get(doc.design.data, planned.seed)
            self.prepared.cancel()  # the run prepares what is not ready itself
            if self.plots is not None:
                self.plots.prepare_run(doc.design, planned.task)
            config = self.runner.start(
                doc.design,
                base_dir=base_dir,
                out_dir=out_dir,
                data=given,
                overrides=overrides,
                resume=resume,
                init_from=init_from,
            )
        except DeepwireError as exc:
            self._show_error(str(exc))
            return False
        self.last_out_dir = out_dir
        self._show_started(config.epochs, data_ready=given is not None)
        return True

    def _show_started(self, epochs: int, data_ready: bool) -> None:
        """A run started: the last run's results go, the first step is named."""
        self._reset_progress()
        self.epochs_total = epochs
        self.error_label.hide()
        self.warning_label.hide()
        self.result_label.hide()
        self.export_button.hide()
        self.values_label.clear()
        self.rate_label.clear()
        self.state_label.setText(
            "Building the network…" if data_ready else "Loading data and building the network…"
        )
        self.progress.setValue(0)
        self.progress.setFormat("")
        self.statusMessage.emit("Training started")
        self._update_controls()

    @Slot()
    def clear_results(self) -> None:
        """Forget the last run (another design was opened or created): its progress, summary,
        folder and plots belong to the design that was replaced. A run still going is stopped
        and joined first."""
        if self.runner.is_active:
            self.runner.shutdown(keep_worker=True)  # the training process serves the next run
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
        """Stop and join the worker and any data preparation (window close; 0: only ask);
        True when they ended in time."""
        self._prepare_timer.stop()
        done = self.runner.shutdown(timeout)
        return self.prepared.shutdown(timeout) and done

    @property
    def preparing(self) -> bool:
        """True while the design's data is being prepared ahead of Train."""
        return self.prepared.preparing

    def _schedule_prepare(self, *_changed: object) -> None:
        self._prepare_timer.start()  # restarted by each edit: prepares once the edits pause

    @Slot()
    def prepare_ahead(self) -> None:
        """Prepare the design's built-in data in the background, so Train finds it ready
        (nothing while PyTorch loads or a run is active, or when the design says train on
        given data)."""
        if not self.loader.is_ready() or self.runner.is_active or self.data is not None:
            return
        try:
            seed = self.config().seed
        except DeepwireError:
            return  # the panel shows why the settings are invalid
        self.prepared.prepare(self.document.design.data, seed)

    @Slot()
    def _show_preparing(self) -> None:
        self.preparing_label.setVisible(self.prepared.preparing and not self.runner.is_active)

    @property
    def is_training(self) -> bool:
        """True from the start of a run until it finished (paused counts)."""
        return self.runner.is_active

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
            if self.last_out_dir is not None and remove_unfinished_run(self.last_out_dir):
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
            self.export_button.setVisible(
                out is not None and any((out / name).is_file() for name in ("best.pt", "last.pt"))
            )
        self.rate_label.clear()
        if self.plots is not None:
            self.plots.flush()
        self._show_values()
        self._update_controls()
        self.runFinished.emit(result)

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
    def _on_torch_ready(self) -> None:
        """PyTorch has loaded (gui/torch_loader.py): Train becomes available."""
        if self.state_label.text() == LOADING_TEXT:
            self.state_label.setText("Ready")
        if self.loader.error is not None:
            self._show_error(f"PyTorch failed to load: {self.loader.error}")
        self._update_controls()
        self._prepare_timer.start()

    @Slot()
    def _update_controls(self) -> None:
        active = self.runner.is_active
        state = self.runner.state
        reason = None if active else self.blocked_reason()
        loading = not self.loader.is_ready()
        self.train_action.setEnabled(not active and reason is None and not loading)
        self.resume_action.setEnabled(not active and reason is None and not loading)
        self.resume_action.setToolTip(reason or "Continue a run from one of its checkpoints")
        self.pause_action.setEnabled(active and state in ("running", "paused"))
        self.stop_action.setEnabled(active and state != "stopping")
        paused = state == "paused"
        self.pause_action.setText("&Resume" if paused else "&Pause")
        self.pause_action.setIcon(icon("train" if paused else "pause"))
        self.blocked_label.setText(reason or "")
        self.blocked_label.setVisible(reason is not None)
        self.train_action.setToolTip(
            reason or (LOADING_TIP if loading else "Train the design (F5)")
        )
        self.settings_note.setText(
            "Changes apply to the next run; this run trains the design "
            "as it was when you pressed Train."
            if active
            else ""
        )
        self.settings_note.setVisible(active)
