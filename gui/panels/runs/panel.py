"""The Runs panel: every run of the open design (the run store of :mod:`engine.runs`), newest
first, sortable and filterable; rename, note, star, delete (to the trash, after asking), add a
run folder by hand, restore a run's settings into the design (one undo step), open a run's
design; select two or more runs to compare their curves and settings.

The store is read off the GUI thread (:class:`gui.workers.BackgroundCall`): a design with
hundreds of runs never stalls the window. The window refreshes the list when a run starts or
ends, when a design is opened or saved, and the Refresh button does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelection, QItemSelectionModel, QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSplitter,
    QTableView,
    QTabWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from engine.errors import DeepwireError, first_line
from engine.graph import Design
from engine.io import dumps, load_design, loads
from engine.runs import SNAPSHOT, RunRecord, RunStore, design_changed_since, store_for
from gui.commands import ReplaceSection
from gui.document import Document
from gui.panels.runs.compare_table import CompareTable
from gui.panels.runs.model import ROW_ROLE, STARTED, RunRow, RunsFilter, RunsModel
from gui.plots.compare import ComparePlots
from gui.widgets import ERROR_COLOUR, coloured
from gui.workers import BackgroundCall

#: While a listed run is running, the list is read again this often (ms) when the panel shows.
LIVE_REFRESH_MS = 3000
#: Design edits are let settle this long (ms) before the "Changed" column is worked out again.
EDIT_SETTLE_MS = 400
#: The widest a column is made to fit its texts (px).
MAX_COLUMN_PX = 240
#: The runs table's least height (about one row under the header; it scrolls).
MIN_TABLE_HEIGHT = 48


def list_rows(store: RunStore, design: Design) -> list[RunRow]:
    """Every run of ``store`` with what differs from ``design`` (runs off the GUI thread)."""
    rows = []
    for run in store.list_runs():
        row = RunRow(run)
        if run.status != "unreadable":
            try:
                row.diff = run.settings_diff(design)
                row.design_changed = design_changed_since(run, design)
            except Exception:  # noqa: BLE001, S110 - a run's odd settings never hide the list
                pass
        rows.append(row)
    return rows


class RunsPrompts:
    """The questions the panel asks; tests substitute their own answers."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def ask_name(self, current: str) -> str | None:
        """A new name for the run called ``current`` (None: cancelled)."""
        text, ok = QInputDialog.getText(
            self.parent, "Rename run", "New name of the run's folder:", text=current
        )
        return text if ok else None

    def ask_note(self, name: str, current: str) -> str | None:
        """The note on run ``name`` (its ``current`` one to edit; None: cancelled)."""
        text, ok = QInputDialog.getMultiLineText(
            self.parent, "Note", f"Note on run {name}:", current
        )
        return text if ok else None

    def confirm_delete(self, names: list[str]) -> bool:
        """Whether to move the runs called ``names`` to the trash (the dialog names them)."""
        listed = "\n".join(f"  {n}" for n in names[:10]) + (
            f"\n  … and {len(names) - 10} more" if len(names) > 10 else ""
        )
        what = f"run {names[0]}" if len(names) == 1 else f"these {len(names)} runs"
        answer = QMessageBox.question(
            self.parent,
            "Delete runs" if len(names) > 1 else "Delete run",
            f"Move {what} to the trash?\n\n{listed}\n\n"
            "Its checkpoints and metrics go with it; the system trash can put them back.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Yes

    def choose_folder(self, start: str) -> Path | None:
        """A run folder to add (None: cancelled)."""
        path = QFileDialog.getExistingDirectory(self.parent, "Add a run folder", start)
        return Path(path) if path else None


class RunsPanel(QWidget):
    """The runs of ``document``'s design under the run folder ``root()`` gives (None: runs are
    not kept, the panel says so)."""

    statusMessage = Signal(str)
    #: "Open as design": the run's design snapshot (a Design) and the run's name.
    openDesignRequested = Signal(object, str)

    def __init__(
        self,
        document: Document,
        root: Callable[[], Path | None] | Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self._root = root
        self.prompts = RunsPrompts(self)
        self._call: BackgroundCall | None = None
        self._pending = False
        self._stale = True  # the list has not been read since the design changed
        self._select_next: set[str] | None = None  # selected once the list is read again
        self._sized = False  # the columns were fitted to their texts once
        self._expect_running = False  # a run started here and is not listed yet
        self._compared: list[RunRecord] = []
        self._build_actions()
        self._build_ui()
        self._live = QTimer(self)
        self._live.setInterval(LIVE_REFRESH_MS)
        self._live.timeout.connect(self._live_refresh)
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(EDIT_SETTLE_MS)
        self._settle.timeout.connect(self.refresh)
        document.designReset.connect(self.refresh)
        document.pathChanged.connect(self.refresh)
        # any edit (settings, layers) may change the Changed column: read again once edits pause
        # (bound methods, not lambdas: Qt drops them with the panel, which the document outlives)
        document.undo_stack.indexChanged.connect(self._on_edited)
        document.modifiedChanged.connect(self._on_modified)
        self._update_actions()

    def _on_edited(self, _index: int) -> None:
        """An edit, undo or redo: read the runs again once edits pause."""
        self._settle.start()

    def _on_modified(self, modified: bool) -> None:
        """Saved (no longer modified): read the runs again once edits pause."""
        if not modified:
            self._settle.start()

    # -- construction ----------------------------------------------------------------------------

    def _action(self, text: str, slot, tip: str, shortcut: str | None = None) -> QAction:
        action = QAction(text, self)
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(lambda _c=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.refresh_action = self._action(
            "Refresh", self.refresh, "Read the run folders again", "F5"
        )
        self.add_action = self._action(
            "Add Folder…", self.add_folder, "Add a run folder from elsewhere (train --out)"
        )
        self.star_action = self._action("Star", self.toggle_star, "Star or unstar the runs", "S")
        self.rename_action = self._action("Rename…", self.rename, "Rename the run's folder", "F2")
        self.note_action = self._action("Note…", self.edit_note, "Keep a note with the run")
        self.delete_action = self._action(
            "Delete…", self.delete, "Move the runs to the system trash (asks first)", "Del"
        )
        self.restore_action = self._action(
            "Restore Settings",
            self.restore_settings,
            "Put the run's training and data settings into the open design (one undo step)",
        )
        self.open_action = self._action(
            "Open as Design", self.open_as_design, "Open the design this run trained"
        )

    def _build_ui(self) -> None:
        """The filter and actions over the runs table, the comparison under it."""
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(self._build_top())
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.hide()
        layout.addWidget(self.error_label)
        self._build_table()
        compare = self._build_compare()
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(compare)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.compare_hint)

    def _build_top(self) -> QHBoxLayout:
        """The filter box, the actions and the count of runs shown."""
        top = QHBoxLayout()
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter runs")
        self.filter_edit.setToolTip("Show the runs whose name, status or note hold these words")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(120)
        self.filter_edit.setMaximumWidth(220)
        top.addWidget(self.filter_edit)
        bar = QToolBar()
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addActions([self.refresh_action, self.add_action])
        bar.addSeparator()
        bar.addActions([self.star_action, self.rename_action, self.note_action, self.delete_action])
        bar.addSeparator()
        bar.addActions([self.restore_action, self.open_action])
        self.toolbar = bar
        top.addWidget(bar, 1)
        self.count_label = QLabel()
        top.addWidget(self.count_label)
        return top

    def _build_table(self) -> None:
        """The sortable, filterable table of runs."""
        self.model = RunsModel(self)
        self.proxy = RunsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.table = QTableView()
        self.table.setObjectName("runs_table")
        # the bottom docks share one height: a short one (the Problems height) scrolls the table
        # rather than making every bottom tab taller
        self.table.setMinimumHeight(MIN_TABLE_HEIGHT)
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(STARTED, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.setHighlightSections(False)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.clicked.connect(self._on_clicked)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.filter_edit.textChanged.connect(self._on_filter)

    def _build_compare(self) -> QScrollArea:
        """The comparison of the selected runs (curves; settings and metrics), hidden until two
        runs are selected."""
        self.compare_plots = ComparePlots()
        self.compare_table = CompareTable()
        self.only_diff = QCheckBox("Only settings that differ")
        self.only_diff.toggled.connect(
            lambda on: self.compare_table.set_only_differences(on, self._compared)
        )
        side = QWidget()
        side_layout = QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        side_layout.addWidget(self.only_diff)
        side_layout.addWidget(self.compare_table, 1)
        compare = QTabWidget()  # each view gets the dock's full width
        compare.setObjectName("runs_compare")
        compare.setDocumentMode(True)
        compare.addTab(self.compare_plots, "Curves")
        compare.addTab(side, "Settings and metrics")
        self.compare_tabs = compare
        self.compare_hint = QLabel("Select two or more runs (Ctrl+click) to compare them")
        self.compare_hint.setEnabled(False)  # greyed: a hint, not a message
        scroll = QScrollArea()  # a narrow dock scrolls the comparison rather than squash it
        scroll.setObjectName("runs_compare_area")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(compare)
        scroll.hide()  # until two runs are selected
        self.compare_area = scroll
        return scroll

    # -- the store -------------------------------------------------------------------------------

    def root(self) -> Path | None:
        """The run folder the runs live in (the training panel's), or None."""
        root = self._root() if callable(self._root) else self._root
        return Path(root) if root is not None else None

    def set_root(self, root: Callable[[], Path | None] | Path | None) -> None:
        """List the runs under ``root`` (a folder, or a callable giving it) from now on."""
        self._root = root
        self.refresh()

    def store(self) -> RunStore | None:
        """The open design's run store (None: runs are not kept)."""
        root = self.root()
        if root is None:
            return None
        doc = self.document
        return store_for(doc.path, doc.design.name, root=root)

    @property
    def up_to_date(self) -> bool:
        """True when the list shows the run folders as last read, with no read running or due."""
        return not (self._stale or self._pending or self.loading or self._settle.isActive())

    @property
    def loading(self) -> bool:
        """True while the run folders are being read."""
        return self._call is not None and self._call.running

    @Slot()
    def refresh(self) -> None:
        """Read the open design's runs again (off the GUI thread); the selection stays."""
        self._settle.stop()
        if not self.isVisible():
            self._stale = True  # read when the panel is shown (showEvent)
            return
        self._stale = False
        store = self.store()
        if store is None:
            self.model.set_rows([])
            self.count_label.setText("Runs are not kept")
            self.count_label.setToolTip("This window has no run folder (no data folder)")
            self._update_actions()
            return
        if self.loading:
            self._pending = True  # once the current read ends
            return
        self._pending = False
        design = loads(dumps(self.document.design))  # the worker reads a copy
        self.count_label.setText("Reading runs…")
        self._call = BackgroundCall(
            list_rows, store, design, parent=self, name="deepwire-runs-list"
        )
        self._call.done.connect(self._on_listed)
        self._call.start()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self._stale:
            QTimer.singleShot(0, self, self.refresh)

    def run_started(self) -> None:
        """A run started in the window: read the list until it shows the run, and while it runs
        (its folder appears once its data is ready)."""
        self._expect_running = True
        self._live.start()
        self.refresh()

    def run_ended(self) -> None:
        """The window's run ended: its final status."""
        self._expect_running = False
        self.refresh()

    def _size_columns(self) -> None:
        """Fit the columns to the first runs listed (each at most :data:`MAX_COLUMN_PX`); the
        user's widths stay after that."""
        self._sized = True
        self.table.resizeColumnsToContents()
        for column in range(self.model.columnCount()):
            width = self.table.columnWidth(column)
            self.table.setColumnWidth(column, min(width + 8, MAX_COLUMN_PX))

    def _live_refresh(self) -> None:
        if self.isVisible() and not self.loading:
            self.refresh()

    @Slot(object, object)
    def _on_listed(self, rows: list[RunRow] | None, error: str | None) -> None:
        selected = self._select_next or set(self.selected_names())
        self._select_next = None
        if error is not None:
            self.show_error(f"Cannot read the runs: {error}")
            rows = []
        self.model.set_rows(rows or [])
        if rows and not self._sized:
            self._size_columns()
        self._reselect(selected)
        n = len(rows or [])
        self.count_label.setText(f"{n} run{'s' if n != 1 else ''}")
        self.count_label.setToolTip(str(self.root() or ""))
        running = any(r.run.status == "running" for r in rows or [])
        if running:
            self._expect_running = False  # the new run is listed
        running = running or self._expect_running
        if running and not self._live.isActive():
            self._live.start()
        elif not running:
            self._live.stop()
        self._update_actions()
        self._update_compare()
        if self._pending:
            self.refresh()

    def shutdown(self, timeout: float = 5.0) -> bool:
        """Stop reading (window close); True when no read is left running."""
        self._live.stop()
        self._settle.stop()
        if self._call is not None:
            self._call.cancel()
            return self._call.wait(timeout)
        return True

    # -- rows and selection ----------------------------------------------------------------------

    def rows(self) -> list[RunRow]:
        """The rows as shown (sorted and filtered), top to bottom."""
        return [
            self.proxy.data(self.proxy.index(r, 0), ROW_ROLE) for r in range(self.proxy.rowCount())
        ]

    def row_texts(self, column: int) -> list[str]:
        """A column's texts as shown, top to bottom."""
        return [self.proxy.index(r, column).data() for r in range(self.proxy.rowCount())]

    def selected(self) -> list[RunRecord]:
        """The selected runs, in the table's order."""
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.data(self.proxy.index(r, 0), ROW_ROLE).run for r in rows]

    def selected_names(self) -> list[str]:
        """The selected runs' names, in the table's order."""
        return [r.name for r in self.selected()]

    def select(self, names: list[str]) -> None:
        """Select the runs called ``names`` (tests, and the selection kept across refreshes)."""
        self._reselect(set(names))

    def _reselect(self, names: set[str]) -> None:
        selection = QItemSelection()
        last = self.proxy.columnCount() - 1
        for r in range(self.proxy.rowCount()):
            index = self.proxy.index(r, 0)
            if self.proxy.data(index, ROW_ROLE).name in names:
                selection.select(index, self.proxy.index(r, last))
        # one change, so the comparison is drawn once, not once per run
        self.table.selectionModel().select(
            selection, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )

    def _on_filter(self, text: str) -> None:
        self.proxy.set_text(text)
        self._update_compare()

    def _on_selection(self, *_args: Any) -> None:
        self._update_actions()
        self._update_compare()

    def _on_clicked(self, index) -> None:
        if index.column() == 0:  # the star column toggles
            run = self.proxy.data(index, ROW_ROLE).run
            self._set_stars([run], not run.star)

    def _update_actions(self) -> None:
        runs = self.selected()
        one = len(runs) == 1
        not_running = bool(runs) and all(r.status != "running" for r in runs)
        has_store = self.root() is not None
        self.refresh_action.setEnabled(has_store)
        self.add_action.setEnabled(has_store)
        self.star_action.setEnabled(bool(runs))
        self.rename_action.setEnabled(one and not_running)
        self.note_action.setEnabled(one)
        self.delete_action.setEnabled(not_running)
        snap = one and runs[0].snapshot is not None
        self.restore_action.setEnabled(snap)
        self.open_action.setEnabled(snap)
        if one and runs[0].star:
            self.star_action.setText("Unstar")
        else:
            self.star_action.setText("Star")

    def _update_compare(self) -> None:
        runs = self.selected() if len(self.selected()) >= 2 else []
        self._compared = runs
        self.compare_plots.set_runs(runs)
        self.compare_table.set_runs(runs)
        self.compare_area.setVisible(bool(runs))
        self.compare_hint.setVisible(not runs)

    def _context_menu(self, pos: QPoint) -> None:
        index = self.table.indexAt(pos)
        if index.isValid() and not self.table.selectionModel().isRowSelected(index.row()):
            self.table.selectRow(index.row())
        menu = QMenu(self)
        menu.addActions([self.star_action, self.rename_action, self.note_action])
        menu.addSeparator()
        menu.addActions([self.restore_action, self.open_action])
        menu.addSeparator()
        menu.addAction(self.delete_action)
        menu.addSeparator()
        menu.addActions([self.add_action, self.refresh_action])
        self.context_menu = menu
        menu.popup(self.table.viewport().mapToGlobal(pos))

    # -- messages --------------------------------------------------------------------------------

    def show_error(self, message: str) -> None:
        """One line in red above the table (and on the status bar)."""
        coloured(self.error_label, message, ERROR_COLOUR)
        self.statusMessage.emit(message)

    def _clear_error(self) -> None:
        coloured(self.error_label, "")

    def _done(self, message: str) -> None:
        self._clear_error()
        self.statusMessage.emit(message)
        self.refresh()

    # -- actions ---------------------------------------------------------------------------------

    def _one(self) -> RunRecord | None:
        runs = self.selected()
        return runs[0] if len(runs) == 1 else None

    def _store_or_error(self) -> RunStore | None:
        store = self.store()
        if store is None:
            self.show_error("Runs are not kept in this window (it has no run folder)")
        return store

    def rename(self) -> bool:
        """Ask for a new name and rename the selected run's folder."""
        run, store = self._one(), self._store_or_error()
        if run is None or store is None:
            return False
        name = self.prompts.ask_name(run.name)
        if name is None or name.strip() == run.name:
            return False
        try:
            renamed = store.rename(run, name)
        except (DeepwireError, OSError) as exc:
            self.show_error(f"Not renamed: {first_line(exc)}")
            return False
        self._select_next = {renamed.name}
        self._done(f"Renamed {run.name} to {renamed.name}")
        return True

    def edit_note(self) -> bool:
        """Ask for the selected run's note and keep it with the run."""
        run, store = self._one(), self._store_or_error()
        if run is None or store is None:
            return False
        note = self.prompts.ask_note(run.name, run.note)
        if note is None or note == run.note:
            return False
        try:
            store.set_note(run, note)
        except (DeepwireError, OSError) as exc:
            self.show_error(f"Note not kept: {first_line(exc)}")
            return False
        self._done(f"Kept the note on {run.name}")
        return True

    def toggle_star(self) -> None:
        """Star the selected runs (unstar them when every one is starred)."""
        runs = self.selected()
        if runs:
            self._set_stars(runs, not all(r.star for r in runs))

    def _set_stars(self, runs: list[RunRecord], star: bool) -> None:
        store = self._store_or_error()
        if store is None:
            return
        try:
            for run in runs:
                store.set_star(run, star)
                run.star = star
        except (DeepwireError, OSError) as exc:
            self.show_error(f"Not starred: {first_line(exc)}")
            return
        self.model.rows_changed()
        self._done(f"{'Starred' if star else 'Unstarred'} {len(runs)} run(s)")

    def delete(self) -> bool:
        """Ask, then move the selected runs to the system trash."""
        runs, store = self.selected(), self._store_or_error()
        if not runs or store is None:
            return False
        if not self.prompts.confirm_delete([r.name for r in runs]):
            return False
        done = 0
        for run in runs:
            try:
                store.delete(run)
            except (DeepwireError, OSError) as exc:
                self.show_error(f"Not deleted: {first_line(exc)}")
                self.refresh()
                return False
            done += 1
        self._done(f"Moved {done} run{'s' if done != 1 else ''} to the trash")
        return True

    def add_folder(self) -> bool:
        """Ask for a run folder (e.g. one ``train --out`` wrote) and add it to the store."""
        store = self._store_or_error()
        if store is None:
            return False
        path = self.prompts.choose_folder(str(store.root))
        if path is None:
            return False
        try:
            run = store.add_run(path)
        except (DeepwireError, OSError) as exc:
            self.show_error(f"Not added: {first_line(exc)}")
            return False
        self._done(f"Added run {run.name}")
        return True

    def restore_settings(self) -> bool:
        """Put the selected run's training and data settings into the open design, as one
        undo step."""
        run = self._one()
        if run is None:
            return False
        snap = run.snapshot
        if snap is None:
            self.show_error(
                f"Run {run.name} kept no copy of its design ({SNAPSHOT}): nothing to restore"
            )
            return False
        doc = self.document
        changes = []
        for section in ("training", "data"):
            value = snap.get(section)
            if not isinstance(value, dict):
                continue
            if value != getattr(doc.design, section):
                changes.append((section, value))
        if not changes:
            self._clear_error()
            self.statusMessage.emit(f"The design has run {run.name}'s settings already")
            return False
        stack = doc.undo_stack
        stack.beginMacro(f"Restore settings of run {run.name}")
        for section, value in changes:
            stack.push(ReplaceSection(doc, section, value))
        stack.endMacro()
        self._clear_error()
        self.statusMessage.emit(f"Restored the settings of run {run.name} (Undo puts them back)")
        return True

    def open_as_design(self) -> bool:
        """Ask the window to open the design the selected run trained (its snapshot)."""
        run = self._one()
        if run is None:
            return False
        try:
            design = load_design(run.path / SNAPSHOT)
        except (DeepwireError, OSError) as exc:
            self.show_error(f"Cannot open run {run.name}'s design: {first_line(exc)}")
            return False
        self._clear_error()
        self.openDesignRequested.emit(design, run.name)
        return True
