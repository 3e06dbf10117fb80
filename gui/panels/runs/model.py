"""The runs table: one row per :class:`~engine.runs.RunRecord` (a model), sorted and filtered by
a proxy whose text filter looks at the run's name, status and note."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont, QPalette
from PySide6.QtWidgets import QApplication

from engine.runs import RunRecord, duration_text
from gui.formatting import escape_html, metric_text, pretty
from gui.widgets import ERROR_COLOUR, OK_COLOUR, UNKNOWN_CATEGORY_COLOUR, WARNING_COLOUR

#: Column titles, in order.
COLUMNS = (
    "★",
    "Name",
    "Status",
    "Started",
    "Duration",
    "Epochs",
    "Best",
    "Final",
    "Device",
    "Changed",
)
STAR, NAME, STATUS, STARTED, DURATION, EPOCHS, BEST, FINAL, DEVICE, CHANGED = range(len(COLUMNS))
#: The value a column sorts by (numbers sort as numbers; unknown values sort last).
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
#: The :class:`RunRow` of a row.
ROW_ROLE = Qt.ItemDataRole.UserRole + 2
#: A status's colour; ``running`` uses the palette's highlight colour.
STATUS_COLOURS = {
    "finished": OK_COLOUR,
    "stopped": WARNING_COLOUR,
    "interrupted": WARNING_COLOUR,
    "failed": ERROR_COLOUR,
    "unreadable": UNKNOWN_CATEGORY_COLOUR,
}


@dataclass
class RunRow:
    """A run as the table shows it: the record, the settings that differ from the open design
    (key → (run's, now)) and whether its design snapshot differs from the open design (None:
    no snapshot)."""

    run: RunRecord
    diff: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    design_changed: bool | None = None

    @property
    def name(self) -> str:
        """The run's name."""
        return self.run.name


def started_text(started: float | None) -> str:
    """``2026-12-02 04:13``; ``—`` when unknown."""
    if started is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(started))


def _value_text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "—"
    return str(value)


def changed_text(row: RunRow) -> str:
    """The settings that differ from the open design, by name, or what else differs."""
    if row.diff:
        keys = list(row.diff)
        return ", ".join(keys[:3]) + (f" +{len(keys) - 3}" if len(keys) > 3 else "")
    if row.design_changed:
        return "layers"
    return "—" if row.design_changed is not None or row.run.config is not None else "?"


def changed_tip(row: RunRow) -> str:
    """Each differing setting as ``key: run's → now``, and whether the layers differ."""
    lines = [
        f"{escape_html(k)}: {escape_html(_value_text(a))} → now {escape_html(_value_text(b))}"
        for k, (a, b) in row.diff.items()
    ]
    if row.design_changed and not lines:
        lines.append("The settings are the same; the layers or their parameters differ")
    elif row.design_changed:
        lines.append("The layers or their parameters differ too")
    if row.design_changed is None and not row.diff:
        lines.append("This run kept no copy of its design: nothing to compare with")
    if not lines:
        return "Trained with the open design's current settings"
    return "Differs from the open design:<br>" + "<br>".join(lines)


def metric_cell(run: RunRecord, record: dict[str, Any] | None) -> tuple[str, float | None]:
    """A record's monitored metric as text and number (``val loss 0.312``)."""
    if not record or not run.monitor:
        return "—", None
    value = record.get(run.monitor)
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "—", None
    return f"{pretty(run.monitor)} {metric_text(run.monitor, float(value))}", float(value)


def record_tip(title: str, record: dict[str, Any] | None) -> str:
    """Every metric of a record, one a line."""
    if not record:
        return ""
    lines = [
        f"{escape_html(pretty(k))}: {metric_text(k, float(v))}"
        for k, v in record.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and k != "elapsed_s"
    ]
    return f"<b>{escape_html(title)}</b><br>" + "<br>".join(lines)


