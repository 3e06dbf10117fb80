"""The editor's main window: menus, toolbar, status bar, the canvas and the dockable panels.

The window owns one :class:`~gui.document.Document` for its whole life; New / Open / templates
replace the document's design (``Document.reset``) instead of building a new document, so every
panel keeps observing the same object. Questions to the user (save changes? restore? which file?)
go through a :class:`Prompts` object that tests replace.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QPaintEvent,
)
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMenuBar,
    QMessageBox,
    QTabBar,
    QTabWidget,
    QToolBar,
    QUndoView,
    QWidget,
)

from engine.errors import DesignFormatError, first_line
from engine.graph import Design
from engine.io import load_design
from engine.layers import REGISTRY
from engine.memory import design_estimate
from gui import formatting, gc_guard
from gui.canvas import CanvasView
from gui.canvas.blocks import BlockCanvas
from gui.document import Document, new_design
from gui.icons import app_icon, icon
from gui.panels.data import DataPanel
from gui.panels.gallery import TemplateGallery
from gui.panels.inspector import InspectorPanel
from gui.panels.palette import PalettePanel
from gui.panels.problems import ProblemsPanel
from gui.panels.runs import RunsPanel
from gui.panels.search import SearchPanel
from gui.panels.training import TrainingPanel
from gui.plots import TrainingPlots
from gui.plots.search import SearchPlots
from gui.recovery import Recovered, RecoveryStore
from gui.settings import SET_ASIDE_PROPERTY, RecentFiles
from gui.summary import summary_of
from gui.torch_loader import torch_loader
from gui.widgets import ERROR_COLOUR
from resources import TEMPLATES, template_path

AUTOSAVE_MS = 60_000
#: The right docks' width at first start: 300 pixels of panel beside their tabs.
RIGHT_DOCK_WIDTH = 326
# The training layout gives the plots this share of the window's height, or more when their
# grid needs it (its minimum plus the dock's title and tab bars), but never more than the cap.
TRAINING_PLOTS_SHARE, TRAINING_PLOTS_CAP, DOCK_CHROME = 0.45, 0.6, 50
SEARCH_PANEL_WIDTH = 500  # a running search widens the Search panel to show its tables
EVALUATE_PANEL_WIDTH = 480  # an evaluation widens the Evaluate panel: the worst-samples table
STATE_VERSION = 1
DESIGN_FILTER = "Deepwire designs (*.json);;All files (*)"


class Prompts:
    """Every question the window asks the user, as dialogs; tests substitute their own answers."""

    def __init__(self, parent: QWidget) -> None:
        self.parent = parent

    def ask_save_changes(self, name: str) -> str:
        """``"save"``, ``"discard"`` or ``"cancel"`` for a modified document called ``name``."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Unsaved changes",
            f"Save the changes to {name}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            self.parent,
        )
        box.setInformativeText("Your changes are lost if you don't save them.")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        answer = box.exec()
        return {
            QMessageBox.StandardButton.Save: "save",
            QMessageBox.StandardButton.Discard: "discard",
        }.get(QMessageBox.StandardButton(answer), "cancel")

    def show_error(self, title: str, message: str) -> None:
        """Tell the user that something failed (one line: what, where, how to fix)."""
        QMessageBox.warning(self.parent, title, message)

    def ask_restore(self, recovered: Recovered) -> bool:
        """Whether to restore an autosaved design left by an editor that did not exit cleanly."""
        answer = QMessageBox.question(
            self.parent,
            "Restore unsaved work?",
            f"Deepwire did not close cleanly last time. Restore the autosaved design "
            f"{recovered.describe()}?\n\nIf you choose No, the autosave is deleted.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.Yes,
        )
        return answer == QMessageBox.StandardButton.Yes

    def choose_open_path(self, directory: str) -> Path | None:
        """A design file to open, or None."""
        path, _ = QFileDialog.getOpenFileName(self.parent, "Open design", directory, DESIGN_FILTER)
        return Path(path) if path else None

    def choose_save_path(self, suggested: str) -> Path | None:
        """Where to save, or None."""
        path, _ = QFileDialog.getSaveFileName(
            self.parent, "Save design as", suggested, DESIGN_FILTER
        )
        if not path:
            return None
        p = Path(path)
        return p if p.suffix else p.with_suffix(".json")

    def choose_template(self) -> str | None:
        """A template stem from the gallery, or None."""
        gallery = TemplateGallery(self.parent)
        try:
            return (
                gallery.chosen() if gallery.exec() == TemplateGallery.DialogCode.Accepted else None
            )
        finally:
            gallery.deleteLater()


