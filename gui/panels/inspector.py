"""The inspector: edits the selected node's label and parameters, shows its shapes and cost.

Editors are generated from the layer's :class:`~engine.layers.ParamSpec` schema: spin boxes with
the allowed range for numbers, a combo box for choices, a check box for flags and a text field for
shapes. Every user edit becomes a :class:`~gui.commands.SetParam` or
:class:`~gui.commands.Relabel` pushed on the document. Each searchable parameter has a toggle
("search this parameter", also in the row label's context menu) that adds a first range for it
to the design's search space, or removes it: one :class:`~gui.commands.ReplaceSection` each; a value the schema refuses is not pushed and
the reason appears under the editors. The inspector observes the document, so undo refreshes it;
refreshing blocks the editors' signals, so it never pushes an edit back.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QScrollArea,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from engine.blocks import BLOCK_TYPE
from engine.editing import blocks as block_edits
from engine.editing.search_section import default_entry, with_entry, without_entry
from engine.errors import first_line
from engine.layers import CATEGORIES, REGISTRY, ParamSpec, ParamValueError, fmt_shape
from engine.search_space import SEARCHABLE_KINDS, SearchError, section_of
from gui import formatting
from gui.canvas.items import BLOCK_COLOUR
from gui.commands import ApplyDesignEdit, Relabel, ReplaceSection, SetParam
from gui.document import Document
from gui.icons import icon
from gui.summary import summary_of
from gui.widgets import (
    ERROR_COLOUR,
    UNKNOWN_CATEGORY_COLOUR,
    FloatSpinBox,
    growing_form,
    wrap_long_rows,
)

INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def parse_shape(text: str) -> list[int]:
    """``"1, 8, 8"``, ``"(1, 8, 8)"``, ``"1x8x8"`` → ``[1, 8, 8]``; ValueError names a bad item."""
    tokens = [t for t in re.split(r"[\s,x×]+", text.strip().strip("()[]")) if t]
    if not tokens:
        raise ValueError("enter the sizes separated by commas, e.g. 1, 28, 28")
    dims = []
    for token in tokens:
        try:
            dims.append(int(token))
        except ValueError:
            raise ValueError(
                f"'{token}' is not a whole number; enter sizes such as 1, 28, 28"
            ) from None
    return dims


class InspectorPanel(QWidget):
    """Shows and edits one node; with no node selected it summarises the design."""

    errorShown = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None
        self._selection: list[str] = []
        self._type: str | None = None
        self._editors: dict[str, QWidget] = {}
        self._setters: dict[str, Callable[[Any], None]] = {}
        self._search_buttons: dict[str, QToolButton] = {}

        self._build_scroll()
        self._build_heading()
        self._build_node_box()
        self._build_params_box()
        self._build_shape_box()
        self._build_design_box()
        self._lay_out()

        self._link(document, True)
        self.show_selection([])

    def _link(self, document: Document, on: bool) -> None:
        """Observe (or stop observing) ``document``."""
        if on:
            self.summary = summary_of(document)
        for signal, slot in (
            (self.summary.changed, self._on_summary_changed),
            (document.nodeChanged, self._on_node_changed),
            (document.nodeRemoved, self._on_node_removed),
            (document.analysisChanged, self._on_analysis_changed),
            (document.designReset, self._on_reset),
            (document.sectionChanged, self._on_section_changed),
        ):
            if on:
                signal.connect(slot)
            else:
                signal.disconnect(slot)

    def set_document(self, document: Document) -> None:
        """Inspect another document (the inside of a block while the canvas shows it)."""
        if document is self.document:
            return
        self._link(self.document, False)
        self.document = document
        self._link(document, True)
        self._on_reset()

    # -- building ----------------------------------------------------------------------------

    def _build_scroll(self) -> None:
        """The scroll area that holds the whole panel."""
        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self._scroll)

    def _build_heading(self) -> None:
        """Title, the layer type's help and the error line."""
        self.title = QLabel()
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.help = QLabel()
        self.help.setWordWrap(True)
        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(f"color: {ERROR_COLOUR};")
        self.error_label.hide()

    def _build_node_box(self) -> None:
        """The "Layer" box: label (editable), id and network."""
        self.label_edit = QLineEdit()
        self.label_edit.setPlaceholderText("(shows the id)")
        self.label_edit.editingFinished.connect(self._commit_label)
        self.id_label = QLabel()
        self.id_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.network_label = QLabel()
        self.node_box = QGroupBox("Layer")
        node_form = wrap_long_rows(QFormLayout(self.node_box))
        node_form.addRow("Label", self.label_edit)
        node_form.addRow("Id", self.id_label)
        node_form.addRow("Network", self.network_label)

    def _build_params_box(self) -> None:
        """The "Parameters" box; its rows follow the inspected layer's type."""
        self.params_box = QGroupBox("Parameters")
        self.params_form = growing_form()
        self.params_box.setLayout(self.params_form)

    def _build_shape_box(self) -> None:
        """The "Shapes and cost" box and the node's problems line."""
        self.shape_box = QGroupBox("Shapes and cost")
        shape_form = wrap_long_rows(QFormLayout(self.shape_box))
        self.input_shape_label = QLabel()
        self.output_shape_label = QLabel()
        self.params_label = QLabel()
        self.macs_label = QLabel()
        self.memory_label = QLabel()
        for lbl in (self.input_shape_label, self.output_shape_label):
            lbl.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            lbl.setWordWrap(True)
        shape_form.addRow("Input", self.input_shape_label)
        shape_form.addRow("Output", self.output_shape_label)
        shape_form.addRow("Parameters", self.params_label)
        shape_form.addRow("MACs / sample", self.macs_label)
        shape_form.addRow("Activations", self.memory_label)
        self.node_problems = QLabel()
        self.node_problems.setWordWrap(True)
        self.node_problems.setStyleSheet(f"color: {ERROR_COLOUR};")

    def _build_design_box(self) -> None:
        """The summary line and the "Design" box shown when no single node is inspected."""
        self.summary_label = QLabel()
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        self.summary_label.setAlignment(Qt.AlignmentFlag.AlignTop)
        # The design's figures, in plain labels: each edit updates only the ones that changed.
        self.design_box = QGroupBox("Design")
        design_form = wrap_long_rows(QFormLayout(self.design_box))
        self.layers_value = QLabel()
        self.networks_value = QLabel()
        self.status_value = QLabel()
        self.total_params_value = QLabel()
        self.total_macs_value = QLabel()
        self.total_memory_value = QLabel()
        for value in (self.layers_value, self.networks_value, self.status_value):
            value.setWordWrap(True)  # a long figure wraps: no sideways scroll bar in the dock
        design_form.addRow("Layers", self.layers_value)
        design_form.addRow("Networks", self.networks_value)
        design_form.addRow("Status", self.status_value)
        design_form.addRow("Parameters", self.total_params_value)
        design_form.addRow("MACs / sample", self.total_macs_value)
        design_form.addRow("Activations", self.total_memory_value)
        self._summary_head: tuple[str, str] | None = None

    def _lay_out(self) -> None:
        """Stack every part in the scroll area's body."""
        body = QWidget()
        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 8, 8, 8)
        for w in (
            self.title,
            self.help,
            self.node_box,
            self.params_box,
            self.error_label,
            self.shape_box,
            self.node_problems,
            self.summary_label,
            self.design_box,
        ):
            layout.addWidget(w)
        layout.addStretch(1)
        self._scroll.setWidget(body)

    # -- public ------------------------------------------------------------------------------

    def show_selection(self, node_ids: list[str]) -> None:
        """Inspect the one selected node, or summarise the selection / design."""
        self._selection = [n for n in node_ids if n in self.document.design]
        node_id = self._selection[0] if len(self._selection) == 1 else None
        if node_id != self.node_id or node_id is None:
            self._clear_error()
        self.node_id = node_id
        if node_id is None:
            self._type = None
            self._show_summary()
            return
        node = self.document.design.node(node_id)
        kind = _editor_kind(node)
        if kind != self._type or not self._editors and self._has_params(kind):
            self._build_editors(kind)
        self._load_node()
        self._load_info()

    def editor(self, name: str) -> QWidget:
        """The editor widget of parameter ``name`` (KeyError if the node has no such parameter)."""
        return self._editors[name]

    def search_button(self, name: str) -> QToolButton:
        """The "search this parameter" toggle of parameter ``name`` (KeyError: not searchable)."""
        return self._search_buttons[name]

    def toggle_search(self, name: str) -> bool:
        """Add parameter ``name`` of the inspected node to the search space with a first range
        (:func:`~engine.editing.search_section.default_entry`), or remove it when it is there:
        one undo step. False (with the reason shown) when it cannot."""
        node_id = self.node_id
        if node_id is None or node_id not in self.document.design:
            return False
        design = self.document.design
        key = f"{node_id}.{name}"
        space = section_of(design).get("space")
        present = isinstance(space, dict) and key in space
        try:
            if present:
                section, text = without_entry(design, key), f"Stop searching {key}"
            else:
                section = with_entry(design, key, default_entry(design, key))
                text = f"Search {key}"
        except SearchError as exc:
            self._refuse(first_line(exc))
            return False
        self._clear_error()
        self.document.push(ReplaceSection(self.document, "search", section, text))
        return True

    @property
    def error_text(self) -> str:
        """The refusal reason shown, or ''."""
        return self.error_label.text() if not self.error_label.isHidden() else ""

    # -- building ----------------------------------------------------------------------------

    @staticmethod
    def _has_params(type_id: str) -> bool:
        return type_id.startswith("Block:") or (
            type_id in REGISTRY and bool(REGISTRY.get(type_id).params)
        )

    def _block_specs(self, node) -> list[ParamSpec]:
        """A block instance's editable values: repeat, then each exposed parameter (edited as
        the first inner parameter it sets)."""
        defn = self.document.design.blocks.get(node.params.get("block"))
        specs = [
            ParamSpec("repeat", "int", 1, minimum=1, maximum=1000, help="copies chained in a row")
        ]
        if defn is None:
            return specs
        for exposed, targets in defn.params.items():
            inner, _, param = targets[0].partition(".") if targets else ("", "", "")
            if inner in defn.body and defn.body.node(inner).type in REGISTRY:
                try:
                    ps = REGISTRY.get(defn.body.node(inner).type).param(param)
                except KeyError:
                    continue
                default = defn.default(exposed)
                specs.append(
                    dataclasses.replace(
                        ps,
                        name=exposed,
                        default=ps.default if default is None else default,
                        help=f"sets {', '.join(targets)}",
                    )
                )
        return specs

    def _build_editors(self, type_id: str) -> None:
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self._editors.clear()
        self._setters.clear()
        self._search_buttons.clear()
        self._type = type_id
        if type_id.startswith("Block:") and self.node_id in self.document.design:
            params = self._block_specs(self.document.design.node(self.node_id))
        elif type_id not in REGISTRY:
            return
        else:
            params = REGISTRY.get(type_id).params
        for ps in params:
            editor, setter = self._make_editor(ps)
            tip = f"{ps.help}\nAllowed: {ps.describe_range()}; default {ps.default!r}".strip()
            editor.setToolTip(tip)
            editor.setObjectName(f"param_{ps.name}")
            label = QLabel(ps.name.replace("_", " "))
            label.setToolTip(tip)
            label.setBuddy(editor)
            field: QWidget = editor
            if ps.kind in SEARCHABLE_KINDS and not type_id.startswith("Block:"):
                field = self._with_search_button(ps.name, editor, label)
            self.params_form.addRow(label, field)
            self._editors[ps.name] = editor
            self._setters[ps.name] = setter

    def _with_search_button(self, name: str, editor: QWidget, label: QLabel) -> QWidget:
        """``editor`` with its "search this parameter" toggle beside it; the row label's
        context menu offers the same."""
        button = QToolButton()
        button.setObjectName(f"search_{name}")
        button.setIcon(icon("search"))
        button.setCheckable(True)
        button.setAutoRaise(True)
        button.clicked.connect(lambda _checked=False, n=name: self._on_search_clicked(n))
        self._search_buttons[name] = button
        label.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        label.customContextMenuRequested.connect(
            lambda pos, n=name, w=label: self._search_menu(n, w.mapToGlobal(pos))
        )
        row = QWidget()
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(editor, 1)
        layout.addWidget(button)
        return row

    def _on_search_clicked(self, name: str) -> None:
        self.toggle_search(name)
        self._load_search_states()  # a refused toggle goes back

    def _search_menu(self, name: str, where: QPoint) -> None:
        button = self._search_buttons.get(name)
        if button is None:
            return
        menu = QMenu(self)
        text = "Stop searching this parameter" if button.isChecked() else "Search this parameter"
        menu.addAction(text, lambda n=name: self._on_search_clicked(n))
        menu.exec(where)

    def _load_search_states(self) -> None:
        """Check the toggles of the parameters that are in the search space."""
        if self.node_id is None or not self._search_buttons:
            return
        space = section_of(self.document.design).get("space")
        keys = set(space) if isinstance(space, dict) else set()
        for name, button in self._search_buttons.items():
            key = f"{self.node_id}.{name}"
            on = key in keys
            button.setChecked(on)
            button.setToolTip(
                f"{key} is in the search space (see the Search panel); click to remove it"
                if on
                else f"Search this parameter: add {key} to the search space with a first "
                "range (edit it in the Search panel)"
            )

    def _make_editor(self, ps: ParamSpec) -> tuple[QWidget, Callable[[Any], None]]:
        name = ps.name
        if ps.kind == "int":
            box = QSpinBox()
            box.setRange(
                int(ps.minimum) if ps.minimum is not None else INT_MIN,
                int(ps.maximum) if ps.maximum is not None else INT_MAX,
            )
            box.setKeyboardTracking(False)
            box.setAccelerated(True)
            box.valueChanged.connect(lambda v, n=name: self._commit(n, int(v)))
            return box, lambda v, b=box: b.setValue(int(v))
        if ps.kind == "float":
            fbox = FloatSpinBox()
            lo = ps.minimum if ps.minimum is not None else -1e12
            hi = ps.maximum if ps.maximum is not None else 1e12
            fbox.setRange(lo, hi)
            span = hi - lo
            fbox.setSingleStep(0.05 if span <= 1 else 0.1 if span <= 10 else 1.0)
            if ps.default and abs(ps.default) < 1e-3:
                fbox.setSingleStep(abs(ps.default))
            fbox.setKeyboardTracking(False)
            fbox.valueChanged.connect(lambda v, n=name: self._commit(n, float(v)))
            return fbox, lambda v, b=fbox: b.setValue(float(v))
        if ps.kind == "bool":
            check = QCheckBox()
            check.clicked.connect(lambda checked, n=name: self._commit(n, bool(checked)))
            return check, lambda v, c=check: c.setChecked(bool(v))
        if ps.kind == "choice":
            combo = QComboBox()
            combo.addItems(list(ps.choices))
            combo.activated.connect(
                lambda index, n=name, c=combo: self._commit(n, c.itemText(index))
            )
            return combo, lambda v, c=combo: c.setCurrentIndex(max(0, c.findText(str(v))))
        edit = QLineEdit()
        edit.setPlaceholderText("e.g. 1, 28, 28")
        edit.editingFinished.connect(lambda n=name, e=edit: self._commit_shape(n, e.text()))
        return edit, lambda v, e=edit: e.setText(formatting.param_value(v))

    # -- loading -----------------------------------------------------------------------------

    def _load_node(self) -> None:
        node = self.document.design.node(self.node_id)
        if node.type == BLOCK_TYPE:
            self._load_block(node)
            return
        spec = REGISTRY.get(node.type) if node.type in REGISTRY else None
        colour = (
            CATEGORIES.get(spec.category, UNKNOWN_CATEGORY_COLOUR)
            if spec
            else UNKNOWN_CATEGORY_COLOUR
        )
        name = spec.display_name if spec else f"unknown type {node.type!r}"
        category = spec.category if spec else ""
        self.title.setText(
            f"<span style='color:{colour}; font-size:large'>■</span> "
            f"<b style='font-size:large'>{name}</b> &nbsp;<i>{category}</i>"
        )
        self.help.setText(spec.help if spec else "This layer type is not known to Deepwire.")
        if not self.label_edit.hasFocus() or self.label_edit.text() != node.label:
            self.label_edit.setText(node.label)
        self.label_edit.setPlaceholderText(node.id)
        self.id_label.setText(node.id)
        self.network_label.setText(self.document.network_titles().get(node.network, node.network))
        if spec is not None:
            for ps in spec.params:
                self._set_editor(ps.name, node.params.get(ps.name, ps.default))
        self._load_search_states()
        for w in (self.title, self.help, self.node_box, self.shape_box):
            w.show()
        self.params_box.setVisible(bool(self._editors))
        self.summary_label.hide()
        self.design_box.hide()
        self._summary_head = None

    def _load_block(self, node) -> None:
        """A block instance: its definition's name and description, its values."""
        name = node.params.get("block", "?")
        defn = self.document.design.blocks.get(name)
        self.title.setText(
            f"<span style='color:{BLOCK_COLOUR.name()}; font-size:large'>▣</span> "
            f"<b style='font-size:large'>{name}</b> &nbsp;<i>block</i>"
        )
        about = defn.description if defn is not None and defn.description else ""
        self.help.setText(
            (about + " — " if about else "")
            + "Double-click to edit its inside (every instance changes)."
        )
        if not self.label_edit.hasFocus() or self.label_edit.text() != node.label:
            self.label_edit.setText(node.label)
        self.label_edit.setPlaceholderText(node.id)
        self.id_label.setText(node.id)
        self.network_label.setText(self.document.network_titles().get(node.network, node.network))
        for ps in self._block_specs(node):
            self._set_editor(ps.name, node.params.get(ps.name, ps.default))
        for w in (self.title, self.help, self.node_box, self.shape_box):
            w.show()
        self.params_box.setVisible(bool(self._editors))
        self.summary_label.hide()
        self.design_box.hide()
        self._summary_head = None

    def _commit_block(self, node, name: str, value: Any) -> None:
        """Set ``repeat`` or an exposed value of a block instance: one undo step."""
        specs = {ps.name: ps for ps in self._block_specs(node)}
        current = node.params.get(name, specs[name].default if name in specs else None)
        if _same(current, value):
            self._clear_error()
            return
        try:
            if name in specs and value is not None:
                value = specs[name].coerce(value)
                if isinstance(value, tuple):
                    value = list(value)
            if name == "repeat":
                edit = block_edits.set_repeat(self.document.design, node.id, int(value))
            else:
                edit = block_edits.set_block_value(self.document.design, node.id, name, value)
        except (ParamValueError, block_edits.BlockEditError) as exc:
            self._refuse(f"{name} of {node.id} {first_line(exc)}")
            return
        self._clear_error()
        apply = getattr(self.document, "push_design", None)
        if apply is not None:  # inside a block: the definition changes
            apply(edit.design, edit.text)
        else:
            self.document.push(ApplyDesignEdit(self.document, edit.design, edit.text))

    def _set_editor(self, name: str, value: Any) -> None:
        editor = self._editors.get(name)
        if editor is None:
            return
        blocked = editor.blockSignals(True)
        try:
            self._setters[name](value)
        except (TypeError, ValueError):
            pass  # an invalid stored value: the problems list reports it
        finally:
            editor.blockSignals(blocked)

    def _load_info(self) -> None:
        info = self.document.analysis.info.get(self.node_id)
        if info is None:
            for lbl in (
                self.input_shape_label,
                self.output_shape_label,
                self.params_label,
                self.macs_label,
                self.memory_label,
            ):
                lbl.setText("—")
            self.node_problems.hide()
            return
        ins = [fmt_shape(s) for s in info.input_shapes]
        self.input_shape_label.setText(", ".join(ins) if ins else "—")
        self.output_shape_label.setText(
            fmt_shape(info.output_shape) if info.output_shape is not None else "unknown"
        )
        self.params_label.setText(formatting.count(info.params))
        self.macs_label.setText(formatting.count(info.macs))
        self.memory_label.setText(f"{formatting.size(info.activation_bytes)} per sample")
        problems = list(info.problems) + [
            p for p in self.document.analysis.design_problems if p.node == self.node_id
        ]
        self.node_problems.setText(
            "\n".join("⚠ " + p.message + (f" — {p.fix}" if p.fix else "") for p in problems)
        )
        self.node_problems.setVisible(bool(problems))

    def _show_summary(self) -> None:
        for w in (self.node_box, self.params_box, self.shape_box, self.node_problems, self.help):
            w.hide()
        design = self.document.design
        analysis = self.document.analysis
        if self._selection:
            ids = set(self._selection)
            p = sum(analysis.info[n].params for n in ids if n in analysis.info)
            m = sum(analysis.info[n].macs for n in ids if n in analysis.info)
            self._summary_head = None
            self.title.setText(f"<b style='font-size:large'>{len(ids)} layers selected</b>")
            self.summary_label.setText(
                f"Parameters: {formatting.count(p)}<br>"
                f"MACs / sample: {formatting.count(m)}<br><br>"
                "Select a single layer to edit it."
            )
            self.design_box.hide()
        else:
            head = (design.name, design.description)
            if head != self._summary_head:  # changes only with a new design
                self._summary_head = head
                self.title.setText(
                    f"<b style='font-size:large'>{formatting.escape_html(design.name)}</b>"
                )
                self.summary_label.setText(
                    (
                        f"<p>{formatting.escape_html(design.description)}</p>"
                        if design.description
                        else ""
                    )
                    + "<p><i>Select a layer on the canvas to edit its parameters.</i></p>"
                )
            self._fill_design_box()
            self.design_box.show()
        self.title.show()
        self.summary_label.show()

    def _fill_design_box(self) -> None:
        summary = self.summary
        totals = summary.totals
        self.layers_value.setText(
            f"{formatting.count(len(self.document.design))} layers, "
            f"{formatting.count(summary.edge_count)} connections"
        )
        self.networks_value.setText(
            "\n".join(
                f"{title}: {summary.network_sizes.get(name, 0)} layers"
                for name, title in self.document.network_titles().items()
            )
        )
        count = len(summary.problems)
        self.status_value.setText(
            "✔ valid"
            if not count
            else f"⚠ {count} problem{'s' if count != 1 else ''} (see Problems)"
        )
        style = f"color: {ERROR_COLOUR};" if count else ""
        if self.status_value.styleSheet() != style:
            self.status_value.setStyleSheet(style)
        self.total_params_value.setText(formatting.count(totals.params))
        self.total_macs_value.setText(formatting.count(totals.macs))
        self.total_memory_value.setText(f"{formatting.size(totals.activation_bytes)} per sample")

    # -- committing --------------------------------------------------------------------------

    def _commit(self, name: str, value: Any) -> None:
        node_id = self.node_id
        if node_id is None or node_id not in self.document.design:
            return
        node = self.document.design.node(node_id)
        if node.type == BLOCK_TYPE:
            self._commit_block(node, name, value)
            return
        spec = REGISTRY.get(node.type)
        current = node.params.get(name, spec.param(name).default)
        if _same(current, value):
            self._clear_error()
            return
        try:
            command = SetParam(self.document, node_id, name, value)
        except ValueError as exc:
            self._refuse(str(exc))
            return
        self._clear_error()
        self.document.push(command)

    def _commit_shape(self, name: str, text: str) -> None:
        if self.node_id is None:
            return
        try:
            dims = parse_shape(text)
        except ValueError as exc:
            self._refuse(f"{name}: {exc}")
            return
        self._commit(name, dims)

    def _commit_label(self) -> None:
        node_id = self.node_id
        if node_id is None or node_id not in self.document.design:
            return
        text = self.label_edit.text().strip()
        if text != self.document.design.node(node_id).label:
            self.document.push(Relabel(self.document, node_id, text))

    def _refuse(self, reason: str) -> None:
        """Show why a value was refused and put the editors back to the stored values."""
        self.error_label.setText(f"Not applied: {reason}")
        self.error_label.show()
        self.errorShown.emit(reason)
        if self.node_id is not None:
            self._load_node()

    def _clear_error(self) -> None:
        self.error_label.clear()
        self.error_label.hide()

    # -- document signals --------------------------------------------------------------------

    def _on_node_changed(self, node_id: str) -> None:
        if node_id == self.node_id:
            self._load_node()

    def _on_node_removed(self, node_id: str) -> None:
        if node_id in self._selection:
            self.show_selection([n for n in self._selection if n != node_id])

    def _on_analysis_changed(self, changed: set[str]) -> None:
        if self.node_id is not None and self.node_id in changed:
            self._load_info()

    def _on_section_changed(self, section: str) -> None:
        if section == "search":
            self._load_search_states()

    def _on_summary_changed(self) -> None:
        if self.node_id is None and self.isVisible():
            self._show_summary()

    def showEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if self.node_id is None:
            self._show_summary()

    def _on_reset(self) -> None:
        self._type = None
        self._summary_head = None
        self.show_selection([])


def _editor_kind(node) -> str:
    """What decides a node's editors: its type, or for a block instance its definition."""
    if node.type == BLOCK_TYPE:
        return f"Block:{node.params.get('block')}"
    return node.type


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b
