"""Design-wide figures for the panels, kept up to date in proportion to each edit.

The status bar (parameters, MACs, activation memory), the problems list and the inspector's design
summary all need sums and lists over every node. Recomputing them from
:class:`~engine.shapes.ShapeAnalysis` after each edit costs milliseconds on a 5,000-node design;
:class:`DesignSummary` instead follows the document's signals and updates only the nodes an edit
touched. One summary per document (:func:`summary_of`) serves every panel.
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QObject, Signal

from engine.graph import Edge
from engine.shapes import Problem, Totals
from gui.document import Document


class DesignSummary(QObject):
    """Totals, problems, and layer/connection counts of one document's design.

    :attr:`changed` fires once per document change that altered any of them.
    """

    changed = Signal()

    def __init__(self, document: Document) -> None:
        super().__init__(document)
        self.document = document
        self._contrib: dict[str, tuple[int, int, int]] = {}
        self._node_problems: dict[str, list[Problem]] = {}
        self._network_of: dict[str, str] = {}
        self.network_sizes: Counter[str] = Counter()
        self.edge_count = 0
        self.totals = Totals(0, 0, 0)
        self.problems: list[Problem] = []
        self._design_problems: list[Problem] = []
        self._problems_dirty = False
        document.nodeAdded.connect(self._on_node_added)
        document.nodeRemoved.connect(self._on_node_removed)
        document.edgeAdded.connect(self._on_edge_added)
        document.edgeRemoved.connect(self._on_edge_removed)
        document.analysisChanged.connect(self._on_analysis_changed)
        document.designReset.connect(self.recompute)
        self.recompute()

    @property
    def valid(self) -> bool:
        """True when the design has no problem."""
        return not self.problems

    def recompute(self) -> None:
        """Full pass (after open / new): O(nodes)."""
        design = self.document.design
        info = self.document.analysis.info
        self._contrib.clear()
        self._node_problems.clear()
        self._network_of = {n.id: n.network for n in design}
        self.network_sizes = Counter(self._network_of.values())
        self.edge_count = len(design.edges)
        p = m = b = 0
        for node_id, node_info in info.items():
            c = (node_info.params, node_info.macs, node_info.activation_bytes)
            self._contrib[node_id] = c
            p, m, b = p + c[0], m + c[1], b + c[2]
            if node_info.problems:
                self._node_problems[node_id] = list(node_info.problems)
        self.totals = Totals(p, m, b)
        self.problems = self._ordered_problems()
        self._problems_dirty = False
        self.changed.emit()

    # -- incremental updates -------------------------------------------------------------------

    def _on_node_added(self, node_id: str) -> None:
        network = self.document.design.node(node_id).network
        self._network_of[node_id] = network
        self.network_sizes[network] += 1

    def _on_node_removed(self, node_id: str) -> None:
        network = self._network_of.pop(node_id, None)
        if network is not None:
            self.network_sizes[network] -= 1
            if self.network_sizes[network] <= 0:
                del self.network_sizes[network]
        old = self._contrib.pop(node_id, None)
        if old is not None:
            self.totals = _minus(self.totals, old)
        if self._node_problems.pop(node_id, None):
            self._problems_dirty = True

    def _on_edge_added(self, _edge: Edge) -> None:
        self.edge_count += 1

    def _on_edge_removed(self, _edge: Edge) -> None:
        self.edge_count -= 1

    def _on_analysis_changed(self, changed: set[str]) -> None:
        info = self.document.analysis.info
        totals = self.totals
        for node_id in changed:
            node_info = info.get(node_id)
            old = self._contrib.pop(node_id, None)
            if old is not None:
                totals = _minus(totals, old)
            if node_info is None:
                if self._node_problems.pop(node_id, None):
                    self._problems_dirty = True
                continue
            new = (node_info.params, node_info.macs, node_info.activation_bytes)
            self._contrib[node_id] = new
            totals = Totals(totals.params + new[0], totals.macs + new[1],
                            totals.activation_bytes + new[2])
            if node_info.problems != self._node_problems.get(node_id, []):
                self._problems_dirty = True
                if node_info.problems:
                    self._node_problems[node_id] = list(node_info.problems)
                else:
                    self._node_problems.pop(node_id, None)
        self.totals = totals
        if self._problems_dirty or self.document.analysis.design_problems != self._design_problems:
            self.problems = self._ordered_problems()
            self._problems_dirty = False
        self.changed.emit()

    def _ordered_problems(self) -> list[Problem]:
        """Design-wide problems first, then per node in file order (as ShapeAnalysis.problems)."""
        self._design_problems = list(self.document.analysis.design_problems)
        out = list(self._design_problems)
        if self._node_problems:  # one pass in file order, only when the problems changed
            for node in self.document.design:
                out.extend(self._node_problems.get(node.id, ()))
        return out


def _minus(totals: Totals, c: tuple[int, int, int]) -> Totals:
    return Totals(totals.params - c[0], totals.macs - c[1], totals.activation_bytes - c[2])


def summary_of(document: Document) -> DesignSummary:
    """The document's one :class:`DesignSummary` (created on first use, owned by the document)."""
    summary = document.findChild(DesignSummary)
    if summary is None:
        summary = DesignSummary(document)
    return summary
