"""Deepwire engine: the Qt-free core (layers, design graph, shapes, compiler, file format,
data, training, export). Nothing in this package may import Qt or ``gui``."""

__version__ = "0.1.0"