class RunsModel(QAbstractTableModel):
    """The runs as rows (:data:`COLUMNS`); :meth:`set_rows` replaces them all."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[RunRow] = []

    def set_rows(self, rows: list[RunRow]) -> None:
        """Show ``rows`` instead of the rows shown."""
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rows_changed(self) -> None:
        """Every cell may show something new (a run's star or note changed in place)."""
        if self.rows:
            last = self.index(len(self.rows) - 1, len(COLUMNS) - 1)
            self.dataChanged.emit(self.index(0, 0), last)

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008, N802 - Qt's name
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008, N802 - Qt's name
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return {
                    STAR: "Starred runs (click to star or unstar)",
                    BEST: "The monitored metric at the best epoch",
                    FINAL: "The same metric at the last epoch",
                    CHANGED: "Settings of the run that differ from the open design's",
                }.get(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role=Qt.ItemDataRole.DisplayRole):
        """A cell's text, sort value (:data:`SORT_ROLE`), tooltip, colour or :class:`RunRow`."""
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        run = row.run
        col = index.column()
        if role == ROW_ROLE:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._text(row, col, role == Qt.ItemDataRole.EditRole)
        if role == SORT_ROLE:
            return self._sort_value(row, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tip(row, col)
        if role == Qt.ItemDataRole.ForegroundRole:
            if col == STATUS:
                colour = STATUS_COLOURS.get(run.status)
                if colour is None:  # running
                    app = QApplication.instance()
                    return app.palette().brush(QPalette.ColorRole.Highlight) if app else None
                return QBrush(QColor(colour))
            if col == STAR and run.star:
                return QBrush(QColor(WARNING_COLOUR))
        if role == Qt.ItemDataRole.FontRole and col == STATUS and run.status == "running":
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (STAR, EPOCHS, DURATION):
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    @staticmethod
    def _text(row: RunRow, col: int, edit: bool) -> str:
        run = row.run
        if col == STAR:
            return "★" if run.star else "☆"
        if col == NAME:
            return run.name
        if col == STATUS:
            return run.status
        if col == STARTED:
            return started_text(run.started)
        if col == DURATION:
            return duration_text(run.duration_s, spaced=True)
        if col == EPOCHS:
            total = f"/{run.epochs}" if run.epochs else ""
            return f"{run.epochs_completed}{total}"
        if col == BEST:
            text, _ = metric_cell(run, run.best)
            return (
                text if run.best_epoch is None or text == "—" else f"{text} (ep {run.best_epoch})"
            )
        if col == FINAL:  # the same metric as Best, which names it
            value = metric_cell(run, run.final)[1]
            return "—" if value is None else metric_text(run.monitor or "", value)
        if col == DEVICE:
            return run.device or "—"
        return changed_text(row)

    @staticmethod
    def _sort_value(row: RunRow, col: int) -> Any:
        run = row.run
        values = {
            STAR: int(run.star),
            NAME: run.name.lower(),
            STATUS: run.status,
            STARTED: run.started,
            DURATION: run.duration_s,
            EPOCHS: run.epochs_completed,
            BEST: metric_cell(run, run.best)[1],
            FINAL: metric_cell(run, run.final)[1],
            DEVICE: run.device or "",
            CHANGED: len(row.diff) + (1 if row.design_changed else 0),
        }
        value = values[col]
        return float("-inf") if value is None else value

    @staticmethod
    def _tip(row: RunRow, col: int) -> str | None:
        run = row.run
        if col == CHANGED:
            return changed_tip(row)
        if col == STATUS:
            if run.reason:
                return escape_html(run.reason)
            return None
        if col == NAME:
            lines = [escape_html(str(run.path))]
            if run.note:
                lines.append("<i>" + escape_html(run.note).replace("\n", "<br>") + "</i>")
            return "<br>".join(lines)
        if col == BEST:
            return record_tip(f"Best epoch ({run.best_epoch})", run.best) or None
        if col == FINAL:
            return record_tip("Last epoch", run.final) or None
        return None


class RunsFilter(QSortFilterProxyModel):
    """Sorts by :data:`SORT_ROLE`; :meth:`set_text` keeps the runs whose name, status or note
    contain the text (any case)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._text = ""

    def set_text(self, text: str) -> None:
        """Keep the runs whose name, status or note hold every word of ``text``."""
        self.beginFilterChange()
        self._text = text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent) -> bool:  # noqa: N802
        if not self._text:
            return True
        model = self.sourceModel()
        row: RunRow = model.data(model.index(source_row, 0, source_parent), ROW_ROLE)
        haystack = " ".join((row.run.name, row.run.status, row.run.note)).lower()
        return all(word in haystack for word in self._text.split())

    def lessThan(self, left, right) -> bool:  # noqa: N802 - Qt's name
        a, b = left.data(SORT_ROLE), right.data(SORT_ROLE)
        try:
            return a < b
        except TypeError:
            return str(a) < str(b)
