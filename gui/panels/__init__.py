"""Dockable panels around the canvas: palette, inspector, problems, and the template gallery."""

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


def scrolled_body(panel: QWidget) -> QVBoxLayout:
    """Give ``panel`` a frameless, vertically scrolling body; returns the body's layout.

    Dock panels with long forms (training settings, data) use it so they stay usable when the
    dock is short, without a horizontal scroll bar.
    """
    scroll = QScrollArea(panel)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    outer = QVBoxLayout(panel)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    body = QWidget()
    layout = QVBoxLayout(body)
    layout.setContentsMargins(8, 8, 8, 8)
    scroll.setWidget(body)
    return layout
