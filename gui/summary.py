"""Design-wide figures for the panels, kept up to date in proportion to each edit.

The status bar (parameters, MACs, activation memory), the problems list and the inspector's design
summary all need sums and lists over every node. Recomputing them from
:class:`~engine.shapes.ShapeAnalysis` after each edit costs milliseconds on a 5,000-node design;
:class:`DesignSummary` instead follows the document's signals and updates only the nodes an edit
touched. One summary per document (:func:`summary_of`) serves every panel.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal

from engine.data import BUILTIN_DATASETS
from engine.data.augment_spec import design_augment_problem
from engine.data.spec import normalize_spec
from engine.errors import DataError, DeepwireError, first_line
from engine.graph import Design, Edge
from engine.shapes import Problem, Totals
from engine.training.config import TrainConfig
from gui.document import Document


@dataclass(frozen=True)
class SectionProblem(Problem):
    """A problem of the design's ``data`` or ``training`` section (no node).

    ``action`` names a one-click fix the problems list offers (e.g. "Use built-in digits"),
    applied by :meth:`gui.panels.problems.ProblemsPanel.apply_fix`; empty when only the fix text helps.
    """

    section: str = ""
    action: str = ""


def data_problem(design: Design) -> SectionProblem | None:
    """Why the design's data section cannot be trained on (missing or invalid), or None.

    Only the section itself is checked (no file is read): a CSV that went missing shows in the
    Data panel's preview and when a run starts."""
    data: Any = design.data
    if not isinstance(data, dict) or not data:
        return SectionProblem(
            None,
            "The design has no data section: training has nothing to learn from",
            "Use the built-in digits dataset, or choose data in the Data panel",
            "data",
            "Use built-in digits",
        )
    try:
        spec = normalize_spec(data)
        if spec["source"] == "builtin" and spec.get("name") not in BUILTIN_DATASETS:
            raise DataError(
                f"'name' is {spec.get('name')!r}, not a built-in dataset; "
                "choose one of " + ", ".join(BUILTIN_DATASETS)
            )
    except DeepwireError as exc:
        reason = _unprefixed(first_line(exc), "data spec: ")
        return SectionProblem(
            None,
            f"The data section is invalid: {reason}",
            "Choose data in the Data panel, or use the built-in digits dataset",
            "data",
            "Use built-in digits",
        )
    return None


def section_problems(design: Design) -> list[Problem]:
    """What keeps the design's data and training sections from training, in plain words."""
    out: list[Problem] = []
    data = data_problem(design)
    if data is not None:
        out.append(data)
    else:
        augment = design_augment_problem(design)  # e.g. a flip on a table
        if augment is not None:
            reason = _unprefixed(augment, "data spec: ")
            out.append(SectionProblem(None, reason, "Edit the Data panel's Augmentation", "data"))
    try:
        TrainConfig.from_design(design)
    except DeepwireError as exc:
        reason = _unprefixed(first_line(exc), "training: ")
        out.append(
            SectionProblem(
                None,
                f"The training settings are invalid: {reason}",
                "Correct it in the Training panel",
                "training",
            )
        )
    return out


def _unprefixed(text: str, prefix: str) -> str:
    return text[len(prefix) :] if text.startswith(prefix) else text


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
        self._section_problems: list[Problem] = []
        self._problems_dirty = False
        document.nodeAdded.connect(self._on_node_added)
        document.nodeRemoved.connect(self._on_node_removed)
        document.edgeAdded.connect(self._on_edge_added)
        document.edgeRemoved.connect(self._on_edge_removed)
        document.analysisChanged.connect(self._on_analysis_changed)
        document.designReset.connect(self.recompute)
        document.sectionChanged.connect(self._on_section_changed)
        self.recompute()

    @property
    def valid(self) -> bool:
        """True when the design has no problem."""
        return not self.problems

    @property
    def graph_valid(self) -> bool:
        """True when no layer or wiring has a problem (the data and training sections aside):
        then the totals are the design's real figures."""
        return len(self.problems) == len(self._section_problems)

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
        self._section_problems = section_problems(design)
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

    def _on_section_changed(self, _section: str) -> None:
        problems = section_problems(self.document.design)
        if problems != self._section_problems:
            self._section_problems = problems
            self.problems = self._ordered_problems()
            self.changed.emit()

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
            totals = Totals(
                totals.params + new[0], totals.macs + new[1], totals.activation_bytes + new[2]
            )
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
        """Design-wide problems first, then the data and training sections', then per node in
        file order (as ShapeAnalysis.problems)."""
        self._design_problems = list(self.document.analysis.design_problems)
        out = list(self._design_problems) + self._section_problems
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
