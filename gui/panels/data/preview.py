"""The data panel's preview: the data prepared in a background thread, what came out, and
whether it fits the design's Input node (with a button that applies the fix).

After each change of the data section a :class:`~gui.workers.BackgroundCall` runs
``prepare_data``; a newer change stops a running preview (it stops within one chunk) and starts
again once the stopped one has ended. Previews are prepared only while the panel is on screen.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import QGroupBox, QLabel, QPushButton, QVBoxLayout

from engine.data import check_input_shape, prepare_data
from engine.data.summary import summarize
from engine.editing.data_section import data_input
from engine.errors import Cancelled, DeepwireError, first_line
from gui.commands import SetParam
from gui.formatting import escape_html
from gui.panels.data.fields import status_label
from gui.panels.data.pictures import DataPictures
from gui.widgets import ERROR_COLOUR, WARNING_COLOUR
from gui.workers import BackgroundCall

PREVIEW_DELAY_MS = 250


class PreviewSection:
    """The preview box and its background call (mixed into the data panel)."""

    def _build_preview_box(self) -> QGroupBox:
        self.preview_label = QLabel("Preparing a preview…")
        self.preview_label.setWordWrap(True)
        self.preview_label.setTextFormat(Qt.TextFormat.RichText)
        self.mismatch_label = status_label(WARNING_COLOUR)
        self.fix_button = QPushButton()
        self.fix_button.hide()
        self.fix_button.clicked.connect(self.apply_input_fix)
        preview_box = QGroupBox("Preview")
        preview_layout = QVBoxLayout(preview_box)
        self.pictures = DataPictures()
        for widget in (self.preview_label, self.mismatch_label, self.fix_button, self.pictures):
            preview_layout.addWidget(widget)
        return preview_box

    def _init_preview(self) -> None:
        """The preview's state and its delay timer (after the widgets are built)."""
        self.preview: Any = None  # the last PreparedData, or None
        self.preview_error: str | None = None
        self._call: BackgroundCall | None = None  # the current preview; only it delivers
        self._pending = False  # a newer preview follows once the stopped one has ended
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(PREVIEW_DELAY_MS)
        self._preview_timer.timeout.connect(self.update_preview)
        self._stale = False
        self._on_screen = True

    def _schedule_preview(self) -> None:
        """Prepare the preview soon if the panel is on screen, else when it comes up."""
        if self._on_screen:
            self._stale = False
            self._preview_timer.start()
        else:
            self._stale = True

    @Slot(bool)
    def set_on_screen(self, on_screen: bool) -> None:
        """Whether the panel can be seen (its dock tab is the current one): previews are
        prepared only then, so a hidden panel costs nothing."""
        self._on_screen = on_screen
        if on_screen and self._stale:
            self._schedule_preview()

    @Slot()
    def update_preview(self) -> None:
        """Prepare the data in the background; the outcome arrives in :meth:`_on_preview`."""
        if not self._on_screen:  # hidden again since it was scheduled
            self._stale = True
            return
        if self.section_problem() is not None:  # nothing to prepare; the panel says why
            if self._call is not None:
                self._call.cancel()  # a preview still being prepared is of the old section
            self.preview, self.preview_error = None, None
            self.preview_label.setText("No data to preview.")
            self.pictures.clear()
            self._check_input()
            return
        if self._call is not None and self._call.running:
            self._pending = True
            self._call.cancel()  # its data is out of date: stop it, the newer one follows
            return
        if self._call is not None:
            self._call.deleteLater()  # it has ended and delivered
        seed = (
            self.document.design.training.get("seed", 0)
            if isinstance(self.document.design.training, dict)
            else 0
        )
        self._call = BackgroundCall(
            prepare_preview,
            self.spec,
            self.base_dir(),
            seed if isinstance(seed, int) else 0,
            parent=self,
            name="deepwire-data-preview",
            cancellable=True,
        )
        self._call.done.connect(self._on_preview)
        self._call.cancelled.connect(self._on_preview_cancelled)
        self._call.start()

    @Slot(object, object)
    def _on_preview(self, result: Any, error: str | None) -> None:
        if error is not None:
            self.preview, self.preview_error = None, error
            self.preview_label.setText(
                f"<span style='color:{ERROR_COLOUR}'>"
                f"Cannot load the data: {escape_html(error)}</span>"
            )
            self.pictures.clear()
        else:
            data, summary = result
            self.preview, self.preview_error = data, None
            self.preview_label.setText(describe(data))
            if isinstance(summary, str):
                self.pictures.show_problem(summary)
            else:
                self.pictures.show_summary(summary)
        self._check_input()

    @Slot()
    def _on_preview_cancelled(self) -> None:
        """A stopped preview has ended: start the newer one it made way for, if any."""
        if self._pending:
            self._pending = False
            self.update_preview()

    def _check_input(self, *_changed: object) -> None:
        """Show the engine's reason and a fix when the data does not fit the Input node."""
        data, design = self.preview, self.document.design
        node_id = data_input(design)
        message = None
        if data is not None and node_id is not None:
            shape = design.node(node_id).params.get("shape")
            if isinstance(shape, list | tuple):
                try:
                    check_input_shape(data, tuple(shape), node_id)
                except DeepwireError as exc:
                    message = str(exc)
        self.mismatch_label.setText(f"⚠ {message}" if message else "")
        self.mismatch_label.setVisible(message is not None)
        if message is not None:
            shape_text = ", ".join(str(s) for s in data.input_shape)
            self.fix_button.setText(f"Set the shape of '{node_id}' to ({shape_text})")
        self.fix_button.setVisible(message is not None)

    def apply_input_fix(self) -> bool:
        """Set the Input node's shape to the data's sample shape (one undo step)."""
        node_id = data_input(self.document.design)
        if node_id is None or self.preview is None:
            return False
        shape = [int(s) for s in self.preview.input_shape]
        self.document.push(SetParam(self.document, node_id, "shape", shape))
        return True

    def shutdown(self, timeout: float = 10.0) -> bool:
        """Stop a running preview and wait for it at most ``timeout`` s (0: only ask; the
        window's close does that); True when none is left. It stops within one chunk."""
        self._preview_timer.stop()
        self._pending = False
        if self._call is None:
            return True
        self._call.cancel()
        return self._call.wait(timeout)


