"""The one registry of layer types, keyed by stable string ids (never Python class names)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

from engine.layers.spec import LayerSpec

# Categories in palette order, each with the colour the canvas and palette use for it.
CATEGORIES: dict[str, str] = {
    "Input / Output": "#5b8def",
    "Core": "#7f8c9a",
    "Convolution": "#e08a3c",
    "Normalization": "#a66cc1",
    "Activation": "#4aa874",
    "Recurrent": "#d4b13f",
    "Attention": "#c4604e",
    "Merge": "#3fa8b5",
    "Self-organizing map": "#d3577a",
}


class LayerRegistry:
    """Catalogue of :class:`LayerSpec` by type id; old ids resolve through ``replaces``."""

    def __init__(self) -> None:
        self._specs: dict[str, LayerSpec] = {}
        self._aliases: dict[str, str] = {}

    def register(self, spec: LayerSpec) -> LayerSpec:
        """Add ``spec``; a type id or alias that is already taken raises ``ValueError``."""
        if spec.category not in CATEGORIES:
            raise ValueError(f"layer {spec.type_id!r}: unknown category {spec.category!r}")
        for name in (spec.type_id, *spec.replaces):
            if name in self._specs or name in self._aliases:
                raise ValueError(f"layer type id {name!r} is already registered")
        self._specs[spec.type_id] = spec
        for old in spec.replaces:
            self._aliases[old] = spec.type_id
        return spec

    def resolve(self, type_id: str) -> str | None:
        """Current type id for ``type_id`` (itself, or what an alias now names); None if unknown."""
        if type_id in self._specs:
            return type_id
        return self._aliases.get(type_id)

    def get(self, type_id: str) -> LayerSpec:
        """Spec for ``type_id`` or one of its aliases; ``KeyError`` if unknown."""
        current = self.resolve(type_id)
        if current is None:
            raise KeyError(type_id)
        return self._specs[current]

    @property
    def by_id(self) -> Mapping[str, LayerSpec]:
        """Read-only view of spec by current type id (aliases not included), for hot paths."""
        return MappingProxyType(self._specs)

    def __contains__(self, type_id: object) -> bool:
        return isinstance(type_id, str) and self.resolve(type_id) is not None

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self._specs.values())

    def __len__(self) -> int:
        return len(self._specs)

    def by_category(self) -> dict[str, list[LayerSpec]]:
        """Specs grouped by category, categories in palette order."""
        groups: dict[str, list[LayerSpec]] = {c: [] for c in CATEGORIES}
        for spec in self._specs.values():
            groups[spec.category].append(spec)
        return {c: specs for c, specs in groups.items() if specs}

    def suggest(self, type_id: str) -> str | None:
        """Closest known type id to a misspelt one (for error messages)."""
        import difflib

        names = list(self._specs) + list(self._aliases)
        lowered = {n.lower(): n for n in names}
        if type_id.lower() in lowered:
            return lowered[type_id.lower()]
        match = difflib.get_close_matches(type_id, names, n=1, cutoff=0.6)
        return match[0] if match else None


REGISTRY = LayerRegistry()


def register(spec: LayerSpec) -> LayerSpec:
    """Register ``spec`` in the global registry."""
    return REGISTRY.register(spec)
