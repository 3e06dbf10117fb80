"""The side-by-side table of compared runs: metrics then settings, one column per run (headed
in the run's curve colour), rows whose values differ highlighted."""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem

from engine.run_compare import CompareRow, compare_rows
from gui.formatting import pretty
from gui.plots.common import with_alpha
from gui.plots.compare import run_colour
from gui.widgets import WARNING_COLOUR

#: Background of a row whose values differ between the runs.
DIFF_BRUSH = QBrush(with_alpha(WARNING_COLOUR, 0.22))


def cell_text(value: Any) -> str:
    """A compared value as text (``—`` for none)."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return ", ".join(cell_text(v) for v in value)
    return str(value)


class CompareTable(QTableWidget):
    """Rows from :func:`engine.run_compare.compare_rows`; :attr:`rows` keeps them (tests read
    which differ). ``only_differences`` hides the settings that are the same everywhere."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[CompareRow] = []
        self.only_differences = False
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.verticalHeader().setDefaultSectionSize(22)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.horizontalHeader().setStretchLastSection(True)
        self.setWordWrap(False)

    def set_runs(self, runs: list[Any]) -> None:
        """Show ``runs`` (:class:`~engine.runs.RunRecord`) side by side."""
        self.rows = compare_rows(runs) if runs else []
        shown = [
            r
            for r in self.rows
            if not (self.only_differences and r.group == "setting" and not r.differs)
        ]
        self.clear()
        self.setColumnCount(len(runs))
        self.setRowCount(len(shown))
        for i, run in enumerate(runs):
            head = QTableWidgetItem(run.name)
            head.setForeground(QBrush(QColor(run_colour(i))))
            head.setToolTip(str(run.path))
            self.setHorizontalHeaderItem(i, head)
        bold = QFont()
        bold.setBold(True)
        for r, row in enumerate(shown):
            label = QTableWidgetItem(row.key if row.group == "setting" else pretty(row.key))
            if row.differs:
                label.setFont(bold)
                label.setToolTip("Differs between the compared runs")
            self.setVerticalHeaderItem(r, label)
            for c, value in enumerate(row.values):
                item = QTableWidgetItem(cell_text(value))
                if row.differs:
                    item.setBackground(DIFF_BRUSH)
                    item.setFont(bold)
                self.setItem(r, c, item)
        self.resizeColumnsToContents()
        for c in range(self.columnCount()):
            self.setColumnWidth(c, min(self.columnWidth(c), 220))

    def set_only_differences(self, on: bool, runs: list[Any]) -> None:
        """Hide (``on``) or show the settings that are the same in every run."""
        self.only_differences = on
        self.set_runs(runs)