def prepare_preview(
    spec: dict[str, Any],
    base_dir: Any,
    seed: int,
    should_stop: Callable[[], bool] | None = None,
) -> tuple[Any, Any]:
    """``prepare_data`` and the numbers of its pictures (in the preview's worker thread):
    ``(prepared data, DataSummary)``, or the summary's one-line failure instead of it (the
    data itself loaded, so the panel still shows it and checks the Input node)."""
    seen: list[Any] = []
    data = prepare_data(
        spec,
        base_dir,
        seed,
        should_stop=should_stop,
        on_raw=lambda raw: seen.append(copy.copy(raw)),
    )
    try:
        from engine.data.streaming import picture_view
        from engine.data.summary import class_counts

        # streamed data: the pictures read a sample of the training split, not all of it
        summary = summarize(picture_view(data, seed), seen[0] if seen else None, seed, should_stop)
        summary.class_counts = class_counts(data)
        steps = (spec.get("augment") or {}).get("steps") if isinstance(spec, dict) else None
        if summary.grid is not None and steps:
            # the same samples as the first epoch of a run with this seed would see them;
            # DataPictures draws both grids side by side
            from engine.data.augment import preview as augmented

            summary.grid.set_after(augmented(summary.grid.samples, spec["augment"], "image", seed))
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - a picture that fails is one line, not a dialog
        return data, first_line(exc)
    return data, summary


def describe(data: Any) -> str:
    """A few lines on prepared data: splits, shapes, classes."""
    shape = (
        "("
        + ", ".join(str(s) for s in data.input_shape)
        + ("," if len(data.input_shape) == 1 else "")
        + ")"
    )
    lines = [
        f"<b>{len(data.x_train):,}</b> training, <b>{len(data.x_val):,}</b> validation"
        + (f", <b>{len(data.x_test):,}</b> test" if len(data.x_test) else "")
        + " samples",
        f"each sample {shape}; task {data.task}",
    ]
    if data.class_names:
        names = ", ".join(escape_html(str(n)) for n in data.class_names[:12])
        more = f" … ({len(data.class_names)} in all)" if len(data.class_names) > 12 else ""
        lines.append(f"{len(data.class_names)} classes: {names}{more}")
    elif data.target_shape:
        lines.append("target " + "(" + ", ".join(str(s) for s in data.target_shape) + ")")
    lines.append(f"<i>{escape_html(data.description)}</i>")
    if getattr(data, "storage", ""):  # an image folder or .npy: resident or streamed
        lines.append(escape_html(data.storage))
    return "<br>".join(lines)
