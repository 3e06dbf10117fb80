"""The problems list: every validation problem of the design, with the node it names and a fix.

It observes the document's analysis; clicking a row emits :attr:`ProblemsPanel.nodeRequested`
so the main window can select and centre that node on the canvas. A problem of the design's data
section carries a one-click fix (a button in its "How to fix" cell) that is one undoable edit.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.shapes import Problem
from gui.commands import use_default_data
from gui.document import Document
from gui.icons import icon
from gui.summary import SectionProblem, summary_of

NODE_ROLE = Qt.ItemDataRole.UserRole
SECTION_ROLE = Qt.ItemDataRole.UserRole + 1


class ProblemsPanel(QWidget):
    """A three-column list (node, problem, fix) kept in step with ``document.analysis``."""

    nodeRequested = Signal(str)  # a problem row naming a node was clicked
    sectionRequested = Signal(str)  # a row about the "data" or "training" section was clicked
    countChanged = Signal(int)

    def __init__(self, document: Document, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.document = document
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Node", "Problem", "How to fix"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.setWordWrap(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        header.resizeSection(1, 520)
        self.tree.itemClicked.connect(self._on_clicked)
        self.tree.itemActivated.connect(self._on_clicked)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)
        self._shown: list[Problem] | None = None
        self.summary = summary_of(document)
        self.summary.changed.connect(self.refresh)
        self.refresh()

    @property
    def problems(self) -> list[Problem]:
        """The problems currently listed."""
        return list(self._shown or [])

    def refresh(self) -> None:
        """Rebuild the list if the design's problems changed (cheap when they did not)."""
        problems = self.summary.problems
        if problems is self._shown or problems == self._shown:
            return
        self._shown = problems
        self.tree.setUpdatesEnabled(False)
        self.tree.clear()
        if not problems:
            item = QTreeWidgetItem(
                self.tree, ["", "No problems: every layer's shape checks out.", ""]
            )
            item.setIcon(1, icon("ok"))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
        items = []
        for problem in problems:
            item = QTreeWidgetItem(
                ["" if problem.node is None else problem.node, problem.message, problem.fix]
            )
            item.setIcon(0 if problem.node else 1, icon("problem"))
            item.setData(0, NODE_ROLE, problem.node)
            if isinstance(problem, SectionProblem):
                item.setData(0, SECTION_ROLE, problem.section)
            item.setToolTip(1, str(problem))
            item.setToolTip(2, problem.fix)
            items.append(item)
        self.tree.addTopLevelItems(items)
        for item, problem in zip(items, problems):
            if isinstance(problem, SectionProblem) and problem.action:
                button = QPushButton(problem.action)
                button.setToolTip(problem.fix)
                button.clicked.connect(lambda _c=False, p=problem: self.apply_fix(p))
                self.tree.setItemWidget(item, 2, button)
        self.tree.setUpdatesEnabled(True)
        self.countChanged.emit(len(problems))

    def fix_button(self, row: int) -> QPushButton | None:
        """The one-click fix button of problem ``row``, or None when it has none."""
        item = self.tree.topLevelItem(row)
        widget = self.tree.itemWidget(item, 2) if item is not None else None
        return widget if isinstance(widget, QPushButton) else None

    def apply_fix(self, problem: SectionProblem) -> bool:
        """Apply ``problem``'s one-click fix as one undoable edit; False when it has none."""
        if problem.section == "data" and problem.action:
            self.document.push(use_default_data(self.document))
            return True
        return False

    def _on_clicked(self, item: QTreeWidgetItem, _column: int = 0) -> None:
        node_id = item.data(0, NODE_ROLE)
        if node_id and node_id in self.document.design:
            self.nodeRequested.emit(node_id)
        section = item.data(0, SECTION_ROLE)
        if section:
            self.sectionRequested.emit(section)
