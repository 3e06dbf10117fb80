"""A bounded min/max envelope of a growing x/y series, for drawing long runs (no Qt here).

A live loss curve gains a point per logged step: a million after a long run. Drawing all of
them (or handing them all to a plotting library that downsamples them again on every redraw)
costs time that grows with the run. :class:`MinMaxEnvelope` keeps the series reduced as it
grows: the points fall into buckets of ``width`` consecutive points, and each bucket keeps its
lowest and highest point (with their x). When the buckets reach ``max_buckets``, neighbouring
pairs merge and the width doubles, so memory and :meth:`points` stay bounded by about
``2 × max_buckets + 3`` points whatever the run's length, while the drawn curve still reaches
every extreme (the envelope is exact: each bucket's min and max are real points of the series),
and the newest point is always the series' last point, exactly.

Appending is amortised O(1) per point (vectorised per call); :meth:`points` is cached until the
next append.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MAX_BUCKETS = 1024  # points() returns at most 2 × this + 3 points


class MinMaxEnvelope:
    """The min/max envelope of an x/y series appended in x order."""

    __slots__ = (
        "max_buckets",
        "width",
        "n",
        "_nb",
        "_b",
        "_tail",
        "_last",
        "_cache",
    )

    def __init__(self, max_buckets: int = MAX_BUCKETS) -> None:
        if max_buckets < 2 or max_buckets % 2:
            raise ValueError(f"max_buckets must be an even number ≥ 2, not {max_buckets}")
        self.max_buckets = max_buckets
        self.width = 1  # points per full bucket
        self.n = 0  # points appended in all
        self._nb = 0  # full buckets
        # one row per full bucket: x of its min, its min, x of its max, its max
        self._b = np.empty((max_buckets, 4))
        # the bucket being filled: [count, x_min, y_min, x_max, y_max]
        self._tail: list[float] = [0, 0.0, np.inf, 0.0, -np.inf]
        self._last: tuple[float, float] | None = None
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def __len__(self) -> int:
        return self.n

    def clear(self) -> None:
        """Forget every point (a new run)."""
        self.width, self.n, self._nb = 1, 0, 0
        self._tail = [0, 0.0, np.inf, 0.0, -np.inf]
        self._last = None
        self._cache = None

    def append(self, x: float, y: float) -> None:
        """Append one point (x after the points already here)."""
        self.extend((x,), (y,))

    def extend(self, xs: Any, ys: Any) -> None:
        """Append points (x in increasing order, after the points already here)."""
        xs = np.asarray(xs, dtype=float).reshape(-1)
        ys = np.asarray(ys, dtype=float).reshape(-1)
        if len(xs) != len(ys):
            raise ValueError(f"{len(xs)} x values but {len(ys)} y values")
        k = len(xs)
        if not k:
            return
        self._cache = None
        self.n += k
        self._last = (float(xs[-1]), float(ys[-1]))
        i = 0
        while i < k:
            tail = self._tail
            if tail[0] == 0 and k - i >= self.width:
                # whole buckets at once
                m = min((k - i) // self.width, self.max_buckets - self._nb)
                j = i + m * self.width
                self._push(xs[i:j].reshape(m, self.width), ys[i:j].reshape(m, self.width))
                i = j
            else:
                take = min(int(self.width - tail[0]), k - i)
                self._fold(xs[i : i + take], ys[i : i + take])
                i += take
                if tail[0] == self.width:
                    row = np.array([[tail[1], tail[2], tail[3], tail[4]]])
                    self._tail = [0, 0.0, np.inf, 0.0, -np.inf]
                    self._add_rows(row)
            if self._nb == self.max_buckets:
                self._halve()

    def _fold(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Fold a few points into the bucket being filled."""
        tail = self._tail
        lo, hi = _argmin(ys[np.newaxis])[0], _argmax(ys[np.newaxis])[0]
        # a NaN (a failed step) counts as an extreme only when nothing else is there
        if tail[0] == 0 or _below(ys[lo], tail[2]):
            tail[1], tail[2] = float(xs[lo]), float(ys[lo])
        if tail[0] == 0 or _above(ys[hi], tail[4]):
            tail[3], tail[4] = float(xs[hi]), float(ys[hi])
        tail[0] += len(xs)

    def _push(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Add full buckets, one per row of ``xs``/``ys``."""
        rows = np.arange(len(xs))
        lo, hi = _argmin(ys), _argmax(ys)
        self._add_rows(np.stack([xs[rows, lo], ys[rows, lo], xs[rows, hi], ys[rows, hi]], axis=1))

    def _add_rows(self, rows: np.ndarray) -> None:
        self._b[self._nb : self._nb + len(rows)] = rows
        self._nb += len(rows)

    def _halve(self) -> None:
        """Merge neighbouring buckets pairwise: half as many, twice as wide."""
        b = self._b[: self._nb].reshape(-1, 2, 4)
        half = len(b)
        rows = np.arange(half)
        lo = _argmin(b[:, :, 1])
        hi = _argmax(b[:, :, 3])
        merged = np.stack([b[rows, lo, 0], b[rows, lo, 1], b[rows, hi, 2], b[rows, hi, 3]], axis=1)
        self._b[:half] = merged
        self._nb = half
        self.width *= 2
        # the bucket being filled is now a fraction of a wider one: it simply goes on filling

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The envelope as x/y arrays in x order: each bucket's min and max point (one point
        when they coincide), then the filling bucket's, then the last point appended."""
        if self._cache is not None:
            return self._cache
        b = self._b[: self._nb]
        pairs = np.empty((self._nb, 2, 2))
        first_min = b[:, 0] <= b[:, 2]
        pairs[:, 0, 0] = np.where(first_min, b[:, 0], b[:, 2])
        pairs[:, 0, 1] = np.where(first_min, b[:, 1], b[:, 3])
        pairs[:, 1, 0] = np.where(first_min, b[:, 2], b[:, 0])
        pairs[:, 1, 1] = np.where(first_min, b[:, 3], b[:, 1])
        flat = pairs.reshape(-1, 2)
        if self._nb:
            # a bucket whose min and max are one point: draw it once
            keep = np.ones(len(flat), dtype=bool)
            keep[1::2] = b[:, 0] != b[:, 2]
            flat = flat[keep]
        extra: list[tuple[float, float]] = []
        tail = self._tail
        if tail[0]:
            extra.extend(sorted({(tail[1], tail[2]), (tail[3], tail[4])}, key=lambda p: p[0]))
        last = self._last
        if last is not None:
            end = extra[-1] if extra else (tuple(flat[-1]) if len(flat) else None)
            if end is None or not _same(end, last):
                extra.append(last)
        if extra:
            flat = np.concatenate([flat, np.array(extra, dtype=float)])
        x = np.ascontiguousarray(flat[:, 0])
        y = np.ascontiguousarray(flat[:, 1])
        self._cache = (x, y)
        return self._cache


def _argmin(a: np.ndarray) -> np.ndarray:
    """Index of each row's minimum, NaN counted only where a row holds nothing else."""
    return np.where(np.isnan(a), np.inf, a).argmin(axis=-1)


def _argmax(a: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(a), -np.inf, a).argmax(axis=-1)


def _below(value: float, than: float) -> bool:
    return bool(value < than) or (np.isnan(than) and not np.isnan(value))


def _above(value: float, than: float) -> bool:
    return bool(value > than) or (np.isnan(than) and not np.isnan(value))


def _same(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Two points are one (NaN equal to NaN)."""
    return all(u == v or (np.isnan(u) and np.isnan(v)) for u, v in zip(a, b, strict=True))
