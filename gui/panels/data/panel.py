"""The data panel itself: the design's ``data`` section shown in the source, preprocessing and
split forms and a preview (see the package docstring).

Every change is one :class:`~gui.commands.ReplaceSection` on the undo stack, checked with the
engine first (:func:`engine.editing.data_section.check_spec`; a refused value shows the reason
and pushes nothing).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QPushButton, QWidget

from engine.data.spec import normalize_spec
from engine.editing import data_section as ds
from engine.errors import DeepwireError
from gui.commands import ReplaceSection, formatting_value, use_default_data
from gui.document import DEFAULT_DATA, Document
from gui.panels.data.augment_form import AugmentForm
from gui.panels.data.fields import status_label
from gui.panels.data.preprocess_form import PreprocessForm
from gui.panels.data.preview import PreviewSection
from gui.panels.data.source_form import SourceForm
from gui.summary import data_problem
from gui.widgets import ERROR_COLOUR, scrolled_body


class DataPanel(SourceForm, PreprocessForm, AugmentForm, PreviewSection, QWidget):
    """Edits ``document.design.data`` (see the package docstring)."""

    statusMessage = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        #: ``choose_path(kind, folder)`` → a chosen path or None; tests replace it.
        self.choose_path: Callable[[str, bool], str | None] = self._ask_path
        self._refreshing = False
        self._option_editors: dict[str, QWidget] = {}
        self._options_for: str | None = None
        self._build_ui()
        self._init_preview()
        # the data section changes → new preview; any other edit may change the Input node only
        document.sectionChanged.connect(self._on_section_changed)
        document.analysisChanged.connect(self._check_input)
        document.analysisChanged.connect(self._show_augment_ops)  # the Input's form may change
        document.designReset.connect(self._on_design_edited)
        self.refresh()
        self._schedule_preview()

    def _build_ui(self) -> None:
        layout = scrolled_body(self)
        # a design without a (valid) data section says so here, with the one-click fix
        self.missing_label = status_label(ERROR_COLOUR)
        self.use_digits_button = QPushButton("Use built-in digits")
        self.use_digits_button.setToolTip(
            "Train on scikit-learn's digits (64 pixels, 10 classes); one undoable edit"
        )
        self.use_digits_button.clicked.connect(self.use_default_data)
        self.use_digits_button.hide()
        layout.addWidget(self.missing_label)
        layout.addWidget(self.use_digits_button)
        layout.addWidget(self._build_source_box())
        layout.addWidget(self._build_preprocess_box())
        layout.addWidget(self._build_split_box())
        layout.addWidget(self._build_augment_box())
        self.error_label = status_label(ERROR_COLOUR)
        preview_box = self._build_preview_box()
        layout.addWidget(self.error_label)
        layout.addWidget(preview_box)
        layout.addStretch(1)

    # -- reading ---------------------------------------------------------------------------------

    @property
    def spec(self) -> dict[str, Any]:
        """The design's data section (a copy)."""
        data = self.document.design.data
        return copy.deepcopy(data) if isinstance(data, dict) else {}

    def base_dir(self) -> Path | None:
        """The folder relative data paths start from: the design file's."""
        path = self.document.path
        return path.parent if path is not None else None

    def resolve(self, path: str) -> Path:
        """A data path as the loaders read it: relative ones start at the design's folder."""
        return ds.resolve(path, self.base_dir())

    # -- editing ---------------------------------------------------------------------------------

    def set_value(self, path: tuple[str, ...], value: Any) -> bool:
        """Set one (possibly nested) key of the data section; False when refused or unchanged."""
        if self._refreshing:
            return False
        return self.replace(
            ds.with_value(self.spec, path, value),
            f"Set data {'.'.join(path)} to {formatting_value(value)}",
        )

    def replace(self, spec: dict[str, Any] | None, text: str) -> bool:
        """Push ``spec`` as the new data section if the engine accepts it (None: no change)."""
        if spec is None:
            return False
        try:
            ds.check_spec(spec)
        except DeepwireError as exc:
            self._refuse(str(exc))
            return False
        if spec == self.spec:
            return False
        self.document.push(ReplaceSection(self.document, "data", spec, text))
        return True

    def _refuse(self, reason: str) -> None:
        self.error_label.setText(f"Not applied: {reason}")
        self.error_label.show()
        self.statusMessage.emit(f"Not applied: {reason}")
        self.refresh()

    def use_default_data(self) -> bool:
        """Replace a missing or invalid data section with the built-in digits (undoable)."""
        if self.spec == DEFAULT_DATA:
            return False
        self.document.push(use_default_data(self.document))
        return True

    # -- showing ---------------------------------------------------------------------------------

    @Slot()
    def _on_section_changed(self, section: str) -> None:
        if section == "data":
            self._on_design_edited()

    def _on_design_edited(self) -> None:
        self.error_label.hide()
        self.refresh()
        self._check_input()
        self._schedule_preview()

    def refresh(self) -> None:
        """Show the design's data section in the editors (defaults where a key is absent)."""
        self._refreshing = True
        try:
            raw = self.spec
            problem = self.section_problem()
            self.missing_label.setText(problem or "")
            for widget in (self.missing_label, self.use_digits_button):
                widget.setVisible(problem is not None)
            for box in (self.pre_box, self.split_box, self.augment_box):  # no made-up values
                box.setVisible(problem is None)
            if problem is not None:  # show nothing the design does not hold
                self._show_no_source(raw)
                return
            spec = normalize_spec(raw)
            self._show_source(spec)
            self._show_preprocess(spec)
            self._show_augment(spec)
        finally:
            self._refreshing = False

    def section_problem(self) -> str | None:
        """Why the design's data section cannot be used (missing or invalid), or None."""
        problem = data_problem(self.document.design)
        return (
            None
            if problem is None
            else (f"{problem.message}. Choose a source below, or use the built-in digits dataset.")
        )
