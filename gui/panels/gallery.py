"""New from template: a gallery of the seven family templates, each with a picture and a summary.

The picture is drawn from the template itself: one row per network, one block per layer in
execution order, coloured by layer category, with the design's real connections.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from engine.errors import DesignFormatError
from engine.graph import Design
from engine.io import load_design
from engine.layers import CATEGORIES, REGISTRY
from engine.shapes import analyze
from gui import formatting
from gui.widgets import UNKNOWN_CATEGORY_COLOUR
from resources import BLOCK_TEMPLATES, DATASET_TEMPLATES, TEMPLATES, template_path

THUMB = QSize(240, 120)
STEM_ROLE = Qt.ItemDataRole.UserRole


def render_thumbnail(
    design: Design, size: QSize = THUMB, palette: QPalette | None = None, ratio: float = 1.0
) -> QPixmap:
    """A schematic picture of ``design``: rows of category-coloured blocks wired as in the design."""
    pixmap = QPixmap(int(size.width() * ratio), int(size.height() * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    analysis = analyze(design)
    rows = [analysis.topological_order(net) for net in design.networks]
    rows = [r for r in rows if r] or [[]]
    per_row = max(len(r) for r in rows) or 1
    margin, gap = 8.0, 6.0
    w, h = size.width() - 2 * margin, size.height() - 2 * margin
    block_w = min(28.0, (w - gap * (per_row - 1)) / per_row)
    block_h = min(28.0, (h - 14.0 * (len(rows) - 1)) / len(rows))
    step = (w - block_w) / (per_row - 1) if per_row > 1 else 0.0
    step = min(step, block_w + 14.0)
    x0 = margin + (w - (step * (per_row - 1) + block_w)) / 2
    row_h = h / len(rows)
    centres: dict[str, QPointF] = {}
    rects: dict[str, QRectF] = {}
    for r, ids in enumerate(rows):
        y = margin + r * row_h + (row_h - block_h) / 2
        for i, node_id in enumerate(ids):
            rect = QRectF(x0 + i * step, y, block_w, block_h)
            rects[node_id] = rect
            centres[node_id] = rect.center()
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    text = (palette or QPalette()).color(QPalette.ColorRole.WindowText)
    wire = QColor(text)
    wire.setAlphaF(0.55)
    painter.setPen(QPen(wire, 1.6))
    for edge in design.edges:
        a, b = rects.get(edge.source), rects.get(edge.target)
        if a is not None and b is not None:
            painter.drawLine(QPointF(a.right(), a.center().y()), QPointF(b.left(), b.center().y()))
    outline = QColor(text)
    outline.setAlphaF(0.35)
    painter.setPen(QPen(outline, 1.0))
    for node_id, rect in rects.items():
        node_type = design.node(node_id).type
        category = REGISTRY.get(node_type).category if node_type in REGISTRY else ""
        painter.setBrush(QColor(CATEGORIES.get(category, UNKNOWN_CATEGORY_COLOUR)))
        painter.drawRoundedRect(rect, 4, 4)
    painter.end()
    return pixmap


class TemplateGallery(QDialog):
    """Pick one of :data:`resources.TEMPLATES`, :data:`resources.DATASET_TEMPLATES` or
    :data:`resources.BLOCK_TEMPLATES`;
    :meth:`chosen` is its file stem after accept."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New from template")
        self.list = QListWidget(self)
        self.list.setViewMode(QListView.ViewMode.IconMode)
        self.list.setIconSize(THUMB)
        self.list.setGridSize(QSize(THUMB.width() + 24, THUMB.height() + 44))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)
        self.list.setMovement(QListView.Movement.Static)
        self.list.setWordWrap(True)
        self.list.setUniformItemSizes(True)
        self.description = QLabel(self)
        self.description.setWordWrap(True)
        self.description.setMinimumHeight(48)
        self.description.setTextFormat(Qt.TextFormat.RichText)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(
                "Start from a working design for one of the seven families, ready to train "
                "on the built-in digits data, or from one on MNIST, Fashion-MNIST or CIFAR-10 "
                "(downloaded on first use)."
            )
        )
        layout.addWidget(self.list, 1)
        layout.addWidget(self.description)
        layout.addWidget(buttons)
        self._summaries: dict[str, str] = {}
        ratio = self.devicePixelRatioF()
        every = {**TEMPLATES, **DATASET_TEMPLATES, **BLOCK_TEMPLATES}
        for stem, (title, description) in every.items():
            item = QListWidgetItem(title, self.list)
            item.setData(STEM_ROLE, stem)
            item.setToolTip(description)
            try:
                design = load_design(template_path(stem))
            except DesignFormatError as exc:  # a broken install: say so, keep the others
                self._summaries[stem] = f"<b>{title}</b>: cannot be loaded ({exc})"
                item.setFlags(Qt.ItemFlag.NoItemFlags)
                continue
            item.setIcon(QIcon(render_thumbnail(design, THUMB, self.palette(), ratio)))
            totals = analyze(design).totals()
            self._summaries[stem] = (
                f"<b>{title}</b> — {description}<br>{len(design)} layers, "
                f"{formatting.count(totals.params)} parameters, "
                f"{formatting.short_count(totals.macs)} MACs per sample"
            )
        self.list.currentItemChanged.connect(self._on_current)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.list.setCurrentRow(0)
        self.resize(4 * (THUMB.width() + 24) + 48, 3 * (THUMB.height() + 44) + 200)

    def chosen(self) -> str | None:
        """File stem of the selected template (``"cnn"``), None if none is selected."""
        item = self.list.currentItem()
        return item.data(STEM_ROLE) if item is not None else None

    def select(self, stem: str) -> None:
        """Make ``stem`` the current template."""
        for row in range(self.list.count()):
            if self.list.item(row).data(STEM_ROLE) == stem:
                self.list.setCurrentRow(row)
                return
        raise KeyError(stem)

    def _on_current(self, item: QListWidgetItem | None, _previous: object) -> None:
        self.description.setText(self._summaries.get(item.data(STEM_ROLE), "") if item else "")
