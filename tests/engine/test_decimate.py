"""The min/max envelope the live loss curves draw: bounded, exact at the extremes and the end."""

from __future__ import annotations

import numpy as np
import pytest

from engine.training.decimate import MinMaxEnvelope


def feed(env: MinMaxEnvelope, x: np.ndarray, y: np.ndarray, chunks: list[int]) -> None:
    """Append ``x``/``y`` in chunks of the given sizes (cycled), as drained events arrive."""
    i, c = 0, 0
    while i < len(x):
        k = chunks[c % len(chunks)]
        env.extend(x[i : i + k], y[i : i + k])
        i, c = i + k, c + 1


@pytest.mark.parametrize(
    ("n", "chunks"),
    [(n, c) for n in (1, 2, 7, 64, 65, 1000, 12_345) for c in ([1], [25], [3, 1000, 17])]
    + [(200_000, [25]), (200_000, [3, 1000, 17])],
)
def test_the_envelope_is_bounded_covers_every_point_and_ends_exactly(n, chunks):
    rng = np.random.default_rng(n)
    x = np.arange(n, dtype=float) / 23.0
    y = np.cumsum(rng.normal(size=n)) + rng.standard_cauchy(size=n) * 0.1
    env = MinMaxEnvelope(max_buckets=32)
    feed(env, x, y, chunks)
    ex, ey = env.points()
    assert len(env) == n
    assert len(ex) <= 2 * 32 + 3  # bounded, whatever the length
    assert np.all(np.diff(ex) >= 0)  # in x order
    assert (ex[-1], ey[-1]) == (x[-1], y[-1])  # the newest point, exactly
    assert ey.max() == y.max() and ey.min() == y.min()  # the extremes are kept
    # every drawn point is a real point of the series
    index = np.rint(ex * 23.0).astype(int)
    assert np.array_equal(y[index], ey)
    # every point lies inside the envelope drawn within one bucket of it
    w = env.width
    for i in range(0, n, max(1, n // 500)):
        near = np.abs(index - i) <= 2 * w
        assert ey[near].min() <= y[i] <= ey[near].max()
    if n < 32:
        assert np.array_equal(ey, y)  # short series are drawn as they are


def test_a_long_series_stays_small_and_a_spike_survives():
    env = MinMaxEnvelope(max_buckets=64)
    y = np.ones(1_000_000)
    y[123_456] = 50.0  # one diverging step in a long run
    y[654_321] = -3.0
    x = np.arange(len(y), dtype=float)
    feed(env, x, y, [25, 4000])
    ex, ey = env.points()
    assert len(ex) <= 2 * 64 + 3
    assert 50.0 in ey and -3.0 in ey
    assert ex[list(ey).index(50.0)] == 123_456
    assert env.points() is env.points()  # cached until the next append
    env.append(1_000_000.0, 2.0)
    assert env.points()[1][-1] == 2.0


def test_nan_steps_do_not_hide_real_extremes():
    env = MinMaxEnvelope(max_buckets=4)
    y = np.array([1.0, np.nan, 3.0, 0.5, np.nan, np.nan, 2.0, 7.0, 1.0, np.nan])
    feed(env, np.arange(len(y), dtype=float), y, [1])
    _, ey = env.points()
    finite = ey[np.isfinite(ey)]
    assert finite.max() == 7.0 and finite.min() == 0.5
    assert np.isnan(ey[-1])  # the last point as it was


def test_clear_and_bad_input():
    env = MinMaxEnvelope(max_buckets=4)
    env.extend([0.0, 1.0], [1.0, 2.0])
    env.clear()
    assert len(env) == 0 and len(env.points()[0]) == 0
    with pytest.raises(ValueError, match="2 x values but 1 y values"):
        env.extend([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="even number"):
        MinMaxEnvelope(max_buckets=3)
