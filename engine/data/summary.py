"""The numbers behind the data panel's pictures, chosen by the data's form (no Qt here).

:func:`summarize` looks at prepared data (and, when the loader's raw data is at hand, at the
values as loaded, before imputing and scaling) and returns a :class:`DataSummary`:

- ``images``: a few samples per class (picked with the seed) tiled into one grid array, a row
  per class, pixels scaled to [0, 1] for display (digits in the ``flat`` form too) (:class:`ImageGrid`; a second grid of the same
  samples after augmentation goes in with :meth:`ImageGrid.set_after`);
- ``table``: the first rows as text and per column a histogram (numbers) or the most frequent
  values (text), each with its count of missing values (:class:`ColumnSummary`);
- ``sequences``: a few sequences (per class when classified) of the most varied feature, or for
  a forecast the series itself;
- ``points``: a two-column classified table (moons, circles, spirals) as a scatter;
- for classification, the samples per class in each split (``class_counts``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from engine.data.raw import RawData
from engine.errors import DataError, check_cancel

PER_CLASS = 6  # sample images per class in the grid
MAX_GRID_ROWS = 20  # classes beyond this many are left out of the grid (the title says so)
UNLABELLED_IMAGES = 12  # images shown when the data has no classes (two rows of six)
TABLE_ROWS = 8  # first rows shown in the table
MAX_COLUMNS = 12  # columns with a histogram
BINS = 12  # histogram bins
TOP_VALUES = 5  # bars of a text column (the rest is one "other" bar)
MAX_SEQUENCES = 8  # sequences drawn (one per class at least, up to MAX_CLASS_LINES classes)
MAX_CLASS_LINES = 12
MAX_SERIES = 4  # forecast series drawn
MAX_SERIES_STEPS = 400  # a forecast series is drawn over its first steps (a few periods)
MAX_POINTS = 2000  # scatter points (picked with the seed from larger sets)
SPLITS = ("train", "validation", "test")


@dataclass
class ImageGrid:
    """Sample images tiled into one array: ``pixels`` is ``(rows·H + gaps, cols·W + gaps)`` for
    greyscale or ``(…, …, 3)`` for colour, in [0, 1]; gaps and empty cells are :data:`GAP`.

    ``samples`` are the chosen samples ``(k, C, H, W)`` as prepared and ``slots`` their
    ``(row, column)`` cells; ``row_labels`` name the rows (class names). ``after`` is the same
    grid of the samples after augmentation, or None (see :meth:`set_after`).
    """

    pixels: np.ndarray
    samples: np.ndarray
    slots: list[tuple[int, int]]
    row_labels: list[str]
    n_rows: int
    n_cols: int
    left_out: int = 0  # classes not shown (more than MAX_GRID_ROWS)
    after: np.ndarray | None = None
    unscale: Unscale | None = None  # the preprocessing undone for display

    def set_after(self, samples: np.ndarray) -> None:
        """Tile ``samples`` (the grid's samples after augmentation, same shape) as
        :attr:`after`, cell for cell like :attr:`pixels`."""
        samples = np.asarray(samples)
        if samples.shape != self.samples.shape:
            raise DataError(
                f"augmentation preview: got samples of shape {samples.shape}, expected "
                f"{self.samples.shape}: an augmentation must keep the sample shape"
            )
        self.after = tile_images(samples, self.slots, self.n_rows, self.n_cols, self.unscale)


@dataclass
class ColumnSummary:
    """One table column: a histogram (``numeric``: ``counts`` over the bin ``edges``) or the
    most frequent values (``labels`` with their ``counts``, "other" last), and how many
    values are missing."""

    name: str
    numeric: bool
    missing: int
    counts: np.ndarray
    edges: np.ndarray | None = None
    labels: list[str] = field(default_factory=list)


@dataclass
class DataSummary:
    """What the pictures show (see the module docstring); ``kind`` is ``images``, ``table``,
    ``sequences``, ``points`` or ``none``."""

    kind: str
    class_names: list[str] | None = None
    class_counts: dict[str, np.ndarray] | None = None  # split → samples per class
    grid: ImageGrid | None = None
    header: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    total_rows: int = 0
    columns: list[ColumnSummary] = field(default_factory=list)
    total_columns: int = 0
    lines: list[np.ndarray] = field(default_factory=list)  # each (T,)
    line_labels: list[int | None] = field(default_factory=list)  # class code, series number
    line_title: str = ""
    points: np.ndarray | None = None  # (n, 2)
    point_labels: np.ndarray | None = None  # (n,) class codes
    axis_names: tuple[str, str] = ("x1", "x2")


GAP = 0.5  # the grey between grid cells
Unscale = tuple[np.ndarray, np.ndarray]  # a preprocessing's per-channel (shift, scale)


def class_counts(data: Any) -> dict[str, np.ndarray] | None:
    """Samples per class in each split of prepared classification data (None otherwise)."""
    if data.task != "classification" or not data.num_classes:
        return None
    return {
        split: np.bincount(np.asarray(y, dtype=np.int64), minlength=data.num_classes)[
            : data.num_classes
        ]
        for split, y in zip(SPLITS, (data.y_train, data.y_val, data.y_test), strict=True)
    }


def pick_per_class(
    labels: np.ndarray, n_classes: int, per_class: int, seed: int
) -> list[np.ndarray]:
    """Sorted indices of up to ``per_class`` samples of each class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    picked = []
    for c in range(n_classes):
        where = np.flatnonzero(labels == c)
        take = min(per_class, len(where))
        picked.append(np.sort(rng.choice(where, take, replace=False)) if take else where)
    return picked


def _display_range(samples: np.ndarray, unscale: Unscale | None = None) -> np.ndarray:
    """Samples ``(k, C, H, W)`` as pixels in [0, 1]: the per-channel scaling of preprocessing
    undone (``unscale`` = its ``(shift, scale)``), then shown as they are when they lie in [0, 1],
    divided by 255 when they lie in [0, 255], else stretched over their range (all channels
    alike, so colours keep their balance)."""
    x = samples.astype(np.float64)
    if unscale is not None and len(unscale[0]) == x.shape[1]:
        shift, scale = (np.asarray(a, dtype=np.float64)[None, :, None, None] for a in unscale)
        x = x * scale + shift
    finite = x[np.isfinite(x)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    if low >= 0.0 and high <= 1.0:
        low, high = 0.0, 1.0
    elif low >= 0.0 and high <= 255.0:
        low, high = 0.0, 255.0
    span = high - low if high > low else 1.0
    return np.nan_to_num(np.clip((x - low) / span, 0.0, 1.0), nan=0.0)


def tile_images(
    samples: np.ndarray,
    slots: list[tuple[int, int]],
    n_rows: int,
    n_cols: int,
    unscale: Unscale | None = None,
) -> np.ndarray:
    """One array holding ``samples`` ``(k, C, H, W)`` at their ``(row, column)`` cells, a
    one-pixel :data:`GAP` between cells; greyscale ``(h, w)`` when C is 1 (or 2), else RGB
    ``(h, w, 3)`` from the first three channels. Pixels are scaled to [0, 1] for display
    (see :func:`_display_range`)."""
    if samples.ndim != 4:
        raise DataError(
            f"an image grid needs samples (n, C, H, W), got shape {samples.shape}: "
            "load the data as images"
        )
    _, channels, height, width = samples.shape
    shown = _display_range(samples, unscale)
    colour = channels >= 3
    shape = (n_rows * (height + 1) - 1, n_cols * (width + 1) - 1)
    pixels = np.full((*shape, 3) if colour else shape, GAP, dtype=np.float32)
    for sample, (row, col) in zip(shown, slots, strict=True):
        top, left = row * (height + 1), col * (width + 1)
        cell = sample[:3].transpose(1, 2, 0) if colour else sample[0]
        pixels[top : top + height, left : left + width] = cell
    return pixels


def unscale_of(preprocessor: Any) -> Unscale | None:
    """A fitted preprocessor's per-channel ``(shift, scale)`` (None when it scales nothing)."""
    shift, scale = getattr(preprocessor, "shift", None), getattr(preprocessor, "scale", None)
    return None if shift is None or scale is None else (np.asarray(shift), np.asarray(scale))


def image_grid(
    x: np.ndarray,
    y: np.ndarray | None,
    class_names: list[str] | None,
    seed: int,
    per_class: int = PER_CLASS,
    unscale: Unscale | None = None,
) -> ImageGrid:
    """Up to ``per_class`` images of each class (a row per class, the class name as its label);
    without classes, :data:`UNLABELLED_IMAGES` images in rows of ``per_class``. ``unscale``
    undoes the preprocessing's scaling for display."""
    if x.ndim == 3:  # (N, H, W): one channel
        x = x[:, None]
    if y is not None and class_names:
        shown = class_names[:MAX_GRID_ROWS]
        picked = pick_per_class(np.asarray(y), len(shown), per_class, seed)
        slots = [(r, c) for r, ix in enumerate(picked) for c in range(len(ix))]
        order = np.concatenate(picked) if picked else np.zeros(0, np.int64)
        labels, left_out = [str(n) for n in shown], len(class_names) - len(shown)
    else:
        rng = np.random.default_rng(seed)
        order = np.sort(rng.choice(len(x), min(UNLABELLED_IMAGES, len(x)), replace=False))
        slots = [divmod(i, per_class) for i in range(len(order))]
        labels, left_out = [], 0
    n_rows = max((r for r, _ in slots), default=0) + 1
    if not labels:
        labels = [
            f"{r * per_class + 1}–{min(len(order), (r + 1) * per_class)}" for r in range(n_rows)
        ]
    samples = x[order]
    return ImageGrid(
        tile_images(samples, slots, n_rows, per_class, unscale),
        samples,
        slots,
        labels,
        n_rows,
        per_class,
        left_out,
        unscale=unscale,
    )


def _cell(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return "" if np.isnan(value) else f"{value:.4g}"
    return str(value)


def column_summary(values: np.ndarray, name: str, text: bool) -> ColumnSummary:
    """A column's histogram (numbers, NaN missing) or top values (text, "" missing)."""
    if text:
        cells = np.asarray([str(v) for v in values], dtype=object)
        missing = cells == ""
        present = cells[~missing].astype(str)
        names, counts = np.unique(present, return_counts=True)
        order = np.argsort(-counts, kind="stable")[:TOP_VALUES]
        labels = [str(names[i]) for i in order]
        bars = [int(counts[i]) for i in order]
        rest = int(counts.sum()) - sum(bars)
        if rest:
            labels.append("other")
            bars.append(rest)
        return ColumnSummary(name, False, int(missing.sum()), np.asarray(bars), None, labels)
    numbers = np.asarray(values, dtype=np.float64)
    finite = numbers[np.isfinite(numbers)]
    if len(finite):
        counts, edges = np.histogram(finite, bins=BINS)
    else:
        counts, edges = np.zeros(BINS, np.int64), np.linspace(0.0, 1.0, BINS + 1)
    return ColumnSummary(name, True, int(np.isnan(numbers).sum()), counts, edges)


def table_summary(
    x: np.ndarray, columns: list[str] | None, text_columns: list[int]
) -> dict[str, Any]:
    """The first rows as text and a summary of each of the first :data:`MAX_COLUMNS` columns
    of a table ``(N, K)`` (float with NaN, or object with "" for a missing text cell)."""
    x = x.reshape(len(x), -1)
    names = list(columns) if columns else [f"column {k + 1}" for k in range(x.shape[1])]
    shown = range(min(MAX_COLUMNS, x.shape[1]))
    return {
        "header": names,
        "rows": [[_cell(v) for v in row] for row in x[:TABLE_ROWS]],
        "total_rows": len(x),
        "columns": [column_summary(x[:, k], names[k], k in text_columns) for k in shown],
        "total_columns": x.shape[1],
    }


def _codes(raw: RawData, class_names: list[str] | None) -> np.ndarray | None:
    """The raw labels as class codes in the prepared data's order (None when unclassified)."""
    if raw.y is None or not class_names:
        return None
    y = np.asarray(raw.y).reshape(len(raw.y), -1)[:, 0]
    if raw.class_names is not None:
        return y.astype(np.int64)
    if y.dtype.kind == "f" and np.all(np.mod(y[np.isfinite(y)], 1) == 0):
        y = y.astype(np.int64)
    index = {name: i for i, name in enumerate(class_names)}
    return np.asarray([index.get(str(v), -1) for v in y], dtype=np.int64)


def _points(summary: DataSummary, x: np.ndarray, codes: np.ndarray, seed: int) -> None:
    keep = np.isfinite(x.astype(np.float64)).all(axis=1) & (codes >= 0)
    x, codes = x[keep].astype(np.float64), codes[keep]
    if len(x) > MAX_POINTS:
        chosen = np.sort(np.random.default_rng(seed).choice(len(x), MAX_POINTS, replace=False))
        x, codes = x[chosen], codes[chosen]
    summary.points, summary.point_labels = x, codes


def _sequences(summary: DataSummary, data: Any, raw: RawData | None, seed: int) -> None:
    if data.task == "forecast" and raw is not None and raw.series is not None:
        series = raw.series[:MAX_SERIES_STEPS]
        summary.lines = [series[:, s] for s in range(min(MAX_SERIES, series.shape[1]))]
        summary.line_labels = list(range(len(summary.lines)))
        summary.line_title = f"the series, first {len(series):,} of {len(raw.series):,} steps"
        return
    x = data.x_train
    if x.ndim != 3 or not len(x):
        return
    feature = int(np.argmax(x.reshape(-1, x.shape[2]).var(axis=0)))
    if data.task == "classification" and data.class_names:
        per_class = max(1, MAX_SEQUENCES // data.num_classes)
        picked = pick_per_class(data.y_train, data.num_classes, per_class, seed)
        chosen = [(int(i), c) for c, ix in enumerate(picked) for i in ix][:MAX_CLASS_LINES]
    else:
        ix = np.random.default_rng(seed).choice(len(x), min(MAX_SEQUENCES, len(x)), replace=False)
        chosen = [(int(i), None) for i in np.sort(ix)]
    summary.lines = [x[i, :, feature] for i, _ in chosen]
    summary.line_labels = [c for _, c in chosen]
    which = f"feature {feature + 1} of {x.shape[2]}" if x.shape[2] > 1 else "the value"
    summary.line_title = f"{len(chosen)} training sequences, {which} (as prepared)"


def _flat_images(raw: RawData | None) -> bool:
    """Whether ``raw`` holds square images loaded flat (digits in its ``flat`` form): they are
    pictured as images, which a table of 64 pixel columns would not show."""
    if raw is None or raw.form != "flat" or raw.x is None or raw.x.ndim != 2:
        return False
    side = int(np.sqrt(raw.x.shape[1]))
    return side > 1 and side * side == raw.x.shape[1] and raw.x.dtype != object


def summarize(
    data: Any, raw: RawData | None, seed: int, should_stop: Callable[[], bool] | None = None
) -> DataSummary:
    """The pictures' numbers for prepared ``data`` (a :class:`~engine.data.PreparedData`);
    ``raw`` is the loader's data before cleaning (tables and points show values as loaded),
    or None to use the prepared training split."""
    layout = getattr(data.preprocessor, "layout", "table")
    summary = DataSummary("none", data.class_names, class_counts(data))
    check_cancel(should_stop)
    if layout == "image":
        summary.kind = "images"
        summary.grid = image_grid(
            data.x_train,
            data.y_train,
            data.class_names,
            seed,
            unscale=unscale_of(data.preprocessor),
        )
    elif layout == "sequence":
        summary.kind = "sequences"
        _sequences(summary, data, raw, seed)
    elif _flat_images(raw):
        side = int(np.sqrt(raw.x.shape[1]))
        summary.kind = "images"
        codes = _codes(raw, data.class_names)
        images = raw.x.reshape(len(raw.x), 1, side, side)
        summary.grid = image_grid(images, codes, data.class_names, seed)
    else:
        table_x, columns, text = data.x_train, data.feature_names, []
        if raw is not None and raw.x is not None and raw.layout == "table":
            table_x, columns, text = raw.x, raw.columns, list(raw.categorical)
        codes = _codes(raw, data.class_names) if raw is not None and raw.x is not None else None
        if codes is None and data.class_names:
            table_x, codes = data.x_train, data.y_train
        width = int(np.prod(table_x.shape[1:])) if table_x.ndim > 1 else 1
        if data.class_names and width == 2 and not text and codes is not None:
            summary.kind = "points"
            if columns and len(columns) == 2:
                summary.axis_names = (str(columns[0]), str(columns[1]))
            _points(summary, table_x.reshape(len(table_x), 2), codes, seed)
        else:
            summary.kind = "table"
            for key, value in table_summary(table_x, columns, text).items():
                setattr(summary, key, value)
    return summary
