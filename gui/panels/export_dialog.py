"""File → Export Trained Model…: a format, a part, a checkpoint and a file, exported off the GUI thread.

The dialog is a thin front end to :func:`engine.export.export_model` (the same call as
``python main.py export``). It suggests the checkpoint of the design's latest training run (the
training panel's run folders, or the weights an import wrote next to the design), checks in the
background whether that checkpoint belongs to the design, and runs the export in a worker thread
with a busy bar while the window stays responsive. Success lists the files written (the model and
its sidecar JSON); failure shows the engine's one-line message, and the engine leaves no partial
file behind.

The worker thread is a :class:`gui.workers.BackgroundCall`; the busy bar and close-while-busy
handling are :class:`gui.widgets.BackgroundTaskDialog`, shared with the import dialog.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from engine.errors import first_line
from engine.export import FORMATS, export_model, export_parts
from engine.export.formats import output_conflict
from engine.export.prepare import sidecar_path
from engine.graph import Design
from gui.document import Document
from gui.formatting import design_stem, escape_html, metric_text, pretty
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
    with_note,
)
from gui.workers import BackgroundCall

CHECKPOINT_FILTER = "Deepwire checkpoints (*.pt);;All files (*)"

#: What each format is for, one line each (shown under the format choice).
FORMAT_NOTES = {
    "onnx": "For onnxruntime, TensorRT, OpenCV and other frameworks; the batch size stays "
    "dynamic. Takes a few seconds.",
    "pt2": "For PyTorch without Deepwire: torch.export.load(path).module() gives the model "
    "back, ready to run or to compile.",
    "safetensors": "The trained weights only, named like the generated Python code's layers, "
    "for loading into your own PyTorch code.",
    "python": "A readable PyTorch nn.Module file plus its .safetensors weights, to read, edit "
    "or train further; runs on its own: python FILE.py.",
}


# ------------------------------------------------------------------------------------------
# finding and checking checkpoints


@dataclass
class CheckpointCheck:
    """What the dialog knows about a checkpoint file: a one-line description and whether it
    belongs to the design (``ok``)."""

    path: Path | None
    text: str
    ok: bool


def checkpoint_candidates(
    design: Design, design_path: Path | None, runs_dir: Path | None, last_run: Path | None
) -> list[Path]:
    """Existing checkpoint files that probably hold this design's weights, most likely first.

    The run this editor started last (``best.pt``, then ``last.pt``), then the newest earlier
    runs of the design in its run store under ``runs_dir`` (:meth:`engine.runs.RunStore.
    checkpoints`: renamed runs and search trials included; the store of the saved file, then
    the one named after the design for runs started before it was first saved), then
    ``DESIGN.pt`` beside the design file (what File → Import writes). Reads run folders: call
    it off the GUI thread.
    """
    from engine.runs import store_for

    out: list[Path] = []
    if last_run is not None:
        out += [last_run / "best.pt", last_run / "last.pt"]
    if runs_dir is not None and runs_dir.is_dir():
        stores = [store_for(design_path, design.name, root=runs_dir)]
        if design_path is not None:
            stores.append(store_for(None, design.name, root=runs_dir))
        for store in stores:
            out += store.checkpoints()
    if design_path is not None:
        out.append(design_path.with_suffix(".pt"))
    seen: set[Path] = set()
    return [p for p in out if not (p in seen or seen.add(p)) and p.is_file()]


def find_checkpoint(
    design: Design, design_path: Path | None, runs_dir: Path | None, last_run: Path | None
) -> CheckpointCheck:
    """:func:`check_checkpoints` over :func:`checkpoint_candidates` (one worker-thread call)."""
    return check_checkpoints(design, checkpoint_candidates(design, design_path, runs_dir, last_run))


def check_checkpoints(design: Design, paths: list[Path]) -> CheckpointCheck:
    """The first of ``paths`` trained on ``design`` (described), else the first one with the
    engine's reason it does not fit. Runs in a worker thread: it reads the files."""
    from engine.export.prepare import load_request

    first: CheckpointCheck | None = None
    for path in paths:
        try:
            _design, ckpt, _where = load_request(design, path)
        except Exception as exc:  # noqa: BLE001 - DeepwireError or a broken file: say why
            first = first or CheckpointCheck(path, first_line(exc), False)
            continue
        return CheckpointCheck(path, _describe(ckpt), True)
    if first is not None:
        return first
    return CheckpointCheck(None, "", False)


