"""How numbers and names read in the editor: counts, SI suffixes, byte sizes, file stems, metric
names and values, and text made safe for rich-text labels. No widgets here (no Qt at all)."""

from __future__ import annotations

import html
from pathlib import Path

from engine.memory import fmt_bytes
from engine.runs import file_stem  # the one namer of run folders and design files


def count(n: int) -> str:
    """Exact count with thousands separators: ``12,345``."""
    return f"{n:,}"


def short_count(n: float) -> str:
    """Compact count: ``950``, ``12.3 k``, ``4.56 M``, ``1.2 G``."""
    for limit, suffix in ((1e12, " T"), (1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(n) >= limit:
            value = n / limit
            digits = 0 if value >= 100 else 1 if value >= 10 else 2
            return f"{value:.{digits}f}{suffix}"
    return f"{int(n)}"


def size(nbytes: float) -> str:
    """Byte size in binary units: ``512 B``, ``4.0 KiB``, ``1.50 MiB`` (engine.memory's)."""
    return fmt_bytes(nbytes)


def param_value(value: object) -> str:
    """A parameter value as the inspector's line editors show it (shapes as ``1, 8, 8``)."""
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def design_stem(path: Path | None, name: str) -> str:
    """The stem run folders and exports are named after: the file's, else the design name's."""
    return path.stem if path is not None else file_stem(name)


def escape_html(text: str) -> str:
    """``text`` safe to put into a rich-text label or tooltip (``&``, ``<``, ``>`` escaped)."""
    return html.escape(text, quote=False)


def pretty(name: str) -> str:
    """A metric name as labels show it: ``val_accuracy`` → ``val accuracy``."""
    return name.replace("_", " ")


def metric_text(name: str, value: float) -> str:
    """A metric value: accuracy as a percentage, everything else with 4 significant digits."""
    if name.endswith("accuracy"):
        return f"{value:.1%}"
    return f"{value:.4g}"
