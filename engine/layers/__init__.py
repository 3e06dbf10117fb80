"""Layer catalogue: :data:`REGISTRY` holds one :class:`LayerSpec` per layer type."""

from engine.layers import builtin as _builtin  # noqa: F401  (registers the built-in layers)
from engine.layers.registry import CATEGORIES, REGISTRY, LayerRegistry, register
from engine.layers.spec import (
    LayerSpec,
    ParamSpec,
    ParamValueError,
    Shape,
    ShapeRuleError,
    fmt_shape,
    numel,
)

__all__ = [
    "CATEGORIES",
    "REGISTRY",
    "LayerRegistry",
    "LayerSpec",
    "ParamSpec",
    "ParamValueError",
    "Shape",
    "ShapeRuleError",
    "fmt_shape",
    "numel",
    "register",
]
