"""The canvas's automatic layout: the engine's one layered layout (``engine/editing/layout.py``)."""

from engine.editing.layout import (
    COLUMN_SPACING,
    NETWORK_GAP,
    ROW_SPACING,
    WRAP_GAP,
    layer_depths,
    layered_layout,
)

__all__ = [
    "COLUMN_SPACING",
    "NETWORK_GAP",
    "ROW_SPACING",
    "WRAP_GAP",
    "layer_depths",
    "layered_layout",
]
