"""Build on first show: :class:`LazyWidget` stands in a layout for a widget that is costly to
build (a pyqtgraph view, a picture) and builds it the first time it is shown, or when code asks
for it (:meth:`LazyWidget.widget`: a screenshot layout, a test, an input arriving while hidden
that must be drawn now). Panels hidden when the window opens keep their plots out of the first
paint this way (docs/architecture.md, "Panels built on first show")."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtGui import QPaintEvent, QResizeEvent, QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget


class LazyWidget(QWidget):
    """A placeholder that calls ``build()`` once, when it is first on screen (shown and not
    behind another tab) or on the first :meth:`widget` call, and puts the returned widget in
    its place (no margins). ``build`` should draw the state its owner kept while nothing was
    built, so the widget shows the same as if it had been built at the start."""

    def __init__(self, build: Callable[[], QWidget], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._build: Callable[[], QWidget] | None = build
        self._widget: QWidget | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    @property
    def built(self) -> bool:
        """Whether the widget exists yet."""
        return self._widget is not None

    def widget(self) -> QWidget:
        """The widget, built now if it was not yet."""
        if self._widget is None:
            build, self._build = self._build, None
            assert build is not None, "LazyWidget built twice at once"
            self._widget = build()
            self.layout().addWidget(self._widget)
            self._widget.show()  # shown with this placeholder (now, when it is visible)
        return self._widget

    def _build_if_seen(self) -> None:
        """Build when on screen: shown and not covered (a dock behind another tab is "visible"
        to Qt but has no visible region)."""
        if self._widget is None and self.isVisible() and not self.visibleRegion().isEmpty():
            self.widget()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._build_if_seen()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)  # a tab brought forward is laid out (resized) before painted
        self._build_if_seen()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        super().paintEvent(event)
        if self._widget is None:  # exposed some other way: build on the next turn
            QTimer.singleShot(0, self, self._build_if_seen)


__all__ = ["LazyWidget"]
