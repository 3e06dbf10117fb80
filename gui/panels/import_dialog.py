"""File → Import PyTorch Model…: a ``.py`` file and class, or a ``.pt2`` program, as a new design.

Choosing a ``.py`` file reads it with :mod:`ast` only: the class list comes from the source
text, and nothing in the file runs until the user ticks "run this file" and presses Import. The
import itself is :func:`engine.importer.import_model` (the same as ``python main.py
import``), run in a worker thread: it traces the model, maps its operators to layers, checks the
outputs and writes the design plus its weights (``DESIGN.pt``) next to it. Anything it cannot map
comes back as the engine's one line naming each operator and where it occurs, and nothing is
written. On success the dialog emits :attr:`ImportDialog.imported`; the window then opens the
design (asking to save unsaved changes first).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.formatting import escape_html
from gui.widgets import (
    ERROR_COLOUR,
    OK_COLOUR,
    WARNING_COLOUR,
    FileChooser,
    OutputFileDialog,
    add_path_field,
    coloured,
    growing_form,
    note_label,
    same_file,
    with_note,
)

SOURCE_FILTER = (
    "PyTorch models (*.py *.pt2);;Python files (*.py);;torch.export programs (*.pt2);;All files (*)"
)
DESIGN_FILTER = "Deepwire designs (*.json);;All files (*)"
SHAPE_HELP = (
    "One sample, without the batch: 1,28,28 (a grey image), 20 (features), "
    "12:int64 (token ids). Several inputs: separate them with a semicolon."
)


@dataclass(frozen=True)
class ModuleClass:
    """A top-level ``nn.Module`` subclass found in a Python file (without running it)."""

    name: str
    line: int
    needs_arguments: bool  # its __init__ has parameters without defaults

    def label(self) -> str:
        """``Net (line 12)``, with a warning when it cannot be built without arguments."""
        extra = " — needs arguments, cannot be imported" if self.needs_arguments else ""
        return f"{self.name} (line {self.line}){extra}"


class SourceScanError(ValueError):
    """The file cannot be read or parsed (one line, for the dialog)."""


def scan_module_classes(path: str | Path) -> list[ModuleClass]:
    """The top-level ``nn.Module`` classes in ``path``, in file order, read with :mod:`ast`.

    A class counts when one of its bases is ``nn.Module`` (or another ``nn.`` / ``torch.nn.``
    class such as ``nn.Sequential``), a name imported from ``torch.nn``, or a class of the same
    file that counts. Nothing in the file is executed.
    """
    path = Path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SourceScanError(f"cannot read {path.name}: {reason}") from None
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise SourceScanError(
            f"{path.name} is not valid Python: {exc.msg} (line {exc.lineno})"
        ) from None
    nn_names = {"Module"}  # names that stand for torch.nn classes in this file
    nn_aliases = {"nn", "torch.nn"}  # module aliases of torch.nn
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "torch.nn":
            nn_names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "torch":
            nn_aliases.update(a.asname or a.name for a in node.names if a.name == "nn")
        elif isinstance(node, ast.Import):
            nn_aliases.update(a.asname for a in node.names if a.name == "torch.nn" and a.asname)
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef)]
    found: dict[str, ast.ClassDef] = {}
    changed = True
    while changed:  # a class deriving from a module class of this file is one too
        changed = False
        for cls in classes:
            if cls.name not in found and any(
                _is_module_base(b, nn_names, nn_aliases, found) for b in cls.bases
            ):
                found[cls.name] = cls
                changed = True
    out = []
    for cls in classes:
        if cls.name in found:
            out.append(ModuleClass(cls.name, cls.lineno, _needs_arguments(cls, found)))
    return out


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_module_base(
    base: ast.expr, nn_names: set[str], nn_aliases: set[str], found: dict[str, ast.ClassDef]
) -> bool:
    name = _dotted(base)
    if not name:
        return False
    if "." not in name:
        return name in nn_names or name in found
    owner, _, attr = name.rpartition(".")
    return owner in nn_aliases and attr[:1].isupper()


def _needs_arguments(cls: ast.ClassDef, found: dict[str, ast.ClassDef]) -> bool:
    """Whether ``cls()`` needs arguments (looking through base classes of the same file)."""
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and item.name == "__init__":
            args = item.args
            positional = [*args.posonlyargs, *args.args][1:]  # without self
            required = len(positional) - len(args.defaults)
            required += sum(1 for d in args.kw_defaults if d is None)
            return required > 0
    for base in cls.bases:
        name = _dotted(base)
        if name in found and found[name] is not cls:
            return _needs_arguments(found[name], found)
    return False


# ------------------------------------------------------------------------------------------
# the dialog


def _run_import(source: str, output: Path, shape_text: str, flat: bool = False) -> Any:
    """The worker's job: parse the shape and import (the engine writes design and weights)."""
    from engine.importer import import_model, parse_shape

    shape = parse_shape(shape_text) if shape_text.strip() else None
    return import_model(source, output, input_shape=shape, flat=flat)


