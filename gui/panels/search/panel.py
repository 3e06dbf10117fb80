"""The Search panel: the design's search space, a study's options, Start/Stop, the live trials.

The space is the design's ``search`` section (:mod:`engine.search_space`), edited in a table
(:class:`~gui.panels.search.space_table.SpaceTable`), from the training settings' row here (a
setting and its Add button) and from the inspector's "search this parameter" toggles; every edit is
one undo step. Start runs :class:`engine.search.SearchRunner` on a snapshot of the design in a
worker thread (:class:`~gui.panels.search.session.SearchSession`); the trials table, the best so
far and the plots (:class:`gui.plots.search.SearchPlots`, given by the window) follow it live. Stop
leaves the study resumable: with a storage file, Start continues it. "Apply best to design" puts
the best trial's values into the design as one undo step.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.editing.search_section import default_entry, with_entry, with_option, without_entry
from engine.errors import DeepwireError, first_line
from engine.graph import Design
from engine.runs import store_for
from engine.search_space import (
    SEARCH,
    TRAINING_TARGETS,
    SearchError,
    parse_search,
    section_of,
)
from engine.training.config import DEVICES
from gui.commands import ReplaceSection, push_design_values
from gui.document import Document
from gui.panels.search.session import Progress, SearchRequest, SearchResult, SearchSession
from gui.panels.search.space_table import SpaceTable
from gui.plots.search import SearchPlots
from gui.widgets import (
    ERROR_COLOUR,
    OK_COLOUR,
    FileChooser,
    coloured,
    growing_form,
    narrow,
    note_label,
    path_row,
    scrolled_body,
)

TRIAL_COLUMNS = ("Trial", "State", "Value", "Time", "Parameters")
DEFAULT_TRIALS = 20
#: How the trials table names a state (others as the engine names them).
STATE_TEXT = {"waiting": "queued"}
RESUMABLE_NOTE = (
    "Stop ends the running trial at its next batch and queues it again: the study stays "
    "resumable. With a storage file, Start continues it (same study name); in memory it lasts "
    "until the next Start."
)


def params_text(params: dict[str, Any]) -> str:
    """``lr=0.0031 batch_size=64 optimizer="adam"`` (what the command line prints)."""
    parts = []
    for key, value in params.items():
        shown = f"{value:.4g}" if isinstance(value, float) else json.dumps(value)
        parts.append(f"{key}={shown}")
    return " ".join(parts)


def storage_url(text: str) -> str | None:
    """The storage field's text as a runner storage: empty → in memory, a path ending ``.log``
    → that journal file; anything else as typed (``sqlite:///…``, ``journal:///…``)."""
    text = text.strip()
    return text or None


class SearchPanel(QWidget):
    """Search space, study options, Start/Stop, trials and the best; see the module docstring."""

    searchStarted = Signal()
    statusMessage = Signal(str)

    def __init__(
        self, document: Document, plots: SearchPlots | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.plots = plots
        self.session = SearchSession(self)
        self.runs_dir: Path | None = None  # where trials write their run folders (None: none)
        #: Why other work keeps Start unavailable (the window: a training run), or None.
        self.busy_elsewhere: Callable[[], str | None] = lambda: None
        self.files = FileChooser(self)
        self.records: dict[int, Any] = {}
        self.best: Any = None
        self.study: Any = None  # the last search's optuna study (for Apply best)
        self.searched: Design | None = None
        self._rows: dict[int, int] = {}
        self._build_ui()
        self.session.progress.connect(self._on_progress)
        self.session.finished.connect(self._on_finished)
        self.session.stateChanged.connect(self._update_buttons)
        document.sectionChanged.connect(self._on_section_changed)
        document.designReset.connect(self._on_reset)
        document.nodeRemoved.connect(lambda _id: self._fill_add_combo())
        self._fill_add_combo()
        self._update_buttons()

    # -- building -----------------------------------------------------------------------------------

    def _build_ui(self) -> None:
        layout = scrolled_body(self)
        layout.addWidget(self._build_space_box())
        layout.addWidget(self._build_study_box())
        layout.addWidget(self._build_trials_box())
        layout.addStretch(1)

    def _build_space_box(self) -> QGroupBox:
        box = QGroupBox("Search space")
        v = QVBoxLayout(box)
        hint = note_label(box)
        hint.setText(
            "What the search may vary. Layer parameters: select a layer and click the magnifier "
            "beside a parameter in the Inspector. Double-click a cell to edit a range or "
            "choices."
        )
        v.addWidget(hint)
        self.space_table = SpaceTable(self.document, box)
        self.space_table.setMinimumHeight(120)
        self.space_table.refused.connect(self._show_space_note)
        self.space_table.itemSelectionChanged.connect(self._update_buttons)
        v.addWidget(self.space_table)
        self.space_note = QLabel(box)
        self.space_note.setObjectName("space_note")
        self.space_note.setWordWrap(True)
        self.space_note.hide()
        v.addWidget(self.space_note)
        row = QHBoxLayout()
        self.add_combo = narrow(QComboBox(box))
        self.add_combo.setToolTip("A training setting to add to the search space")
        self.add_button = QPushButton("Add", box)
        self.add_button.setToolTip("Add the training setting chosen beside to the search space")
        self.add_button.clicked.connect(lambda: self.add_setting(self.add_combo.currentText()))
        row.addWidget(self.add_combo, 1)
        row.addWidget(self.add_button)
        v.addLayout(row)
        self.remove_button = QPushButton("Remove selected entry", box)
        self.remove_button.setToolTip("Remove the selected entry from the search space")
        self.remove_button.clicked.connect(self._remove_selected)
        v.addWidget(self.remove_button, 0, Qt.AlignmentFlag.AlignLeft)
        return box

    def _build_study_box(self) -> QGroupBox:
        box = QGroupBox("Study")
        form = growing_form()
        box.setLayout(form)
        self.trials_spin = QSpinBox(box)
        self.trials_spin.setRange(1, 100_000)
        self.trials_spin.setValue(DEFAULT_TRIALS)
        self.trials_spin.setToolTip(
            "Finished trials the study should hold; a resumed study continues to this total"
        )
        form.addRow("Trials", self.trials_spin)
        self.timeout_spin = QSpinBox(box)
        self.timeout_spin.setRange(0, 7 * 24 * 3600)
        self.timeout_spin.setSuffix(" s")
        self.timeout_spin.setSpecialValueText("no limit")
        self.timeout_spin.setToolTip("Start no new trial after this many seconds (0: no limit)")
        form.addRow("Timeout", self.timeout_spin)
        self.storage_edit = QLineEdit(box)
        self.storage_edit.setPlaceholderText("in memory (this window only)")
        self.storage_edit.setToolTip(
            "Where the study lives: empty = in memory; a journal file (FILE.log), sqlite:///FILE.db "
            "or a database URL lets a stopped study resume and several processes share it"
        )
        browse = QPushButton("Browse…", box)
        browse.clicked.connect(self._choose_storage)
        form.addRow("Storage", path_row(self.storage_edit, browse))
        self.study_edit = QLineEdit(box)
        self.study_edit.setToolTip("The study's name in the storage")
        form.addRow("Study", self.study_edit)
        self._build_study_options(box, form)
        buttons = QHBoxLayout()
        self.start_button = QPushButton("Start search", box)
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop", box)
        self.stop_button.clicked.connect(self.stop)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        form.addRow(buttons)
        self.status_label = note_label(box)
        self.status_label.setObjectName("search_status")
        self.status_label.hide()
        form.addRow(self.status_label)
        resumable = note_label(box)
        resumable.setText(RESUMABLE_NOTE)
        form.addRow(resumable)
        self._update_study_placeholder()
        return box

    def _build_study_options(self, box: QGroupBox, form: Any) -> None:
        """Seed and pruning (kept in the design's search section, undoable); trials at once and
        the device (options of this search only, like ``main.py search --jobs/--device``)."""
        self.seed_spin = QSpinBox(box)
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setToolTip(
            "Seeds the sampler: the same seed repeats the same study (kept in the design)"
        )
        self.seed_spin.editingFinished.connect(
            lambda: self.set_option("seed", self.seed_spin.value())
        )
        form.addRow("Seed", self.seed_spin)
        self.pruning_box = QCheckBox("Stop trials that fall behind", box)
        self.pruning_box.setToolTip(
            "Median pruning: after each epoch, a trial whose loss is worse than the median of "
            "earlier trials at the same epoch stops early (kept in the design)"
        )
        self.pruning_box.toggled.connect(lambda on: self.set_option("pruning", bool(on)))
        form.addRow(self.pruning_box)
        self.jobs_spin = QSpinBox(box)
        self.jobs_spin.setRange(1, max(1, os.cpu_count() or 1))
        self.jobs_spin.setToolTip(
            "Trials trained at the same time in this window (threads share the CPU cores: "
            "several processes on one storage file scale better, see docs/search.md)"
        )
        form.addRow("Trials at once", self.jobs_spin)
        self.device_combo = QComboBox(box)
        self.device_combo.addItem("as in Training settings", None)
        for device in DEVICES:
            self.device_combo.addItem(device, device)
        self.device_combo.setToolTip("Where the trials train")
        form.addRow("Device", self.device_combo)
        self._load_options()

    def _load_options(self) -> None:
        """Show the search section's seed and pruning."""
        section = section_of(self.document.design)
        for widget, name in ((self.seed_spin, "seed"), (self.pruning_box, "pruning")):
            widget.blockSignals(True)
            value = section.get(name, SEARCH.fields[name].default)
            if isinstance(widget, QSpinBox):
                widget.setValue(int(value))
            else:
                widget.setChecked(bool(value))
            widget.blockSignals(False)

    def set_option(self, name: str, value: Any) -> bool:
        """Set a search option (seed, pruning) in the design as one undo step."""
        current = section_of(self.document.design).get(name, SEARCH.fields[name].default)
        if current == value:
            return False
        try:
            section = with_option(self.document.design, name, value)
        except SearchError as exc:
            self._status(first_line(exc), ERROR_COLOUR)
            self._load_options()
            return False
        self.document.push(
            ReplaceSection(self.document, "search", section, f"Set search {name} to {value}")
        )
        return True

    def _build_trials_box(self) -> QGroupBox:
        box = QGroupBox("Trials")
        v = QVBoxLayout(box)
        self.best_label = QLabel("Best so far: no complete trial yet", box)
        self.best_label.setObjectName("best_label")
        self.best_label.setWordWrap(True)
        self.best_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        v.addWidget(self.best_label)
        self.trials_table = QTableWidget(0, len(TRIAL_COLUMNS), box)
        self.trials_table.setHorizontalHeaderLabels(TRIAL_COLUMNS)
        self.trials_table.verticalHeader().hide()
        self.trials_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.trials_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.trials_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.trials_table.setMinimumHeight(150)
        v.addWidget(self.trials_table)
        self.apply_button = QPushButton("Apply best to design", box)
        self.apply_button.setToolTip(
            "Put the best complete trial's values into the design (one undoable step)"
        )
        self.apply_button.clicked.connect(self.apply_best)
        v.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignLeft)
        return box

    # -- the space ----------------------------------------------------------------------------------

    def _fill_add_combo(self) -> None:
        space = section_of(self.document.design).get("space")
        keys = set(space) if isinstance(space, dict) else set()
        current = self.add_combo.currentText()
        self.add_combo.blockSignals(True)
        self.add_combo.clear()
        self.add_combo.addItems([k for k in TRAINING_TARGETS if k not in keys])
        index = self.add_combo.findText(current)
        self.add_combo.setCurrentIndex(max(0, index))
        self.add_combo.blockSignals(False)
        self._update_buttons()

    def add_setting(self, key: str) -> bool:
        """Add training setting ``key`` with a first range (one undo step); False (with the
        reason under the table) when it cannot."""
        if not key:
            return False
        design = self.document.design
        try:
            section = with_entry(design, key, default_entry(design, key))
        except (SearchError, DeepwireError) as exc:
            self._show_space_note(first_line(exc))
            return False
        self.document.push(ReplaceSection(self.document, "search", section, f"Search {key}"))
        return True

    def remove_entry(self, key: str) -> bool:
        """Remove ``key`` from the space (one undo step)."""
        try:
            section = without_entry(self.document.design, key)
        except SearchError as exc:
            self._show_space_note(first_line(exc))
            return False
        self.document.push(
            ReplaceSection(self.document, "search", section, f"Stop searching {key}")
        )
        return True

    def _remove_selected(self) -> None:
        key = self.space_table.selected_key()
        if key is not None:
            self.remove_entry(key)

    def _show_space_note(self, text: str) -> None:
        coloured(self.space_note, text, ERROR_COLOUR)

    @property
    def space_note_text(self) -> str:
        """The refusal shown under the space table, or ''."""
        return self.space_note.text() if not self.space_note.isHidden() else ""

    def _on_section_changed(self, section: str) -> None:
        if section == "search":
            self._load_options()
            self.space_table.load()
            self._show_space_note("")
            self._fill_add_combo()

    def _on_reset(self) -> None:
        self._load_options()
        self.space_table.load()
        self._show_space_note("")
        self._fill_add_combo()
        self._update_study_placeholder()
        if not self.session.is_active:
            self._clear_trials()
            self.study = None
            self._update_buttons()

    def _update_study_placeholder(self) -> None:
        """The default study name (engine.search.default_study_name, without importing optuna)."""
        name = self.document.design.name or "design"
        self.study_edit.setPlaceholderText(
            re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") + "-search"
        )

    def _choose_storage(self) -> None:
        start = self.storage_edit.text().strip() or str(self.runs_dir or "")
        path = self.files.save_file(
            "Study storage (a journal file)", start, "Optuna journal (*.log);;All files (*)"
        )
        if path is not None:
            if path.suffix != ".log":
                path = path.with_suffix(".log")
            self.storage_edit.setText(str(path))

    # -- running ------------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        """True while a search runs (or is stopping)."""
        return self.session.is_active

    def start(self) -> bool:
        """Start a search of the current design; False (with the reason shown) when it cannot."""
        if self.session.is_active:
            return False
        elsewhere = self.busy_elsewhere()
        if elsewhere is not None:
            self._status(elsewhere, ERROR_COLOUR)
            return False
        doc = self.document
        if self.space_table.rowCount() == 0:
            self._status(
                "The search space is empty: add a training setting above, or click the magnifier "
                "beside a layer parameter in the Inspector",
                ERROR_COLOUR,
            )
            return False
        try:
            parse_search(doc.design)
        except SearchError as exc:
            self._status(first_line(exc), ERROR_COLOUR)
            return False
        runs_dir = stem = None
        if self.runs_dir is not None:
            store = store_for(doc.path, doc.design.name, root=self.runs_dir)
            runs_dir, stem = store.root, store.stem
        timeout = float(self.timeout_spin.value()) or None
        request = SearchRequest(
            doc.design,
            self.trials_spin.value(),
            timeout=timeout,
            storage=storage_url(self.storage_edit.text()),
            study_name=self.study_edit.text().strip() or None,
            runs_dir=runs_dir,
            base_dir=doc.path.parent if doc.path is not None else None,
            stem=stem,
            jobs=self.jobs_spin.value(),
            device=self.device_combo.currentData(),
        )
        self._clear_trials()
        self.study = None
        self.searched = doc.design.copy()
        self.session.start(request)
        self._status("Opening the study…", None)
        self.searchStarted.emit()
        return True

    def stop(self) -> None:
        """Ask the search to stop (the running trial stops at its next batch)."""
        if self.session.is_active:
            self.session.stop()
            self._status("Stopping: the running trial ends at its next batch…", None)

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop the search and wait for its thread at most ``timeout`` s (0: only ask)."""
        return self.session.shutdown(timeout)

    def _on_progress(self, items: list[Progress]) -> None:
        changed = False
        for item in items:
            if item.kind == "start":
                start = item.data
                for record in start.trials:
                    self._set_record(record)
                where = start.storage or "memory"
                done = len(start.trials)
                self._status(
                    f"Study {start.study_name!r} in {where}: "
                    + (f"{done} trials kept, " if done else "")
                    + f"running to {start.n_trials} finished trials…",
                    None,
                )
                changed = True
            elif item.kind in ("trial_start", "trial_end"):
                self._set_record(item.data)
                changed = True
            elif item.kind == "epoch":
                number, epoch, epochs, value = item.data
                row = self._rows.get(number)
                if row is not None:
                    self.trials_table.item(row, 1).setText(f"running ({epoch}/{epochs})")
                    if value is not None:
                        self.trials_table.item(row, 2).setText(f"{value:.4g}")
            elif item.kind == "importances" and self.plots is not None:
                self.plots.set_importances(item.data)
        if changed:
            self._update_best()
            if self.plots is not None:
                self.plots.set_trials(self.records.values())

    def _on_finished(self, result: SearchResult) -> None:
        if result.error is not None:
            error = result.error  # the engine words it for the command line's --storage flag
            if error.startswith("--storage "):
                error = "storage " + error.removeprefix("--storage ")
            self._status(f"Search failed: {error}", ERROR_COLOUR)
            self._update_buttons()
            return
        self.study = result.study
        outcome = result.outcome
        for record in outcome.trials:
            self._set_record(record)
        self._update_best()
        if self.plots is not None:
            self.plots.set_trials(self.records.values())
        counts = ", ".join(f"{n} {state}" for state, n in sorted(outcome.counts.items()))
        if outcome.stopped:
            how = "Stopped (resumable: Start continues the study)"
        elif outcome.timed_out:
            how = "Timed out"
        else:
            how = "Finished"
        self._status(f"{how}: {counts or 'no trials'}.", None if outcome.best else ERROR_COLOUR)
        self.statusMessage.emit(f"Search {how.split(' ')[0].lower()}: {counts}")
        self._update_buttons()

    # -- trials -------------------------------------------------------------------------------------

    def _clear_trials(self) -> None:
        self.records.clear()
        self._rows.clear()
        self.best = None
        self.trials_table.setRowCount(0)
        self.best_label.setText("Best so far: no complete trial yet")
        if self.plots is not None:
            self.plots.clear()

    def _set_record(self, record: Any) -> None:
        self.records[record.number] = record
        row = self._rows.get(record.number)
        if row is None:
            row = self.trials_table.rowCount()
            self.trials_table.insertRow(row)
            self._rows[record.number] = row
            for col in range(len(TRIAL_COLUMNS)):
                self.trials_table.setItem(row, col, QTableWidgetItem())
        value = f"{record.value:.4g}" if record.value is not None else "–"
        took = f"{record.duration_s:.1f} s" if record.duration_s is not None else "–"
        state = STATE_TEXT.get(record.state, record.state)
        texts = (str(record.number), state, value, took, params_text(record.params))
        for col, text in enumerate(texts):
            self.trials_table.item(row, col).setText(text)
        tip = texts[4]
        if record.error:
            tip += f"\n{record.error}"
        elif record.run_dir:
            tip += f"\nrun folder: {record.run_dir}"
        for col in range(len(TRIAL_COLUMNS)):
            self.trials_table.item(row, col).setToolTip(tip)

    def _update_best(self) -> None:
        complete = [
            r for r in self.records.values() if r.state == "complete" and r.value is not None
        ]
        if not complete:
            self.best = None
            self.best_label.setText("Best so far: no complete trial yet")
        else:
            self.best = min(complete, key=lambda r: (r.value, r.number))
            self.best_label.setText(
                f"Best so far: trial {self.best.number}, value {self.best.value:.4g} — "
                f"{params_text(self.best.params)}"
            )
        self._update_buttons()

    # -- apply --------------------------------------------------------------------------------------

    def apply_best(self) -> bool:
        """Put the best complete trial's values into the design: one undo step."""
        if self.study is None:
            return False
        from engine.search import best_trial_design  # optuna: loaded by the search already

        try:
            better = best_trial_design(self.study, self.document.design)
            n = push_design_values(
                self.document, better, f"Apply best search trial {self.best.number}"
            )
        except (DeepwireError, ValueError) as exc:
            self._status(f"Not applied: {first_line(exc)}", ERROR_COLOUR)
            return False
        if n == 0:
            self._status("The design already has the best trial's values.", None)
        else:
            self._status(f"Applied the best trial's {n} values (Undo puts them back).", OK_COLOUR)
        return True

    # -- state --------------------------------------------------------------------------------------

    def _status(self, text: str, colour: str | None) -> None:
        coloured(self.status_label, text, colour)

    @property
    def status_text(self) -> str:
        """The status line a user reads under the buttons ("" when hidden)."""
        return self.status_label.text() if not self.status_label.isHidden() else ""

    def _update_buttons(self, *_args: object) -> None:
        running = self.session.is_active
        elsewhere = None if running else self.busy_elsewhere()
        self.start_button.setEnabled(
            not running and elsewhere is None and self.space_table.rowCount() > 0
        )
        self.start_button.setToolTip(elsewhere or "Run the study: each trial trains a copy")
        self.stop_button.setEnabled(running and self.session.state != "stopping")
        self.add_button.setEnabled(self.add_combo.count() > 0)
        self.remove_button.setEnabled(self.space_table.selected_key() is not None)
        self.apply_button.setEnabled(
            not running and self.study is not None and self.best is not None
        )
        for w in (self.trials_spin, self.timeout_spin, self.storage_edit, self.study_edit):
            w.setEnabled(not running)
