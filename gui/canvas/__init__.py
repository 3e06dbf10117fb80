"""The node-graph canvas: a scene observing the document and the view that shows it."""

from gui.canvas.scene import FRAGMENT_MIME, LAYER_MIME, CanvasScene
from gui.canvas.view import CanvasView

__all__ = ["FRAGMENT_MIME", "LAYER_MIME", "CanvasScene", "CanvasView"]