class ImportDialog(OutputFileDialog):
    """Import a PyTorch model as a design; see the module docstring.

    ``directory`` is where the file dialogs start; ``open_path`` is the file of the design open
    in the window (the import refuses to overwrite it); ``chooser`` opens the file dialogs.
    """

    imported = Signal(object)  # engine.importer.ImportResult
    TASK_TITLE = "Import"
    STILL_RUNNING = "The import is still running; it cannot be stopped halfway."

    def __init__(
        self,
        *,
        directory: str | Path | None = None,
        open_path: Path | None = None,
        chooser: FileChooser | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.directory = Path(directory) if directory else Path.home()
        self.open_path = open_path  # the design open in the window: never overwritten
        self.chooser = chooser if chooser is not None else FileChooser(self)
        self.classes: list[ModuleClass] = []
        self._scanned: tuple[Path | None, float | None] | None = None
        self.setWindowTitle("Import PyTorch Model")
        self.setMinimumWidth(620)
        self._build()
        self._on_source_changed()

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        intro = QLabel(
            "Turn a PyTorch model into an editable design with its weights: a "
            "<b>.py</b> file and the <b>nn.Module</b> class to build (with no "
            "arguments), or a <b>.pt2</b> program saved by torch.export.save.",
            self,
        )
        intro.setWordWrap(True)
        outer.addWidget(intro)

        outer.addLayout(self._build_form())
        self._build_trust(outer)
        self._add_footer(outer)
        self._connect_signals()

    def _build_form(self) -> QFormLayout:
        """The fields: model file, class, input shape and where to save the design."""
        form = growing_form()
        self.source_edit, self.source_button, self.source_note = add_path_field(
            form, "&Model file:", self
        )
        self.source_edit.setPlaceholderText("model.py or program.pt2")
        self.class_combo = QComboBox(self)
        self.class_combo.setToolTip(
            "The nn.Module classes defined in the file (read without running it)"
        )
        form.addRow("&Class:", self.class_combo)
        self.shape_edit = QLineEdit(self)
        self.shape_edit.setPlaceholderText("e.g. 1,28,28")
        self.shape_note = note_label(self)
        self.shape_note.setText(SHAPE_HELP)
        self.shape_box = with_note(self.shape_edit, self.shape_note)
        form.addRow("&Input shape:", self.shape_box)
        self._add_output_field(form, "&Save design as:")
        self.flat_box = QCheckBox("&Flat: one layer per operation, no blocks", self)
        self.flat_box.setToolTip(
            "By default repeated submodules (ResNet blocks, inverted residuals, encoder "
            "layers) become blocks; like 'main.py import --flat'"
        )
        form.addRow("", self.flat_box)
        self.class_label = form.labelForField(self.class_combo)
        self.shape_label = form.labelForField(self.shape_box)
        return form

    def _build_trust(self, outer: QVBoxLayout) -> None:
        """The warning about running a .py file and the box that consents to it."""
        self.warning_label = QLabel(self)
        self.warning_label.setWordWrap(True)
        self.warning_label.setTextFormat(Qt.TextFormat.RichText)
        self.warning_label.setStyleSheet(
            f"color: {WARNING_COLOUR}; border: 1px solid "
            f"{WARNING_COLOUR}; border-radius: 4px; padding: 6px;"
        )
        outer.addWidget(self.warning_label)
        self.trust_box = QCheckBox("I trust this file: run it to build the model", self)
        outer.addWidget(self.trust_box)

    def _build_buttons(self) -> QHBoxLayout:
        """Why Import is disabled, then Import and Cancel."""
        buttons = QHBoxLayout()
        buttons.addWidget(self._add_reason_label(), 1)
        self.import_button = QPushButton("Import", self)
        self.import_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel", self)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.cancel_button)
        return buttons

    def _connect_signals(self) -> None:
        """Wire the fields and buttons to their handlers."""
        self.source_edit.editingFinished.connect(self._on_source_changed)
        self.source_button.clicked.connect(self.browse_source)
        self.class_combo.currentIndexChanged.connect(self._on_class)
        self.shape_edit.textChanged.connect(self._update_controls)
        self.trust_box.toggled.connect(self._update_controls)
        self.import_button.clicked.connect(self.start_import)
        self.cancel_button.clicked.connect(self.reject)

    # -- fields ----------------------------------------------------------------------------------

    def source_path(self) -> Path | None:
        """The chosen model file, or None."""
        text = self.source_edit.text().strip()
        return Path(text).expanduser() if text else None

    @property
    def is_python(self) -> bool:
        """Whether the source is a Python file (which the import would run)."""
        path = self.source_path()
        return path is not None and path.suffix.lower() == ".py"

    def set_source(self, path: str | Path) -> None:
        """Use ``path`` as the model file (as if typed); lists its classes without running it."""
        self.source_edit.setText(str(path))
        self._on_source_changed()

    def set_class(self, name: str) -> None:
        """Choose one of the listed classes."""
        index = self.class_combo.findData(name)
        if index < 0:
            raise KeyError(name)
        self.class_combo.setCurrentIndex(index)

    def output_suffix(self) -> str:
        """A design is a ``.json`` file."""
        return ".json"

    def browse_source(self) -> None:
        """Pick the model file."""
        start = str(self.source_path() or self.directory)
        path = self.chooser.open_file("Import a PyTorch model", start, SOURCE_FILTER)
        if path is not None:
            self.set_source(path)

    def browse_output(self) -> None:
        """Pick where the imported design goes."""
        start = str(self.output_path() or self.directory)
        path = self.chooser.save_file("Save the imported design as", start, DESIGN_FILTER)
        if path is not None:
            self.set_output(path if path.suffix else path.with_suffix(".json"))

    @Slot()
    def _on_source_changed(self) -> None:
        """A new model file: scan it for classes, explain it, and propose where to save."""
        path = self.source_path()
        if self._same_source(path):
            return  # the same file again (focus left the field): keep class and consent
        self._scanned = (
            path,
            path.stat().st_mtime if path is not None and path.is_file() else None,
        )
        python = self.is_python
        self._reset_for_source(python or path is None)
        note, colour = self._source_note(path, python)
        coloured(self.source_note, note, colour)
        self._show_run_warning(path if python else None)
        if self._auto_output or not self.output_edit.text().strip():
            self._auto_output = True
            self.output_edit.setText(str(self.auto_output()) if path is not None else "")
        self._on_output_changed()

    def _same_source(self, path: Path | None) -> bool:
        """True when ``path`` is the file scanned last, unchanged since."""
        return (
            self._scanned is not None
            and path == self._scanned[0]
            and path is not None
            and path.is_file()
            and path.stat().st_mtime == self._scanned[1]
        )

    def _reset_for_source(self, python_fields: bool) -> None:
        """Forget the classes and the consent; show the .py-only fields when ``python_fields``."""
        self.classes = []
        self.class_combo.blockSignals(True)
        self.class_combo.clear()
        self.class_combo.blockSignals(False)
        self.trust_box.setChecked(False)
        for widget in (
            self.class_combo,
            self.class_label,
            self.shape_box,
            self.shape_label,
            self.trust_box,
        ):
            widget.setVisible(python_fields)

    def _source_note(self, path: Path | None, python: bool) -> tuple[str, str | None]:
        """The note under the model file (and its colour); scans a .py file's classes."""
        if path is None:
            return "Choose a .py file or a .pt2 program.", None
        if not path.is_file():
            return f"{path}: no such file", ERROR_COLOUR
        if python:
            return self._scan_classes(path)
        if path.suffix.lower() == ".pt2":
            return (
                "A torch.export program: its input shapes come from the program. It is "
                "checked before loading, and refused if loading it could run code."
            ), None
        return "Choose a .py file or a .pt2 program.", ERROR_COLOUR

    def _scan_classes(self, path: Path) -> tuple[str, str | None]:
        """Read (not run) ``path`` for nn.Module classes and offer them; returns the note."""
        try:
            self.classes = scan_module_classes(path)
        except SourceScanError as exc:
            return str(exc), ERROR_COLOUR
        usable = [c for c in self.classes if not c.needs_arguments]
        if not self.classes:
            note, colour = (f"{path.name} defines no nn.Module class", ERROR_COLOUR)
        else:
            note, colour = (
                (
                    f"{len(self.classes)} nn.Module class"
                    f"{'es' if len(self.classes) != 1 else ''} found (the file was "
                    "read, not run)."
                ),
                None,
            )
        for cls in self.classes:
            self.class_combo.addItem(cls.label(), cls.name)
        if usable:  # the model is usually the last class, after its building blocks
            self.class_combo.setCurrentIndex(self.classes.index(usable[-1]))
        return note, colour

    def _show_run_warning(self, python_path: Path | None) -> None:
        """Warn that importing ``python_path`` runs it; hide the warning for None."""
        if python_path is not None:
            self.warning_label.setText(
                f"⚠ <b>Importing a .py file runs it.</b> Python executes "
                f"{escape_html(python_path.name)} to build the model, with your user's rights. "
                "Only import files you trust."
            )
            self.warning_label.show()
        else:
            self.warning_label.hide()

    def auto_output(self) -> Path:
        """``<folder of the model>/<class or file name>.json``."""
        path = self.source_path()
        folder = path.parent if path is not None and path.parent.is_dir() else self.directory
        name = self.class_combo.currentData() if self.is_python else None
        stem = (name or (path.stem if path is not None else "imported")).lower()
        return folder / f"{stem}.json"

    @Slot()
    def _on_class(self) -> None:
        if self._auto_output:
            self.output_edit.setText(str(self.auto_output()))
        self._update_controls()

    def _output_note(self, path: Path) -> str:
        """Where the imported weights go."""
        return f"The weights go beside it, in {path.with_suffix('.pt').name}."

    # -- import ----------------------------------------------------------------------------------

    def blocked_reason(self) -> str | None:
        """Why Import is disabled (None when it is enabled)."""
        path = self.source_path()
        if self.busy:
            return "an import is running"
        if path is None or not path.is_file():
            return "choose a model file"
        if self.is_python:
            cls = next((c for c in self.classes if c.name == self.class_combo.currentData()), None)
            if cls is None:
                return "choose an nn.Module class"
            if cls.needs_arguments:
                return f"{cls.name}() needs arguments; the class must build with none"
            if not self.shape_edit.text().strip():
                return "give the input shape"
            if not self.trust_box.isChecked():
                return "confirm that the file may run"
        elif path.suffix.lower() != ".pt2":
            return "choose a .py or .pt2 file"
        output = self.output_path()
        if output is None:
            return "choose where to save the design"
        if same_file(output, self.open_path) or same_file(output, path):
            return f"choose another name: {output.name} is open in the window or the model"
        return None

    @Slot()
    def _update_controls(self) -> None:
        reason = self.blocked_reason()
        self._show_blocked(self.import_button, reason, "Import (runs in the background)")
        idle = not self.busy
        for widget in (
            self.source_edit,
            self.source_button,
            self.class_combo,
            self.shape_edit,
            self.output_edit,
            self.output_button,
            self.trust_box,
        ):
            widget.setEnabled(idle)
        self.cancel_button.setEnabled(idle)

    def start_import(self) -> bool:
        """Run the import in the background; False (nothing started) when it cannot run."""
        if self.blocked_reason() is not None:
            return False
        path = self.source_path()
        source = f"{path}:{self.class_combo.currentData()}" if self.is_python else str(path)
        shape = self.shape_edit.text() if self.is_python else ""
        output = self.output_path()
        self.output_edit.setText(str(output))
        self._start_task(
            f"Importing {path.name}… (tracing the model and checking its outputs)",
            _run_import,
            source,
            output,
            shape,
            self.flat_box.isChecked(),
            name="deepwire-import",
        )
        return True

    def _task_succeeded(self, result: Any) -> None:
        coloured(self.result_label, "✔ " + result.summary(), OK_COLOUR)
        self.imported.emit(result)
        self.accept()
