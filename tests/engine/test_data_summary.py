"""The numbers behind the data panel's pictures (engine/data/summary.py), chosen by the data's
form: an image grid per class, a table with a histogram per column and its missing values,
sequences, a 2-D scatter, and the samples per class in each split."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.data import prepare_data
from engine.data.summary import (
    BINS,
    GAP,
    PER_CLASS,
    TABLE_ROWS,
    column_summary,
    image_grid,
    summarize,
    tile_images,
)
from engine.errors import DataError


def summary_of(spec, base_dir=None, seed=0):
    seen = []
    data = prepare_data(spec, base_dir, seed, on_raw=lambda raw: seen.append(copy.copy(raw)))
    assert len(seen) == 1
    return data, summarize(data, seen[0], seed)


def test_digits_images_make_one_grid_a_row_per_class():
    data, s = summary_of({"source": "builtin", "name": "digits", "form": "image"})
    assert s.kind == "images"
    grid = s.grid
    assert grid.row_labels == [str(d) for d in range(10)]
    # 10 rows and 6 columns of 8×8 cells with a one-pixel gap between cells
    assert grid.pixels.shape == (10 * 9 - 1, PER_CLASS * 9 - 1)
    assert grid.samples.shape == (10 * PER_CLASS, 1, 8, 8)
    assert 0.0 <= grid.pixels.min() and grid.pixels.max() <= 1.0
    assert np.all(grid.pixels[8, :] == GAP)  # the gap under the first row
    # each cell holds a training sample of its row's class
    for sample, (row, col) in zip(grid.samples, grid.slots, strict=True):
        matches = np.flatnonzero((data.x_train == sample).all(axis=(1, 2, 3)))
        assert row in data.y_train[matches]
        assert 0 <= col < PER_CLASS


def test_digits_loaded_flat_are_still_pictured_as_images():
    _, s = summary_of({"source": "builtin", "name": "digits", "form": "flat"})
    assert s.kind == "images" and s.grid.samples.shape == (10 * PER_CLASS, 1, 8, 8)
    assert s.grid.row_labels == [str(d) for d in range(10)]
    _, iris = summary_of({"source": "builtin", "name": "iris"})  # 4 columns: a table
    assert iris.kind == "table"


def test_the_grid_is_picked_with_the_seed():
    x = np.random.default_rng(1).random((200, 1, 4, 4))
    y = np.arange(200) % 4
    names = ["a", "b", "c", "d"]
    first = image_grid(x, y, names, seed=3)
    assert np.array_equal(first.pixels, image_grid(x, y, names, seed=3).pixels)
    assert not np.array_equal(first.pixels, image_grid(x, y, names, seed=4).pixels)


def test_rgb_images_tile_as_colour_and_a_small_class_leaves_empty_cells():
    x = np.zeros((7, 3, 2, 2))
    x[:, 0] = np.arange(7.0)[:, None, None] * 10.0  # 0-255 pixels, only red: 0, 10, … 60
    y = np.array([0, 0, 0, 0, 0, 0, 1])
    grid = image_grid(x, y, ["many", "one"], seed=0, per_class=3)
    assert grid.pixels.shape == (2 * 3 - 1, 3 * 3 - 1, 3)
    shown = grid.pixels[[0, 0, 3], [0, 3, 0]]  # the top-left pixel of three cells
    assert shown[:, 1:].max() == 0.0  # green and blue stay dark: colours keep their balance
    assert shown[2, 0] == pytest.approx(60 / 255)  # pixels in 0-255 shown as such
    assert grid.slots == [(0, 0), (0, 1), (0, 2), (1, 0)]
    assert np.all(grid.pixels[3:5, 3:5] == GAP)  # class "one" has no second sample


def test_scaled_images_are_shown_with_their_scaling_undone():
    plain = summary_of({"source": "builtin", "name": "digits", "form": "image"})[1].grid
    data, scaled = summary_of(
        {
            "source": "builtin",
            "name": "digits",
            "form": "image",
            "preprocess": {"scale": "standard"},
        }
    )
    assert data.x_train.min() < 0  # standardized ...
    assert np.allclose(scaled.grid.pixels, plain.pixels, atol=1e-5)  # ... but drawn as loaded
    signed = np.stack([np.full((1, 2, 2), -2.0), np.full((1, 2, 2), 2.0)])
    grid = image_grid(signed, np.array([0, 1]), ["a", "b"], 0)
    assert grid.pixels[0, 0] == 0.0 and grid.pixels[3, 0] == 1.0  # stretched over its range


def test_the_after_grid_must_keep_the_sample_shape():
    x = np.random.default_rng(0).random((20, 1, 4, 4))
    grid = image_grid(x, np.arange(20) % 2, ["a", "b"], seed=0)
    grid.set_after(grid.samples[:, :, ::-1])  # a vertical flip
    assert grid.after.shape == grid.pixels.shape
    assert np.array_equal(grid.after[0:4, 0:4], grid.pixels[0:4, 0:4][::-1])
    with pytest.raises(DataError, match="must keep the sample shape"):
        grid.set_after(grid.samples[:, :, :2])


def test_tile_images_refuses_samples_that_are_not_images():
    with pytest.raises(DataError, match="load the data as images"):
        tile_images(np.zeros((3, 4)), [(0, 0)], 1, 1)


def test_iris_table_has_first_rows_and_a_histogram_per_column():
    _, s = summary_of({"source": "builtin", "name": "iris"})
    assert s.kind == "table"
    assert len(s.header) == 4 and len(s.columns) == 4
    assert len(s.rows) == TABLE_ROWS and s.rows[0] == ["5.1", "3.5", "1.4", "0.2"]
    for col in s.columns:
        assert col.numeric and col.missing == 0
        assert len(col.counts) == BINS and col.counts.sum() == 150  # values as loaded, all rows


def test_a_csv_shows_missing_values_and_text_columns_as_loaded(tmp_path):
    lines = ["size,colour,kind"] + [
        f"{'' if i % 5 == 0 else i},{'' if i == 3 else 'rgb'[i % 3]},{'xy'[i % 2]}"
        for i in range(30)
    ]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    spec = {
        "source": "csv",
        "path": "t.csv",
        "target": "kind",
        "preprocess": {"impute": "most_frequent"},
    }
    _, s = summary_of(spec, tmp_path)
    assert s.kind == "table" and s.header == ["size", "colour"]
    size, colour = s.columns
    assert size.numeric and size.missing == 6 and size.counts.sum() == 24
    assert not colour.numeric and colour.missing == 1
    assert sorted(colour.labels) == ["b", "g", "r"] and colour.counts.sum() == 29
    assert (
        s.rows[0][0] == ""
        and s.class_counts["train"].sum()
        + s.class_counts["validation"].sum()
        + s.class_counts["test"].sum()
        == 30
    )


def test_top_values_keep_five_bars_and_one_other():
    values = np.array([f"v{i % 8}" for i in range(80)] + [""] * 3, dtype=object)
    col = column_summary(values, "c", text=True)
    assert col.labels[-1] == "other" and len(col.labels) == 6
    assert col.counts.sum() == 80 and col.missing == 3


def test_moons_is_a_scatter_of_two_classes():
    _, s = summary_of({"source": "builtin", "name": "moons", "options": {"n_samples": 300}})
    assert s.kind == "points"
    assert s.points.shape == (300, 2)
    assert sorted(set(s.point_labels.tolist())) == [0, 1]
    assert s.axis_names == ("x1", "x2")


def test_class_counts_per_split_equal_the_splits():
    data, s = summary_of({"source": "builtin", "name": "iris", "split": {"val": 0.2, "test": 0.2}})
    for split, y in (("train", data.y_train), ("validation", data.y_val), ("test", data.y_test)):
        assert s.class_counts[split].tolist() == np.bincount(y, minlength=3).tolist()
    assert sum(c.sum() for c in s.class_counts.values()) == 150


def test_sequences_are_drawn_per_class_and_a_forecast_draws_its_series():
    data, s = summary_of({"source": "builtin", "name": "digits", "form": "sequence"})
    assert s.kind == "sequences"
    assert sorted(set(s.line_labels)) == list(range(10))  # every class, one line each
    assert all(line.shape == (8,) for line in s.lines)
    _, f = summary_of(
        {"source": "builtin", "name": "multi_sine", "options": {"n_series": 2, "n_steps": 300}}
    )
    assert f.kind == "sequences" and f.class_counts is None
    assert len(f.lines) == 2 and f.lines[0].shape == (300,)  # under MAX_SERIES_STEPS


def test_regression_tables_have_no_class_balance():
    _, s = summary_of({"source": "builtin", "name": "diabetes"})
    assert s.kind == "table" and s.class_counts is None and len(s.columns) == 10
