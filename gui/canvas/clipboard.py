"""Clipboard for the canvas scene: copy, cut, paste and duplicate a selection of layers.

A selection travels as the design-fragment text of :func:`gui.commands.fragment_text` (under
:data:`FRAGMENT_MIME`, and as plain text); pasting parses it back and pushes one ``Paste`` command.
"""

from __future__ import annotations

from PySide6.QtCore import QMimeData, QPointF
from PySide6.QtGui import QGuiApplication

from engine.errors import DesignFormatError
from gui import commands as cmd

FRAGMENT_MIME = "application/x-deepwire-design"
PASTE_STEP = 40.0


class ClipboardMixin:
    """Copy/cut/paste/duplicate for :class:`~gui.canvas.scene.CanvasScene` (uses its
    ``document``, ``selected_node_ids``, ``selected_edges``, ``snap``, ``network_at``,
    ``select_nodes`` and ``statusMessage``)."""

    _paste_count = 0

    def copy_selection(self) -> int:
        """Put the selected nodes and the edges among them on the clipboard; returns the count."""
        ids = self.selected_node_ids()
        if not ids:
            return 0
        text = cmd.fragment_text(self.document.design, ids)
        mime = QMimeData()
        mime.setData(FRAGMENT_MIME, text.encode("utf-8"))
        mime.setText(text)
        QGuiApplication.clipboard().setMimeData(mime)
        self._paste_count = 0
        self.statusMessage.emit(f"Copied {cmd.plural(len(ids), 'layer')}")
        return len(ids)

    def cut_selection(self) -> int:
        """Copy, then delete the selected nodes as one undo step named "Cut"."""
        ids = self.selected_node_ids()
        if not self.copy_selection():
            return 0
        command = cmd.RemoveItems(self.document, ids, self.selected_edges())
        command.setText(f"Cut {cmd.plural(len(ids), 'node')}")
        self.document.push(command)
        return len(ids)

    def paste(self, at: QPointF | None = None) -> list[str]:
        """Paste the clipboard's layers (at ``at``, else shifted from the originals)."""
        mime = QGuiApplication.clipboard().mimeData()
        raw = (
            bytes(mime.data(FRAGMENT_MIME)).decode("utf-8")
            if mime is not None and mime.hasFormat(FRAGMENT_MIME)
            else (mime.text() if mime is not None else "")
        )
        try:
            nodes, edges, blocks = cmd.parse_fragment_blocks(raw)
        except DesignFormatError:
            self.statusMessage.emit("Nothing to paste: the clipboard holds no Deepwire layers")
            return []
        return self._paste(nodes, edges, at, None, blocks)

    def duplicate_selection(self) -> list[str]:
        """Copy the selected nodes (and edges among them) beside the originals."""
        ids = self.selected_node_ids()
        if not ids:
            return []
        nodes, edges = self.document.design.subgraph_ids(ids)
        return self._paste(nodes, edges, None, f"Duplicate {cmd.plural(len(ids), 'node')}")

    def _paste(self, nodes, edges, at: QPointF | None, text: str | None, blocks=None) -> list[str]:
        """Push one ``Paste`` of ``nodes``/``edges`` (at ``at``, else shifted) and select them."""
        if not nodes:
            return []
        network = None
        if at is not None:
            left = min(n.position[0] for n in nodes)
            top = min(n.position[1] for n in nodes)
            target = self.snap(at)
            offset = (target.x() - left, target.y() - top)
            network = self.network_at(at)
        else:
            self._paste_count += 1
            offset = (PASTE_STEP * self._paste_count, PASTE_STEP * self._paste_count)
            if text is not None:  # duplicate: one step from the originals each time
                offset = (PASTE_STEP, PASTE_STEP)
        try:
            command = cmd.Paste(
                self.document, nodes, edges, offset, network=network, text=text, blocks=blocks
            )
        except ValueError as exc:
            self.statusMessage.emit(str(exc))
            return []
        self.document.push(command)
        self.select_nodes(command.node_ids)
        return command.node_ids