class MainWindow(QMainWindow):
    """Deepwire's editor window around one document.

    ``settings`` (None: nothing persists) stores geometry, dock layout and recent files;
    ``recovery`` (None: no autosave) receives the autosaves; ``prompts`` asks the user.

    Nothing here imports torch: once the window has painted for the first time
    (:attr:`firstPainted`), PyTorch loads in the background (:mod:`gui.torch_loader`) and Train
    waits for it.
    """

    firstPainted = Signal()  # the window's first frame has been painted (once)

    def __init__(
        self,
        document: Document | None = None,
        *,
        settings: QSettings | None = None,
        recovery: RecoveryStore | None = None,
        prompts: Prompts | None = None,
        autosave_ms: int = AUTOSAVE_MS,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._painted = False
        gc_guard.hold(self)  # cycles are collected on this thread only while the window is open
        self.document = document if document is not None else Document(parent=self)
        self.settings = settings
        self.recovery = recovery
        self.prompts = prompts if prompts is not None else Prompts(self)
        self.recent = RecentFiles(settings)
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks
        )
        # Side panels run the full height; the problems list sits under the canvas only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        # Five panels share the right side (Inspector, Training, Data, Evaluate, Search): their
        # tabs run down its outer edge, where every name reads in full (along the bottom of a
        # 300-pixel dock they were cut to "Insp…", "Se…").
        self.setTabPosition(Qt.DockWidgetArea.RightDockWidgetArea, QTabWidget.TabPosition.East)

        self._build_panels()
        self._build_training()
        self._build_evaluate()
        self._build_search()
        self._build_runs()
        self._build_stepper()

        self._build_actions()
        self._build_menus()
        self._build_health()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()

        self._start_autosave(autosave_ms)

        self.resize(1400, 900)
        self.resizeDocks(
            [self.palette_dock, self.inspector_dock],
            [210, RIGHT_DOCK_WIDTH],
            Qt.Orientation.Horizontal,
        )
        self.resizeDocks([self.problems_dock], [130], Qt.Orientation.Vertical)
        self._default_state = self.saveState(STATE_VERSION)
        self._restore_settings()
        self._update_title()
        self._update_totals()

    # -- construction ------------------------------------------------------------------------

    def _build_panels(self) -> None:
        """The canvas and the side panels (layers, inspector, problems, history) in their docks."""
        # Created before the panels, so it is up to date when their slots read it.
        self.summary = summary_of(self.document)
        self.canvas = CanvasView(self.document, self)
        self.canvas.setObjectName("canvas")
        self.block_canvas = BlockCanvas(self.document, self.canvas, self)
        self.setCentralWidget(self.block_canvas)
        self.palette_panel = PalettePanel(self)
        self.inspector = InspectorPanel(self.document, self)
        self.problems = ProblemsPanel(self.document, self)
        self.history = QUndoView(self.document.undo_stack, self)
        self.history.setEmptyLabel("<opened design>")
        self.palette_dock = self._dock(
            "Layers", "palette", self.palette_panel, Qt.DockWidgetArea.LeftDockWidgetArea
        )
        self.inspector_dock = self._dock(
            "Inspector", "inspector", self.inspector, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.problems_dock = self._dock(
            "Problems", "problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.history_dock = self._dock(
            "History", "history", self.history, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.tabifyDockWidget(self.problems_dock, self.history_dock)
        self.problems_dock.raise_()

    def _work_docks(self) -> tuple[QDockWidget, ...]:
        """The docks of training, data, evaluation, search and runs (the View menu lists them
        after the editing panels; Reset Panel Layout puts them back too)."""
        return (
            self.training_dock,
            self.data_dock,
            self.plots_dock,
            self.evaluate_dock,
            self.search_dock,
            self.search_plots_dock,
            self.runs_dock,
            self.stepper_dock,
        )

    def _start_autosave(self, autosave_ms: int) -> None:
        """Autosave every ``autosave_ms`` while there is a recovery store."""
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(autosave_ms)
        self.autosave_timer.timeout.connect(self.autosave)
        if self.recovery is not None:
            self.autosave_timer.start()

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{name}_dock")
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            | QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        self.addDockWidget(area, dock)
        return dock

    def _action(
        self,
        text: str,
        slot,
        shortcut: QKeySequence | str | None = None,
        icon_name: str | None = None,
        tip: str = "",
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon_name:
            action.setIcon(icon(icon_name))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def _build_actions(self) -> None:
        std = QKeySequence.StandardKey
        self.new_action = self._action(
            "&New", self.new_design, std.New, "new", "Start an empty design"
        )
        self.template_action = self._action(
            "New from &Template…",
            self.new_from_template,
            "Ctrl+Shift+N",
            "template",
            "Start from one of the seven family templates",
        )
        self.open_action = self._action(
            "&Open…", self.open_design, std.Open, "open", "Open a design file"
        )
        self.save_action = self._action("&Save", self.save, std.Save, "save", "Save the design")
        self.save_as_action = self._action(
            "Save &As…", self.save_as, std.SaveAs, None, "Save the design to a new file"
        )
        self.export_action = self._action(
            "&Export Trained Model…",
            self.show_export_dialog,
            "Ctrl+E",
            None,
            "Export the trained model as ONNX, .pt2, safetensors or PyTorch code",
        )
        self.import_action = self._action(
            "&Import PyTorch Model…",
            self.show_import_dialog,
            None,
            None,
            "Turn a PyTorch model (.py or .pt2) into an editable design",
        )
        self.quit_action = self._action("&Quit", self.close, std.Quit, None, "Close Deepwire")
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)

        stack = self.document.undo_stack
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts(QKeySequence.keyBindings(std.Undo))
        self.undo_action.setIcon(icon("undo"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.setIcon(icon("redo"))

        self.reset_layout_action = self._action("Reset Panel Layout", self.reset_panels)
        self.shortcuts_action = self._action(
            "&Keyboard Shortcuts", self.show_shortcuts, std.HelpContents
        )
        self.about_action = self._action("&About Deepwire", self.show_about)
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)

        # The canvas owns the editing and view actions (their shortcuts act while it has focus,
        # so Delete in a text field never deletes layers); the menus and toolbar show them.
        canvas = self.canvas
        canvas.zoom_in_action.setIcon(icon("zoom-in"))
        canvas.zoom_out_action.setIcon(icon("zoom-out"))
        canvas.fit_action.setIcon(icon("fit"))
        canvas.auto_layout_action.setIcon(icon("layout"))
        canvas.delete_action.setIcon(icon("delete"))

    def _build_menus(self) -> None:
        """The menu bar: File, Edit, View, Layout, Train and Help."""
        bar = self.menuBar()
        self._build_file_menu(bar)
        self._build_edit_menu(bar)
        canvas = self.canvas
        view_menu = bar.addMenu("&View")
        view_menu.addActions([canvas.zoom_in_action, canvas.zoom_out_action, canvas.fit_action])
        view_menu.addSeparator()
        for dock in (self.palette_dock, self.inspector_dock, self.problems_dock, self.history_dock):
            view_menu.addAction(dock.toggleViewAction())
        self.view_menu = view_menu

        layout_menu = bar.addMenu("&Layout")
        layout_menu.addActions([canvas.auto_layout_action, canvas.snap_action])
        layout_menu.addSeparator()
        layout_menu.addAction(self.reset_layout_action)

        train_menu = bar.addMenu("&Train")
        panel = self.training_panel
        train_menu.addActions(
            [panel.train_action, panel.pause_action, panel.stop_action, panel.resume_action]
        )
        train_menu.addSeparator()
        train_menu.addAction(self.stepper_panel.step_action)
        self.train_menu = train_menu
        for dock in self._work_docks():
            view_menu.addAction(dock.toggleViewAction())

        help_menu = bar.addMenu("&Help")
        help_menu.addActions([self.shortcuts_action, self.about_action])

    def _build_file_menu(self, bar: QMenuBar) -> None:
        """New, templates, open (and recent), save, import/export and quit."""
        file_menu = bar.addMenu("&File")
        file_menu.addActions([self.new_action, self.template_action, self.open_action])
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([self.save_action, self.save_as_action])
        file_menu.addSeparator()
        file_menu.addActions([self.import_action, self.export_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

    def _build_edit_menu(self, bar: QMenuBar) -> None:
        """Undo/redo, the canvas's clipboard and selection actions, and find."""
        edit_menu = bar.addMenu("&Edit")
        edit_menu.addActions([self.undo_action, self.redo_action])
        edit_menu.addSeparator()
        canvas = self.canvas
        edit_menu.addActions(
            [
                canvas.cut_action,
                canvas.copy_action,
                canvas.paste_action,
                canvas.duplicate_action,
                canvas.delete_action,
            ]
        )
        edit_menu.addSeparator()
        edit_menu.addAction(canvas.select_all_action)
        edit_menu.addSeparator()
        edit_menu.addActions(self.block_canvas.block_actions())
        edit_menu.addSeparator()
        find = self._action(
            "Find &Layer Type…",
            self._focus_palette_search,
            std_find(),
            None,
            "Search the layer palette",
        )
        edit_menu.addAction(find)

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("main_toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        bar.addActions([self.new_action, self.template_action, self.open_action, self.save_action])
        bar.addSeparator()
        canvas = self.canvas
        bar.addActions([self.undo_action, self.redo_action, canvas.delete_action])
        bar.addSeparator()
        bar.addActions(
            [
                canvas.zoom_in_action,
                canvas.zoom_out_action,
                canvas.fit_action,
                canvas.auto_layout_action,
            ]
        )
        bar.addSeparator()
        panel = self.training_panel
        bar.addActions([panel.train_action, panel.pause_action, panel.stop_action])
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self.view_menu.addAction(bar.toggleViewAction())
        self.toolbar = bar

    def _show_device(self) -> None:
        self.device_label.setText(training_device())

    def _build_status_bar(self) -> None:
        status = self.statusBar()
        self.validity_label = QLabel()
        self.params_label = QLabel()
        self.macs_label = QLabel()
        self.memory_label = QLabel()
        self.train_memory_label = QLabel()
        self.device_label = QLabel("Device: loading PyTorch…")
        self.device_label.setToolTip("The device training would use")
        loader = torch_loader()
        if loader.is_ready():
            self._show_device()
        else:  # asking torch which device it has waits until it has loaded in the background
            loader.ready.connect(self._show_device)
        self.params_label.setToolTip("Trainable parameters of every network")
        self.macs_label.setToolTip("Multiply-accumulate operations per sample (forward pass)")
        self.memory_label.setToolTip("Activation memory per sample (float32, forward pass)")
        for label in (
            self.validity_label,
            self.params_label,
            self.train_memory_label,
            self.macs_label,
            self.memory_label,
            self.device_label,
        ):
            label.setContentsMargins(6, 0, 6, 0)
            status.addPermanentWidget(label)

    def _connect(self) -> None:
        doc = self.document
        doc.modifiedChanged.connect(self._on_modified_changed)
        doc.pathChanged.connect(self._on_path_changed)
        doc.designReset.connect(self._on_design_reset)
        doc.sectionChanged.connect(self._on_section_changed)
        self.summary.changed.connect(self._update_totals)
        self.palette_panel.layerActivated.connect(self.add_layer)
        self.problems.nodeRequested.connect(self.reveal_node)
        self.problems.sectionRequested.connect(self._reveal_section)
        self.problems.countChanged.connect(self._on_problem_count)
        self.canvas.selectionChangedIds.connect(self.inspector.show_selection)
        self.canvas.statusMessage.connect(self._show_status)
        self.canvas.statusKept.connect(self.statusBar().showMessage)  # stays until the next one
        self.inspector.errorShown.connect(self._show_refusal)
        self._connect_blocks()
        self.training_panel.statusMessage.connect(self._show_status)
        self.training_panel.exportRequested.connect(self.show_export_dialog)
        self._on_problem_count(len(self.summary.problems))

    # -- editing helpers ---------------------------------------------------------------------

    def add_layer(self, type_id: str) -> str:
        """Add a ``type_id`` layer (palette double-click / Enter); returns the new node id.

        With exactly one node selected the layer goes to its right, wired after it when the
        shapes allow; otherwise it lands at the centre of the view.
        """
        canvas = self.block_canvas.current_view()  # inside a block: add it there
        selected = canvas.selected_node_ids()
        node_id = canvas.add_layer(type_id)
        design = canvas.document.design
        if len(selected) == 1:
            wired = any(e.source == selected[0] for e in design.in_edges(node_id))
            self.statusBar().showMessage(
                f"Added {node_id} after {selected[0]}"
                if wired
                else f"Added {node_id}; not wired after {selected[0]} (its output does not fit)",
                6000,
            )
        else:
            self.statusBar().showMessage(f"Added {node_id}", 4000)
        canvas.setFocus()
        return node_id

    def _connect_blocks(self) -> None:
        """Block actions, the palette's library blocks, entering and leaving blocks."""
        blocks = self.block_canvas
        blocks.statusMessage.connect(self._show_status)
        blocks.refused.connect(self._show_refusal)
        blocks.levelChanged.connect(self._on_block_level)
        blocks.librarySaved.connect(self.palette_panel.refresh_blocks)
        self.palette_panel.blockActivated.connect(blocks.insert_library_block)

    def _on_block_level(self) -> None:
        """Entered or left a block: the inspector follows the view shown."""
        view = self.block_canvas.current_view()
        self.inspector.set_document(self.block_canvas.current_document())
        if view is not self.canvas:
            view.selectionChangedIds.connect(self.inspector.show_selection)
        self.inspector.show_selection(view.selected_node_ids())

    def reveal_node(self, node_id: str) -> None:
        """Select ``node_id`` and scroll the canvas to it (problems list clicks)."""
        self.block_canvas.go_to(0)
        if node_id in self.document.design:
            self.canvas.select_nodes([node_id])
            self.canvas.center_on_node(node_id)
            self.inspector.show_selection([node_id])

    def _reveal_section(self, section: str) -> None:
        """Bring the Data or Training panel forward (a problems row about that section)."""
        dock = self.data_dock if section == "data" else self.training_dock
        dock.show()
        dock.raise_()

    def _focus_palette_search(self) -> None:
        self.palette_dock.show()
        self.palette_dock.raise_()
        self.palette_panel.search.setFocus()
        self.palette_panel.search.selectAll()

    # -- files -------------------------------------------------------------------------------

    def display_name(self) -> str:
        """The file name, or "Untitled" for a design never saved."""
        path = self.document.path
        return path.name if path is not None else "Untitled"

    def maybe_save(self) -> bool:
        """Ask to save unsaved changes; False when the user cancels (or saving fails)."""
        if not self.document.modified:
            return True
        answer = self.prompts.ask_save_changes(self.display_name())
        if answer == "save":
            return self.save()
        return answer == "discard"

    def new_design(self) -> None:
        """Replace the design with an empty one that trains on the built-in digits once it has
        layers (after asking to save changes)."""
        if self.maybe_save():
            self._replace(new_design(), None)

    def new_from_template(self, stem: str | None = None) -> bool:
        """Start from a family template (the gallery asks which); the result is Untitled."""
        stem = stem or self.prompts.choose_template()
        if stem is None:
            return False
        try:
            design = load_design(template_path(stem))
        except DesignFormatError as exc:
            self.prompts.show_error("Cannot open the template", str(exc))
            return False
        if not self.maybe_save():
            return False
        self._replace(design, None)
        return True

    def open_design(self, path: str | Path | None = None) -> bool:
        """Open a design file (asks which when ``path`` is None); True when it opened.

        The file is read first: a file that fails to load shows the reason and leaves the current
        document as it was. Unsaved changes are offered for saving before it is replaced.
        """
        if path is None:
            path = self.prompts.choose_open_path(self._last_dir())
            if path is None:
                return False
        path = Path(path)
        try:
            design = load_design(path)
        except DesignFormatError as exc:
            self.prompts.show_error("Cannot open the design", str(exc))
            if not path.exists():
                self.recent.remove(path)
            return False
        if not self.maybe_save():
            return False
        self._replace(design, path)
        self.recent.add(path)
        self._remember_dir(path)
        return True

    def save(self) -> bool:
        """Save to the current file (asks where for a new design); False if not saved."""
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        """Ask for a file name and save there."""
        current = self.document.path
        suggested = (
            str(current)
            if current is not None
            else str(
                Path(self._last_dir()) / (formatting.file_stem(self.document.design.name) + ".json")
            )
        )
        path = self.prompts.choose_save_path(suggested)
        if path is None:
            return False
        return self._save_to(path)

    def _save_to(self, path: Path) -> bool:
        try:
            self.document.save(path)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.prompts.show_error(
                "Cannot save the design",
                f"{path}: cannot write the file ({reason}); choose another folder with Save As",
            )
            return False
        except Exception as exc:  # noqa: BLE001 - any failure is a dialog; the design stays open
            self.prompts.show_error("Cannot save the design", f"{path}: {first_line(exc)}")
            return False
        self.recent.add(path)
        self._remember_dir(path)
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def _replace(self, design: Design, path: Path | None) -> None:
        self.document.reset(design, path)
        if self.recovery is not None:
            self.recovery.discard()

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for i, path in enumerate(paths):
            action = self.recent_menu.addAction(f"&{(i + 1) % 10} {path.name}")
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _c=False, p=path: self.open_design(p))
        if not paths:
            self.recent_menu.addAction("No recent files").setEnabled(False)
        else:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear Menu", self.recent.clear)

    def _last_dir(self) -> str:
        if self.settings is not None:
            value = self.settings.value("files/last_dir", "")
            if value and Path(str(value)).is_dir():
                return str(value)
        return str(Path.home())

    def _remember_dir(self, path: Path) -> None:
        if self.settings is not None:
            self.settings.setValue("files/last_dir", str(Path(path).resolve().parent))

    # -- drag and drop of design files -----------------------------------------------------------

    @staticmethod
    def _dropped_design(event: QDragEnterEvent | QDropEvent) -> Path | None:
        mime = event.mimeData()
        if not mime.hasUrls():
            return None
        for url in mime.urls():
            if url.isLocalFile() and url.toLocalFile().lower().endswith(".json"):
                return Path(url.toLocalFile())
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if self._dropped_design(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802 - Qt's name
        if self._dropped_design(event) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        path = self._dropped_design(event)
        if path is None:
            event.ignore()
            return
        event.acceptProposedAction()
        # Open after the drop returns: a modal prompt inside a drop handler blocks the source.
        QTimer.singleShot(0, self, lambda: self.open_design(path))

    # -- autosave and recovery -----------------------------------------------------------------

    def autosave(self) -> Path | None:
        """Write the design to the recovery file if it has unsaved changes; returns the file."""
        if self.recovery is None or not self.document.modified:
            return None
        try:
            return self.recovery.save(self.document.design, self.document.path)
        except Exception as exc:  # noqa: BLE001 - runs on a timer: report, never raise
            self.statusBar().showMessage(f"Autosave failed: {first_line(exc)}", 8000)
            return None

    def offer_recovery(self) -> bool:
        """Offer the newest autosave of an editor that crashed; True when one was restored.

        Restored work keeps its original file name but stays marked modified until saved.
        Older autosaves are kept for the next start; a declined one is deleted.
        """
        try:
            return self._offer_recovery()
        finally:
            self._report_set_aside()

    def _offer_recovery(self) -> bool:
        if self.recovery is None:
            return False
        for recovered in self.recovery.orphans():
            try:
                design = recovered.load()
            except DesignFormatError as exc:  # damaged since it was listed: never fatal
                self.recovery.set_aside(recovered.file, str(exc))
                continue
            if not self.prompts.ask_restore(recovered):
                RecoveryStore.forget(recovered)
                return False
            self.document.reset(design, recovered.original_path)
            self.document.undo_stack.resetClean()  # differs from the file: modified
            RecoveryStore.forget(recovered)
            self.autosave()
            self.statusBar().showMessage("Restored the autosaved design; save it to keep it", 8000)
            return True
        return False

    def _report_set_aside(self) -> None:
        """Say once, in the status bar, which unreadable autosave or settings file was set aside
        (each is renamed ``*.corrupt-<time>``, so the next start does not see it again)."""
        lines = self.recovery.take_set_aside() if self.recovery is not None else []
        if self.settings is not None:
            note = self.settings.property(SET_ASIDE_PROPERTY)
            if note:
                lines.append(str(note))
                self.settings.setProperty(SET_ASIDE_PROPERTY, None)
        if lines:
            self.statusBar().showMessage("; ".join(lines), 15000)

    # -- window state ----------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        if self.settings is None:
            return
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state, STATE_VERSION)

    def save_window_state(self) -> None:
        """Store geometry and dock layout (done on close)."""
        if self.settings is None:
            return
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState(STATE_VERSION))
        self.settings.sync()

    def reset_panels(self) -> None:
        """Put every panel back where it starts."""
        self.restoreState(self._default_state, STATE_VERSION)
        editing = (self.palette_dock, self.inspector_dock, self.problems_dock, self.history_dock)
        for dock in (*editing, *self._work_docks()):
            dock.setFloating(False)
            dock.show()
        self.problems_dock.raise_()
        self.inspector_dock.raise_()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if not self._painted:
            self._painted = True
            QTimer.singleShot(0, self._after_first_paint)  # after the rest of this frame

    def _after_first_paint(self) -> None:
        """The window is on screen: load PyTorch now, in the background, and list the block
        library in the palette."""
        self.firstPainted.emit()
        torch_loader().start()
        self.palette_panel.refresh_blocks()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.maybe_save():
            event.ignore()
            return
        self.autosave_timer.stop()
        self.save_window_state()
        self.hide()  # the window goes at once; nothing here waits for a worker:
        self.training_panel.shutdown(0)  # a run is asked to stop (it writes its summary),
        self.data_panel.shutdown(0)  # a data preview to stop loading; gui.app waits (bounded)
        self.evaluate_panel.shutdown(0)  # an evaluation too
        self.search_panel.shutdown(0)  # a search to stop its trial; gui.app waits (bounded)
        self.runs_panel.shutdown(0)
        self.stepper_panel.shutdown(0)  # a step-through in progress
        if self.recovery is not None:
            self.recovery.discard()  # a clean exit leaves no recovery file
        gc_guard.release(id(self))
        event.accept()

    # -- status, title -----------------------------------------------------------------------

    def _update_title(self) -> None:
        """``file[*] — design name — Deepwire``; the design name only when it says more than
        the file name (a design never named is "Untitled": that is not shown twice)."""
        shown = self.display_name()
        name = self.document.design.name.strip()
        path = self.document.path
        same = name in ("", "Untitled", shown) or (path is not None and name == path.stem)
        self.setWindowTitle(f"{shown}[*] — Deepwire" if same else f"{shown}[*] — {name} — Deepwire")
        self.setWindowModified(self.document.modified)

    def _on_path_changed(self, _path: object) -> None:
        self._update_title()

    def _show_status(self, text: str) -> None:
        self.statusBar().showMessage(text, 6000)

    def _show_refusal(self, reason: str) -> None:
        self.statusBar().showMessage(f"Not applied: {reason}", 8000)

    def _on_modified_changed(self, modified: bool) -> None:
        self.setWindowModified(modified)
        if not modified and self.recovery is not None:
            self.recovery.discard()

    def _on_design_reset(self) -> None:
        self._update_title()
        self._update_totals()

    def _update_totals(self) -> None:
        totals = self.summary.totals
        if not self.summary.graph_valid:  # a sum over a broken graph would be a made-up number
            self.params_label.setText("Parameters: —")
            self.params_label.setToolTip(
                "Trainable parameters: counted once every layer's shape checks out (see Problems)"
            )
        else:
            self.params_label.setText(f"Parameters: {formatting.count(totals.params)}")
            self.params_label.setToolTip("Trainable parameters of every network")
        self.macs_label.setText(f"MACs: {formatting.short_count(totals.macs)}")
        self.memory_label.setText(f"Activations: {formatting.size(totals.activation_bytes)}/sample")
        self._update_training_memory()

    def _on_section_changed(self, _section: str) -> None:
        self._update_training_memory()  # batch size, optimizer or device changed

    def _update_training_memory(self) -> None:
        """The memory training would need (engine.memory) against the free memory, beside the
        parameter count; red when it does not fit."""
        estimate = design_estimate(self.document.design, self.document.analysis)
        label = self.train_memory_label
        label.setVisible(estimate is not None)
        if estimate is None:
            return
        if estimate.fits:
            free = (
                ""
                if estimate.available is None
                else f" of {formatting.size(estimate.available)} free"
            )
            label.setText(f"Training: {formatting.size(estimate.total)}{free}")
            label.setStyleSheet("")
        else:
            best = estimate.max_batch
            label.setText(
                f"Training: does not fit at batch {estimate.batch_size}"
                + (f"; at most {best}" if best else "")
            )
            label.setStyleSheet(f"color: {ERROR_COLOUR};")
        label.setToolTip(
            f"Memory to train, {estimate.summary()}:\n"
            f"parameters {formatting.size(estimate.parameters)}, gradients "
            f"{formatting.size(estimate.gradients)}, optimizer state ({estimate.optimizer}) "
            f"{formatting.size(estimate.optimizer_state)}, activations "
            f"{formatting.size(estimate.activations)} at batch {estimate.batch_size}\n"
            "(the dataset, kept on the device while training, comes on top)"
        )

    def _on_problem_count(self, count: int) -> None:
        self.problems_dock.setWindowTitle(f"Problems ({count})" if count else "Problems")
        self.validity_label.setText(
            "✔ Valid" if count == 0 else f"⚠ {count} problem{'s' if count != 1 else ''}"
        )

    def prepare_screenshot(self) -> None:
        """Select the design's first trainable layer (so the inspector has content) and frame
        the design the way the editor does when it opens (``CanvasView.fit``)."""
        design = self.document.design
        for node_id in self.document.analysis.topological_order():
            node_type = design.node(node_id).type
            if (
                node_type in REGISTRY
                and REGISTRY.get(node_type).category not in ("Input / Output", "Activation")
                and REGISTRY.get(node_type).params
            ):
                self.canvas.select_nodes([node_id])
                self.inspector.show_selection([node_id])
                break
        self.canvas.fit()  # frames every node and wire at a readable zoom

    # -- export and import -----------------------------------------------------------------------

    def show_export_dialog(self):
        """File → Export Trained Model…: the export dialog, window-modal; returns it."""
        from gui.panels.export_dialog import ExportDialog

        panel = self.training_panel
        dialog = ExportDialog(
            self.document,
            runs_dir=panel.runs_dir,
            last_run=panel.last_out_dir,
            directory=self._last_dir(),
            parent=self,
        )
        dialog.exported.connect(lambda result: self._show_status(result.summary()))
        self._replace_dialog("export_dialog", dialog)
        return dialog

    def show_import_dialog(self):
        """File → Import PyTorch Model…: the import dialog, window-modal; returns it. A
        successful import opens the new design (asking to save unsaved changes first)."""
        from gui.panels.import_dialog import ImportDialog

        dialog = ImportDialog(directory=self._last_dir(), open_path=self.document.path, parent=self)
        # after the dialog has closed: the save prompt must not stack on top of it
        dialog.imported.connect(
            lambda result: QTimer.singleShot(0, self, lambda: self._open_imported(result))
        )
        self._replace_dialog("import_dialog", dialog)
        return dialog

    def _replace_dialog(self, name: str, dialog: QWidget) -> None:
        old = getattr(self, name, None)
        if old is not None:
            old.shutdown()
            old.deleteLater()
        setattr(self, name, dialog)
        dialog.open()

    def _open_imported(self, result) -> None:
        if self.open_design(result.design_path):
            self._show_status(
                f"Imported {result.design_path.name}; its weights are in "
                f"{result.checkpoint_path.name} (File → Export uses them)"
            )
        else:
            self._show_status(f"Imported to {result.design_path}; not opened")

    # -- training ----------------------------------------------------------------------------

    def _build_training(self) -> None:
        """The training panel (a tab beside the inspector) and the live plots (below)."""
        self.plots = TrainingPlots(self)
        self.training_panel = TrainingPanel(self.document, self.plots, self)
        self.training_dock = self._dock(
            "Training", "training", self.training_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.tabifyDockWidget(self.inspector_dock, self.training_dock)
        self.data_panel = DataPanel(self.document, self)
        self.data_dock = self._dock(
            "Data", "data", self.data_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.tabifyDockWidget(self.training_dock, self.data_dock)
        self.data_panel.statusMessage.connect(self._show_status)
        self.data_panel.set_on_screen(False)  # behind the Inspector tab until raised
        self.data_dock.visibilityChanged.connect(self.data_panel.set_on_screen)
        self.inspector_dock.raise_()
        self.plots_dock = self._dock(
            "Plots", "plots", self.plots, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.tabifyDockWidget(self.history_dock, self.plots_dock)
        self.problems_dock.raise_()
        for action in (self.training_panel.train_action, self.training_panel.resume_action):
            action.triggered.connect(self._show_training_docks)

    def _build_health(self) -> None:
        """Health strips on the canvas's nodes from the run's statistics (at the plots' rate),
        and View → Show Gradient Flow on Wires."""
        from gui.canvas.health import CanvasHealth

        self.canvas_health = CanvasHealth(self.canvas.scene(), self)
        self.training_panel.runner.eventsReady.connect(self.canvas_health.add_events)
        self.view_menu.insertAction(self.view_menu.actions()[3], self.canvas_health.flow_action)

    def _build_evaluate(self) -> None:
        """The Evaluate panel, a tab beside Training and Data; a finished run becomes its
        default checkpoint, and its Fine-tune starts a run in the training panel."""
        from gui.panels.evaluate import EvaluatePanel

        panel = self.training_panel
        self.evaluate_panel = EvaluatePanel(self.document, self, runs_dir=lambda: panel.runs_dir)
        self.evaluate_dock = self._dock(
            "Evaluate", "evaluate", self.evaluate_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.tabifyDockWidget(self.data_dock, self.evaluate_dock)
        self.inspector_dock.raise_()
        self.evaluate_panel.statusMessage.connect(self._show_status)
        panel.runFinished.connect(lambda _r: self.evaluate_panel.refresh_default())
        self.evaluate_panel.fineTuneRequested.connect(self._fine_tune)
        self.evaluate_panel.evaluationStarted.connect(
            lambda: self._widen(self.evaluate_dock, EVALUATE_PANEL_WIDTH)
        )
        # the Evaluate dock's width before and after an evaluation widened it (after: None until
        # laid out); None while it is not widened
        self._widened: tuple[int, int | None] | None = None
        self.evaluate_dock.visibilityChanged.connect(
            lambda _shown: QTimer.singleShot(0, self, self._follow_evaluate_tab)
        )

    def _widen(self, dock: QDockWidget, width: int) -> None:
        """Make a docked panel at least ``width`` wide (its tables need it); floating: left.
        For Evaluate, another tab of its dock area brought to the front gets the old width back
        (:meth:`_follow_evaluate_tab`)."""
        if not dock.isFloating() and dock.width() < width:
            if dock is self.evaluate_dock:
                self._widened = (dock.width(), None)
                QTimer.singleShot(0, self, self._note_widened)  # its width once laid out
            self.resizeDocks([dock], [width], Qt.Orientation.Horizontal)

    def _note_widened(self) -> None:
        if self._widened is not None and self._widened[1] is None:
            self._widened = (self._widened[0], self.evaluate_dock.width())

    def _follow_evaluate_tab(self) -> None:
        """The Evaluate tab left (or came back to) the front: the right docks go back to their
        width before the evaluation widened them (unless the user resized them since), and an
        evaluation's results widen them again."""
        dock = self.evaluate_dock
        if dock.isFloating():
            return
        if not dock.visibleRegion().isEmpty():
            if self._widened is None and self.evaluate_panel.results_box.isVisibleTo(dock):
                self._widen(dock, EVALUATE_PANEL_WIDTH)
            return
        if self._widened is None:
            return
        before, after = self._widened
        shown = next(
            (d for d in self.tabifiedDockWidgets(dock) if not d.visibleRegion().isEmpty()), None
        )
        self._widened = None
        if shown is not None and after in (None, shown.width()):  # not resized by the user
            # the size resizeDocks takes includes the tabs beside the docks (on the East side)
            tabs = max(
                (
                    bar.width()
                    for bar in self.findChildren(QTabBar)
                    if bar.isVisible()
                    and any(bar.tabText(i) == shown.windowTitle() for i in range(bar.count()))
                ),
                default=0,
            )
            self.resizeDocks([shown], [before + tabs], Qt.Orientation.Horizontal)

    def _fine_tune(self, checkpoint: Path) -> None:
        if self.training_panel.fine_tune(checkpoint):
            self.apply_training_layout()

    def _build_search(self) -> None:
        """The Search panel (a tab beside Data) and its plots (a tab beside the training plots);
        starting a search brings both to the front."""
        self.search_plots = SearchPlots(self)
        self.search_panel = SearchPanel(self.document, self.search_plots, self)
        self.search_dock = self._dock(
            "Search", "search", self.search_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.tabifyDockWidget(self.data_dock, self.search_dock)
        self.search_plots_dock = self._dock(
            "Search plots",
            "search_plots",
            self.search_plots,
            Qt.DockWidgetArea.BottomDockWidgetArea,
        )
        self.tabifyDockWidget(self.plots_dock, self.search_plots_dock)
        self.inspector_dock.raise_()
        self.problems_dock.raise_()
        self.search_panel.statusMessage.connect(self._show_status)
        self.search_panel.searchStarted.connect(self._show_search_docks)
        # One at a time: a search and a training run would halve each other's speed.
        # (the lambdas hold the panels, never the window: a closed window must be freed)
        training, search = self.training_panel, self.search_panel
        training.busy_elsewhere = lambda: (
            "A search is running: stop it in the Search panel first" if search.is_running else None
        )
        search.busy_elsewhere = lambda: (
            "A training run is going on: stop it (Train → Stop) first"
            if training.runner.is_active
            else None
        )
        for signal in (search.session.stateChanged, search.session.finished):
            signal.connect(lambda _s: training._update_controls())
        for signal in (training.runner.stateChanged, training.runFinished):
            signal.connect(lambda _s: search._update_buttons())

    def _show_search_docks(self) -> None:
        """A search started: its panel and plots in front, the plots tall enough to read."""
        for dock in (self.search_dock, self.search_plots_dock):
            dock.show()
            dock.raise_()
        self._widen(self.search_dock, SEARCH_PANEL_WIDTH)
        if not self.search_plots_dock.isFloating():
            wanted = int(self.height() * TRAINING_PLOTS_SHARE)
            if self.search_plots_dock.height() < wanted:
                self.resizeDocks([self.search_plots_dock], [wanted], Qt.Orientation.Vertical)

    def _build_runs(self) -> None:
        """The Runs panel (a tab beside the Plots): every run of the design, compared. It lists
        the training panel's run folder and reads it again when a run starts or ends."""
        training = self.training_panel
        self.runs_panel = RunsPanel(self.document, lambda: training.runs_dir, self)
        self.runs_dock = self._dock(
            "Runs", "runs", self.runs_panel, Qt.DockWidgetArea.BottomDockWidgetArea
        )
        self.tabifyDockWidget(self.plots_dock, self.runs_dock)
        self.problems_dock.raise_()
        training.runner.stateChanged.connect(
            lambda state: self.runs_panel.run_started() if state == "running" else None
        )
        training.runFinished.connect(lambda _result: self.runs_panel.run_ended())
        self.runs_panel.statusMessage.connect(self._show_status)
        self.runs_panel.openDesignRequested.connect(self._open_run_design)
        self.runs_dock.visibilityChanged.connect(self._on_runs_shown)

    def _build_stepper(self) -> None:
        """Train → Step Through One Batch…: the teaching-mode panel, a tab beside Evaluate shown
        when used; each stage selects its node on the canvas; blocked when Train is."""
        from gui.panels.stepper import StepperPanel

        training = self.training_panel
        self.stepper_panel = StepperPanel(self.document, self)
        self.stepper_dock = self._dock(
            "Step Through", "stepper", self.stepper_panel, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.tabifyDockWidget(self.evaluate_dock, self.stepper_dock)
        self.stepper_dock.hide()
        self.inspector_dock.raise_()  # hiding the new tab must not bring another one forward
        self.stepper_panel.nodeHighlighted.connect(self.reveal_node)
        self.stepper_panel.statusMessage.connect(self._show_status)
        self.stepper_panel.step_action.triggered.connect(self.stepper_dock.show)
        self.stepper_panel.step_action.triggered.connect(self.stepper_dock.raise_)
        training.train_action.changed.connect(self._update_stepper_action)
        training.runner.stateChanged.connect(self._update_stepper_action)
        self._update_stepper_action()

    def _update_stepper_action(self, *_changed: object) -> None:
        """Step Through is blocked when Train is (design problems, PyTorch loading, a search)
        and while a run is going on, with the reason as its tooltip."""
        training = self.training_panel
        reason = None
        if training.is_training:
            reason = "A training run is going on: stop it (Train → Stop) first"
        elif not training.train_action.isEnabled():
            reason = training.train_action.toolTip()
        self.stepper_panel.set_blocked(reason)

    def _on_runs_shown(self, visible: bool) -> None:
        """The Runs tab came forward: tall enough for its table and the comparison."""
        if visible and not self.runs_dock.isFloating():
            wanted = int(self.height() * TRAINING_PLOTS_SHARE)
            if self.runs_dock.height() < wanted:
                self.resizeDocks([self.runs_dock], [wanted], Qt.Orientation.Vertical)

    def _open_run_design(self, design: Design, run_name: str) -> None:
        """Runs → Open as Design: the design a run trained, as a new unsaved document."""
        if self.maybe_save():
            self._replace(design, None)
            self._show_status(f"Opened the design run {run_name} trained; Save As keeps it")

    def _show_training_docks(self) -> None:
        """A run started: the training layout."""
        if self.training_panel.is_training:
            self.apply_training_layout()

    def apply_training_layout(self) -> None:
        """The layout of a run (Train and ``--screenshot --layout training`` use it): the
        Training panel and the Plots in front, the plots tall enough to read — about 45 % of
        the window's height, at least their grid's minimum. A taller plots panel stays."""
        for dock in (self.training_dock, self.plots_dock):
            dock.show()
            dock.raise_()
        if self.plots_dock.isFloating():
            return
        height = self.height()
        wanted = max(
            int(height * TRAINING_PLOTS_SHARE), self.plots.view.minimumHeight() + DOCK_CHROME
        )
        wanted = min(wanted, int(height * TRAINING_PLOTS_CAP))
        if self.plots_dock.height() < wanted:
            self.resizeDocks([self.plots_dock], [wanted], Qt.Orientation.Vertical)

    def stage_panel_screenshot(self, layout: str) -> bool:
        """``--screenshot --layout runs|evaluate|search``: that panel in front, showing what it
        shows once used — the Runs panel comparing the design's newest runs (up to three), the
        Evaluate panel after evaluating the newest run (on its test split, or validation without
        one), the Search panel and its plots after a search of the design's search space has
        ended. True when it got there (waits are bounded)."""
        if layout == "runs":
            self.runs_dock.show()
            self.runs_dock.raise_()
            panel = self.runs_panel
            panel.refresh()
            if not _serve_until(lambda: panel.up_to_date, 60_000):
                return False
            panel.select([row.run.name for row in panel.rows()[:3]])
            return _serve_until(lambda: panel.up_to_date, 5_000)
        if layout == "evaluate":
            self.evaluate_dock.show()
            self.evaluate_dock.raise_()
            evaluate = self.evaluate_panel
            evaluate.refresh_default()
            _serve_until(lambda: evaluate.lookup is None and torch_loader().is_ready(), 120_000)
            if not evaluate.evaluate():  # on the split it picked: test, or validation if none
                return False
            return _serve_until(lambda: not evaluate.busy, 120_000)
        if layout == "search":
            _serve_until(torch_loader().is_ready, 120_000)
            self.search_panel.trials_spin.setValue(SCREENSHOT_TRIALS)
            if not self.search_panel.start():
                return False
            return _serve_until(lambda: not self.search_panel.is_running, 600_000)
        return False

    def train_for_screenshot(self, seconds: float) -> bool:
        """Train live for ``seconds`` (``--screenshot --train-for``), then stop; True when the
        run started. Like Train, it applies the training layout."""
        from PySide6.QtCore import QElapsedTimer, QEventLoop
        from PySide6.QtWidgets import QApplication

        app = QApplication.instance()
        timer = QElapsedTimer()
        timer.start()
        loader = torch_loader()
        loader.start()
        while not loader.is_ready() and timer.elapsed() < 120_000:  # Train waits for PyTorch
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            _sleep_ms(10)
        if not self.training_panel.train():
            return False
        self.apply_training_layout()
        panel = self.training_panel
        timer.restart()
        # the clock starts with the first batch: loading data and imports do not count
        while panel.start_event is None and panel.is_training and timer.elapsed() < 60_000:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            _sleep_ms(10)
        timer.restart()
        while timer.elapsed() < seconds * 1000 and self.training_panel.is_training:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            _sleep_ms(10)
        self.training_panel.stop()
        timer.restart()
        while self.training_panel.is_training and timer.elapsed() < 30_000:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
            _sleep_ms(10)
        self.training_panel.shutdown()
        self.prepare_screenshot()  # the canvas is smaller now: frame the design again
        return True

    # -- help --------------------------------------------------------------------------------

    def show_shortcuts(self) -> None:
        """A table of the editor's keyboard shortcuts."""
        rows = []
        for action in self.findChildren(QAction):
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if keys and action.text():
                rows.append((action.text().replace("&", ""), keys))
        rows.append(("Pan", "Middle drag or Space + drag"))
        rows.append(("Zoom", "Ctrl + wheel"))
        html = "".join(
            f"<tr><td>{name}</td><td>&nbsp;&nbsp;<b>{keys}</b></td></tr>"
            for name, keys in sorted(set(rows))
        )
        QMessageBox.information(self, "Keyboard shortcuts", f"<table>{html}</table>")

    def show_about(self) -> None:
        """Version and one line on what Deepwire is."""
        QMessageBox.about(
            self,
            "About Deepwire",
            "<b>Deepwire</b><br>Build, train and export neural networks "
            "visually, on PyTorch.<br><br>Templates: "
            + ", ".join(title for title, _ in TEMPLATES.values()),
        )


def _sleep_ms(ms: int) -> None:
    """Let the training thread run between event-loop passes."""
    import time

    time.sleep(ms / 1000)


#: Trials of the search that ``--screenshot --layout search`` runs.
SCREENSHOT_TRIALS = 8


def _serve_until(done: Callable[[], bool], timeout_ms: int) -> bool:
    """Serve the event loop until ``done()`` or ``timeout_ms`` (screenshots); True when done."""
    from PySide6.QtCore import QElapsedTimer, QEventLoop
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    timer = QElapsedTimer()
    timer.start()
    while not done() and timer.elapsed() < timeout_ms:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        _sleep_ms(10)
    return done()


def std_find() -> QKeySequence:
    """Ctrl+F (the platform's Find key)."""
    return QKeySequence(QKeySequence.StandardKey.Find)


def training_device() -> str:
    """The device training would use: ``Device: CUDA: <name>``, ``… MPS (Apple GPU)`` or
    ``… CPU`` (:func:`engine.training.devices.describe_device`)."""
    from engine.training.devices import describe_device

    return f"Device: {describe_device('auto')}"