def _describe(ckpt: Any) -> str:
    """``✔ trained on this design · epoch 12 · val loss 0.0812 · val accuracy 96.1%``."""
    bits = ["✔ trained on this design", f"epoch {ckpt.epoch}"]
    metrics = ckpt.metrics or {}
    for key in ("val_loss", "val_accuracy", "val_mse", "val_quantization_error"):
        if key in metrics:
            bits.append(f"{pretty(key)} {metric_text(key, metrics[key])}")
    if len(bits) == 2:
        bits += [f"{pretty(k)} {metric_text(k, v)}" for k, v in list(metrics.items())[:2]]
    return " · ".join(bits)


# ------------------------------------------------------------------------------------------
# the dialog


class ExportDialog(OutputFileDialog):
    """Export the document's trained model; see the module docstring.

    ``runs_dir`` / ``last_run`` are where the training panel keeps run folders and the folder of
    its latest run; ``directory`` is where the output goes when the design has no file yet;
    ``chooser`` opens the file dialogs.
    """

    exported = Signal(object)  # engine.export.ExportResult
    TASK_TITLE = "Export"
    STILL_RUNNING = "The export is still running; it finishes in a few seconds."

    def __init__(
        self,
        document: Document,
        *,
        runs_dir: Path | None = None,
        last_run: Path | None = None,
        directory: str | Path | None = None,
        chooser: FileChooser | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.runs_dir = runs_dir
        self.last_run = last_run
        self.directory = Path(directory) if directory else Path.home()
        self.chooser = chooser if chooser is not None else FileChooser(self)
        self.probe: BackgroundCall | None = None  # the running checkpoint check
        self.check: CheckpointCheck | None = None
        self._picked_output: Path | None = None  # chosen in the file dialog, which asked
        self._probe_pending: tuple[list[Path] | None] | None = None  # (paths,) waiting
        self.setWindowTitle("Export Trained Model")
        self.setMinimumWidth(620)
        self._build()
        self._fill()

    # -- construction ----------------------------------------------------------------------------

    def _build(self) -> None:
        outer = QVBoxLayout(self)
        self.heading = QLabel(self)
        self.heading.setWordWrap(True)
        outer.addWidget(self.heading)
        self.problem_label = note_label(self)
        outer.addWidget(self.problem_label)

        outer.addLayout(self._build_form())
        self._add_footer(outer)
        self._connect_signals()

    def _build_form(self) -> QFormLayout:
        """The fields: format, part, checkpoint and where to save."""
        form = growing_form()
        self.format_combo = QComboBox(self)
        for fmt, (title, _suffix, _desc) in FORMATS.items():
            self.format_combo.addItem(title, fmt)
            self.format_combo.setItemData(
                self.format_combo.count() - 1, FORMAT_NOTES[fmt], Qt.ItemDataRole.ToolTipRole
            )
        self.format_note = note_label(self)
        form.addRow("&Format:", with_note(self.format_combo, self.format_note))

        self.part_combo = QComboBox(self)
        self.part_combo.setToolTip("Which network of the design to export")
        form.addRow("&Part:", self.part_combo)

        self.checkpoint_edit, self.checkpoint_button, self.checkpoint_info = add_path_field(
            form, "&Checkpoint:", self
        )
        self.checkpoint_edit.setPlaceholderText("best.pt or last.pt of a training run")
        self._add_output_field(form, "&Save as:")
        return form

    def _build_buttons(self) -> QHBoxLayout:
        """Show in Folder, why Export is disabled, then Export and Close."""
        buttons = QHBoxLayout()
        self.show_button = QPushButton("Show in Folder", self)
        self.show_button.setToolTip("Open the folder of the exported files")
        self.show_button.hide()
        self.export_button = QPushButton("Export", self)
        self.export_button.setDefault(True)
        self.close_button = QPushButton("Close", self)
        buttons.addWidget(self.show_button)
        buttons.addWidget(self._add_reason_label(), 1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.close_button)
        return buttons

    def _connect_signals(self) -> None:
        """Wire the fields and buttons to their handlers."""
        self.format_combo.currentIndexChanged.connect(self._on_format)
        self.part_combo.currentIndexChanged.connect(self._on_part)
        self.checkpoint_edit.editingFinished.connect(self._on_checkpoint_edited)
        self.checkpoint_edit.textChanged.connect(self._update_controls)
        self.checkpoint_button.clicked.connect(self.browse_checkpoint)
        self.export_button.clicked.connect(self.export)
        self.show_button.clicked.connect(self.show_in_folder)
        self.close_button.clicked.connect(self.reject)

    def _fill(self) -> None:
        doc = self.document
        design = doc.design
        self.heading.setText(
            f"Export the trained weights of <b>{escape_html(design.name)}</b> as a "
            "file other tools load."
        )
        problems = doc.analysis.problems
        if problems:
            count = len(problems)
            coloured(
                self.problem_label,
                f"⚠ The design has {count} problem{'s' if count != 1 else ''} and cannot "
                f"be exported: {problems[0]}. Fix {'them' if count != 1 else 'it'} "
                "(View → Problems), train, then export.",
                ERROR_COLOUR,
            )
        else:
            coloured(self.problem_label, "")
        self.part_combo.blockSignals(True)
        for part, description in export_parts(design):
            self.part_combo.addItem(description[:1].upper() + description[1:], part)
        self.part_combo.blockSignals(False)
        self.part_combo.setEnabled(self.part_combo.count() > 1)
        self._on_format()
        if self.last_run is not None:  # the run this editor started last: shown at once
            for name in ("best.pt", "last.pt"):
                if (self.last_run / name).is_file():
                    self.checkpoint_edit.setText(str(self.last_run / name))
                    break
        self._start_probe(None)  # finds this design's newest checkpoint in the background
        self._update_controls()

    # -- fields ----------------------------------------------------------------------------------

    @property
    def fmt(self) -> str:
        """The chosen format id (``onnx``, ``pt2``, ``safetensors``, ``python``)."""
        return self.format_combo.currentData()

    @property
    def part(self) -> str | None:
        """The chosen part, as ``export_model(network=...)`` takes it."""
        return self.part_combo.currentData()

    def set_format(self, fmt: str) -> None:
        """Choose a format by id."""
        self.format_combo.setCurrentIndex(self.format_combo.findData(fmt))

    def set_part(self, part: str | None) -> None:
        """Choose a part by its ``export_parts`` key."""
        for i in range(self.part_combo.count()):
            if self.part_combo.itemData(i) == part:
                self.part_combo.setCurrentIndex(i)
                return
        raise KeyError(part)

    def set_checkpoint(self, path: str | Path) -> None:
        """Use ``path`` as the checkpoint (as if typed) and check it in the background."""
        self.checkpoint_edit.setText(str(path))
        self._on_checkpoint_edited()

    def auto_output(self) -> Path:
        """The suggested output file: beside the design, named after it, part and format."""
        doc = self.document
        folder = doc.path.parent if doc.path is not None else self.directory
        stem = design_stem(doc.path, doc.design.name)
        part = self.part
        if part is None and doc.design.network_of_role("generator") is not None:
            part = "generator"
        if part:
            stem += "-" + re.sub(r"[^A-Za-z0-9_-]+", "-", part).strip("-")
        return folder / (stem + FORMATS[self.fmt][1])

    def output_suffix(self) -> str:
        """The format's suffix (``.onnx``, ``.py``…)."""
        return FORMATS[self.fmt][1]

    @Slot()
    def _on_format(self) -> None:
        fmt = self.fmt
        self.format_note.setText(FORMAT_NOTES[fmt])
        if self._auto_output or not self.output_edit.text().strip():
            self._auto_output = True
            self.output_edit.setText(str(self.auto_output()))
        else:
            path = Path(self.output_edit.text().strip())
            known = {s for _t, s, _d in FORMATS.values()}
            path = (
                path.with_suffix(FORMATS[fmt][1])
                if path.suffix in known
                else path.with_name(path.name + FORMATS[fmt][1])
            )
            self.output_edit.setText(str(path))
        self._on_output_changed()

    @Slot()
    def _on_part(self) -> None:
        if self._auto_output:
            self.output_edit.setText(str(self.auto_output()))

    def _output_note(self, path: Path) -> str:
        """The sidecar (and the weights of a Python export) written beside ``path``."""
        companions = [f"{path.name}.json (sidecar: inputs, outputs, class labels, preprocessing)"]
        if self.fmt == "python":
            companions.insert(0, f"{path.with_suffix('.safetensors').name} (its weights)")
        return "Also writes " + " and ".join(companions) + "."

    def _replaces(self, path: Path) -> bool:
        """Whether ``path`` exists and is not what the last export here wrote."""
        just_written = self.result is not None and path in self.result.paths
        return path.exists() and not just_written

    def browse_checkpoint(self) -> None:
        """Pick a checkpoint file."""
        current = self.checkpoint_edit.text().strip()
        start = current or str(self.runs_dir or self.directory)
        path = self.chooser.open_file("Choose a trained checkpoint", start, CHECKPOINT_FILTER)
        if path is not None:
            self.set_checkpoint(path)

    def browse_output(self) -> None:
        """Pick where the export goes."""
        title, suffix, _ = FORMATS[self.fmt]
        filters = f"{title} (*{suffix});;All files (*)"
        start = str(self.output_path() or self.auto_output())
        path = self.chooser.save_file("Export as", start, filters)
        if path is not None:
            path = path if path.suffix else path.with_suffix(suffix)
            self.set_output(path)
            self._picked_output = path  # the file dialog already asked before replacing it

    # -- checkpoint check ------------------------------------------------------------------------

    @Slot()
    def _on_checkpoint_edited(self) -> None:
        text = self.checkpoint_edit.text().strip()
        if not text:
            self._show_no_checkpoint()
        elif self.check is None or self.check.path != Path(text).expanduser():
            self._start_probe([Path(text).expanduser()])
        self._update_controls()

    def _show_no_checkpoint(self) -> None:
        self.check = None
        coloured(
            self.checkpoint_info,
            "No trained checkpoint of this design found: train it "
            "(Train → Train, F5) or pick a best.pt / last.pt file.",
            WARNING_COLOUR,
        )

    def _start_probe(self, paths: list[Path] | None) -> None:
        """Check ``paths`` in the background (None: look for this design's checkpoints first);
        a newer request waits for the running one."""
        if self.probe is not None and self.probe.running:
            self._probe_pending = (paths,)
            return
        design = self.document.design.copy()
        if paths is None:
            coloured(self.checkpoint_info, "Looking for this design's checkpoints…")
            args: tuple = (
                find_checkpoint,
                design,
                self.document.path,
                self.runs_dir,
                self.last_run,
            )
        else:
            coloured(self.checkpoint_info, "Checking the checkpoint…")
            args = (check_checkpoints, design, paths)
        self.probe = BackgroundCall(*args, parent=self, name="deepwire-checkpoint-check")
        self.probe.done.connect(self._on_probe_done)
        self.probe.start()

    @Slot(object, object)
    def _on_probe_done(self, check: CheckpointCheck | None, error: str | None) -> None:
        if self._probe_pending is not None:
            (paths,), self._probe_pending = self._probe_pending, None
            self._start_probe(paths)
            return
        if check is None:
            check = CheckpointCheck(None, error or "", False)
        self.check = check
        if check.path is None:
            self._show_no_checkpoint()
            return
        if check.path != Path(self.checkpoint_edit.text().strip()).expanduser():
            self.checkpoint_edit.setText(str(check.path))  # a better default was found
        coloured(self.checkpoint_info, check.text, OK_COLOUR if check.ok else ERROR_COLOUR)

    # -- export ----------------------------------------------------------------------------------

    def blocked_reason(self) -> str | None:
        """Why Export is disabled (None when it is enabled)."""
        if self.busy:
            return "an export is running"
        if self.document.analysis.problems:
            return "the design has problems"
        if not self.checkpoint_edit.text().strip():
            return "choose a checkpoint"
        output = self.output_path()
        if output is None:
            return "choose where to save"
        conflict = output_conflict(
            self.fmt,
            output,
            {
                "design": self.document.path,
                "checkpoint": Path(self.checkpoint_edit.text().strip()).expanduser(),
            },
        )
        return conflict  # the same refusal as ``main.py export``

    @Slot()
    def _update_controls(self) -> None:
        reason = self.blocked_reason()
        self._show_blocked(
            self.export_button,
            reason,
            "Write the files (runs in the background)",
            say=not self.document.analysis.problems,  # the problem line says it already
        )
        idle = not self.busy
        for widget in (
            self.format_combo,
            self.checkpoint_edit,
            self.checkpoint_button,
            self.output_edit,
            self.output_button,
        ):
            widget.setEnabled(idle)
        self.part_combo.setEnabled(idle and self.part_combo.count() > 1)
        self.close_button.setEnabled(idle)

    def export(self) -> bool:
        """Start the export in the background; False (nothing started) when it cannot run."""
        if self.blocked_reason() is not None:
            return False
        fmt, part = self.fmt, self.part
        output = self.output_path()
        just_written = self.result is not None and output in self.result.paths
        if (
            output.exists()
            and not just_written
            and output != self._picked_output
            and not self.chooser.confirm_replace(
                "Replace the file?",
                f"{output} exists. Replace it with the "
                f"{FORMATS[fmt][0]} export (and its sidecar {sidecar_path(output).name})?",
            )
        ):
            return False
        self.output_edit.setText(str(output))
        checkpoint = Path(self.checkpoint_edit.text().strip()).expanduser()
        design = self.document.design.copy()  # the snapshot the worker reads
        self.show_button.hide()
        self._start_task(
            f"Exporting {FORMATS[fmt][0]} to {output}…",
            export_model,
            design,
            checkpoint,
            fmt,
            output,
            part,
            name="deepwire-export",
        )
        return True

    def _task_succeeded(self, result: Any) -> None:
        lines = [f"✔ Exported in {self.task.seconds:.1f} s:"]
        main = result.paths[0]
        for path in result.paths:
            lines.append(f"    {path}  — {_role(path, main, result.format)}")
        lines += [f"Note: preprocessing {note}" for note in result.notes]
        steps = result.sidecar.get("preprocessing", {})
        if steps.get("steps") and steps.get("folded") and result.format != "safetensors":
            lines.append(
                "Preprocessing is folded in: the model takes raw features ("
                + ", ".join(steps["steps"])
                + ")."
            )
        coloured(self.result_label, "\n".join(lines), OK_COLOUR)
        self.show_button.show()
        self._on_output_changed()  # "exists and will be replaced" from now on
        self.exported.emit(result)

    def show_in_folder(self) -> None:
        """Open the folder of the last export in the desktop's file manager."""
        if self.result is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.result.paths[0].parent)))

    # -- closing ---------------------------------------------------------------------------------

    def _background_tasks(self) -> list[BackgroundCall | None]:
        return [self.task, self.probe]


def _role(path: Path, main: Path, fmt: str) -> str:
    """What one written file is, for the success message."""
    if path == main:
        return {
            "onnx": "the ONNX model",
            "pt2": "the PyTorch program",
            "safetensors": "the weights",
            "python": "the PyTorch code",
        }[fmt]
    if path.suffix == ".json":
        return "sidecar: inputs, outputs, class labels, preprocessing"
    return "the weights the code loads"
