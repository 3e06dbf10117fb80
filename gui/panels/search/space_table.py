"""The search space as an editable table: one row per entry of the design's ``search`` section.

Columns: key, kind, low, high, log, step, choices. A range entry edits low/high/log/step, a
choices entry its comma-separated choices (``adam, sgd``; ``32, 64``; ``true, false``). Every
edit builds the new entry, checks it with :func:`engine.editing.search_section.with_entry` (the
checks of :func:`engine.search_space.parse_search`) and pushes one
:class:`~gui.commands.ReplaceSection`; a refused edit pushes nothing, keeps what was typed in the
cell (marked) and shows the one-line reason under the table.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from engine.editing.search_section import with_entry
from engine.errors import first_line
from engine.search_space import SearchError, parse_entry, section_of
from gui.commands import ReplaceSection
from gui.document import Document
from gui.widgets import ERROR_COLOUR

COLUMNS = ("key", "kind", "low", "high", "log", "step", "choices")
KEY, KIND, LOW, HIGH, LOG, STEP, CHOICES = range(len(COLUMNS))
HEADERS = ("Setting", "Kind", "Low", "High", "Log", "Step", "Choices")


def number_text(value: Any) -> str:
    """How a bound shows in a cell: ``0.001``, ``16``, empty for None."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def parse_number(text: str, key: str, name: str) -> int | float:
    """``"0.001"`` → 0.001, ``"16"`` → 16; SearchError (one line) for anything else."""
    text = text.strip()
    try:
        value = json.loads(text)
    except ValueError:
        value = None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SearchError(
            f"search: {key!r}: {name} {text!r} is not a number; type one such as 0.001 or 16"
        )
    return value


def choices_text(choices: list[Any]) -> str:
    """``["adam", "sgd"]`` → ``adam, sgd``; numbers and true/false as JSON writes them."""
    return ", ".join(c if isinstance(c, str) else json.dumps(c) for c in choices)


def parse_choices(text: str) -> list[Any]:
    """``adam, sgd`` → ``["adam", "sgd"]``; ``32, 64`` → ``[32, 64]``; ``true, false`` →
    booleans; ``"32"`` (quoted) stays a name."""
    out: list[Any] = []
    for token in (t.strip() for t in text.split(",")):
        if not token:
            continue
        try:
            value = json.loads(token)
        except ValueError:
            value = token
        out.append(value if value is None or isinstance(value, str | int | float) else token)
    return out


class SpaceTable(QTableWidget):
    """The editable space; :attr:`refused` carries the one-line reason of a refused edit ('' when
    an edit went through)."""

    refused = Signal(str)

    def __init__(self, document: Document, parent=None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.document = document
        self._loading = False
        self.setHorizontalHeaderLabels(HEADERS)
        self.verticalHeader().hide()
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(CHOICES, QHeaderView.ResizeMode.Stretch)
        header.setMinimumSectionSize(44)
        self.setToolTip(
            "Double-click a cell to edit: low/high/step for a range (tick Log for a log scale), "
            "or the comma-separated choices"
        )
        self.itemChanged.connect(self._on_item_changed)
        self.load()

    # -- reading ----------------------------------------------------------------------------------

    def keys(self) -> list[str]:
        """The keys shown, in order."""
        return [self.item(r, KEY).text() for r in range(self.rowCount())]

    def row_of(self, key: str) -> int:
        """The row of ``key`` (ValueError when absent)."""
        return self.keys().index(key)

    def selected_key(self) -> str | None:
        """The key of the first selected row (None: nothing selected)."""
        rows = {i.row() for i in self.selectedItems()}
        return self.item(min(rows), KEY).text() if rows else None

    # -- loading ----------------------------------------------------------------------------------

    def load(self) -> None:
        """Show the design's space (after every edit, undo and open)."""
        design = self.document.design
        space = section_of(design).get("space")
        space = space if isinstance(space, dict) else {}
        self._loading = True
        try:
            self.setRowCount(0)
            for key, entry in space.items():
                self._add_row(str(key), entry if isinstance(entry, dict) else {})
        finally:
            self._loading = False

    def _add_row(self, key: str, entry: dict[str, Any]) -> None:
        row = self.rowCount()
        self.insertRow(row)
        fixed = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        editable = fixed | Qt.ItemFlag.ItemIsEditable
        is_choices = "choices" in entry
        try:
            kind = parse_entry(self.document.design, key, entry).kind
            kind = "choices" if kind == "categorical" else kind
        except SearchError:
            kind = "choices" if is_choices else "?"
        cells = {
            KEY: (key, fixed),
            KIND: (kind, fixed),
            LOW: (number_text(entry.get("low")), fixed if is_choices else editable),
            HIGH: (number_text(entry.get("high")), fixed if is_choices else editable),
            LOG: ("", fixed if is_choices else fixed | Qt.ItemFlag.ItemIsUserCheckable),
            STEP: (number_text(entry.get("step")), fixed if is_choices else editable),
            CHOICES: (
                choices_text(entry["choices"])
                if is_choices and isinstance(entry["choices"], list)
                else "",
                editable if is_choices else fixed,
            ),
        }
        for col, (text, flags) in cells.items():
            item = QTableWidgetItem(text)
            item.setFlags(flags)
            if col == LOG and not is_choices:
                item.setCheckState(
                    Qt.CheckState.Checked if entry.get("log") else Qt.CheckState.Unchecked
                )
            self.setItem(row, col, item)

    # -- editing ----------------------------------------------------------------------------------

    def entry_of(self, row: int) -> dict[str, Any]:
        """The entry the row's cells describe (SearchError: a cell is not a number)."""
        key = self.item(row, KEY).text()
        space = section_of(self.document.design).get("space") or {}
        entry = copy.deepcopy(space.get(key, {})) if isinstance(space, dict) else {}
        if "choices" in entry:
            return {**entry, "choices": parse_choices(self.item(row, CHOICES).text())}
        entry["low"] = parse_number(self.item(row, LOW).text(), key, "low")
        entry["high"] = parse_number(self.item(row, HIGH).text(), key, "high")
        if self.item(row, LOG).checkState() == Qt.CheckState.Checked:
            entry["log"] = True
        else:
            entry.pop("log", None)
        step = self.item(row, STEP).text().strip()
        if step:
            entry["step"] = parse_number(step, key, "step")
        else:
            entry.pop("step", None)
        return entry

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._loading:
            return
        row = item.row()
        key = self.item(row, KEY).text()
        design = self.document.design
        try:
            section = with_entry(design, key, self.entry_of(row))
        except SearchError as exc:
            self._loading = True
            try:
                item.setForeground(QBrush(QColor(ERROR_COLOUR)))
            finally:
                self._loading = False
            self.refused.emit(first_line(exc))
            return
        self.refused.emit("")
        if section != section_of(design):
            self.document.push(
                ReplaceSection(self.document, "search", section, f"Edit search {key}")
            )
        else:
            self.load()  # e.g. "0.10" typed for 0.1: show the stored form
