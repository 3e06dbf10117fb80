"""Data-section edits (engine/editing/data_section.py), no Qt; the file probes are in
test_editing_probes.py."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from engine.data.spec import normalize_spec
from engine.editing import data_section as ds
from engine.errors import DataError
from engine.io import load_design
from resources import template_path
from tests.engine.builders import add, chain

CSV = {"source": "csv", "path": "t.csv", "target": "label"}


# -- the engine's rule ------------------------------------------------------------------------


def test_an_empty_feature_list_is_refused_by_the_engine():
    with pytest.raises(DataError, match="t.csv: no feature columns chosen: check at least one"):
        normalize_spec({**CSV, "features": []})
    with pytest.raises(DataError, match="no feature columns chosen"):
        ds.check_spec({**CSV, "features": []})
    ds.check_spec({**CSV, "features": ["a"]})  # a chosen column is fine
    ds.check_spec(dict(CSV))  # absent: every column but the target


# -- edits ------------------------------------------------------------------------------------


def test_with_value_sets_nested_keys_and_reports_no_change():
    spec = {"source": "builtin", "name": "digits"}
    new = ds.with_value(spec, ("split", "val"), 0.3)
    assert new == {**spec, "split": {"val": 0.3}} and "split" not in spec
    assert ds.with_value(new, ("split", "val"), 0.3) is None
    assert ds.with_value(spec, ("form",), None) == {**spec, "form": None}  # absent ≠ None


def test_choosing_a_csv_detects_delimiter_and_target_and_keeps_the_split(tmp_path):
    (tmp_path / "t.csv").write_text("a;b;label\n1;2;3\n", encoding="utf-8")
    old = {
        "source": "builtin",
        "name": "digits",
        "split": {"val": 0.3},
        "preprocess": {"scale": "minmax"},
        "form": "image",
    }
    spec = ds.for_file(old, "csv", tmp_path / "t.csv", "t.csv")
    assert spec == {
        "source": "csv",
        "path": "t.csv",
        "split": {"val": 0.3},
        "preprocess": {"scale": "minmax"},
        "target": "label",
        "delimiter": ";",
    }
    spec["split"]["val"] = 0.1
    assert old["split"] == {"val": 0.3}  # a copy, not shared
    (tmp_path / "c.csv").write_text("x,y\n", encoding="utf-8")
    assert "delimiter" not in ds.for_file({}, "csv", tmp_path / "c.csv", "c.csv")
    (tmp_path / "bad.csv").write_text("a,a\n", encoding="utf-8")
    with pytest.raises(DataError, match="appears twice"):
        ds.for_file({}, "csv", tmp_path / "bad.csv", "bad.csv")


def test_choosing_an_npz_picks_x_and_y_else_the_first_two(tmp_path):
    np.savez(tmp_path / "xy.npz", y=np.arange(3), x=np.zeros((3, 2)))
    spec = ds.for_file({}, "npz", tmp_path / "xy.npz", "xy.npz")
    assert (spec["x_key"], spec["y_key"]) == ("x", "y")
    np.savez(tmp_path / "ab.npz", feats=np.zeros((3, 2)), labels=np.arange(3))
    spec = ds.for_file({}, "npz", tmp_path / "ab.npz", "ab.npz")
    assert (spec["x_key"], spec["y_key"]) == ("feats", "labels")
    np.savez(tmp_path / "one.npz", only=np.zeros((3, 2)))
    assert ds.for_file({}, "npz", tmp_path / "one.npz", "one.npz")["y_key"] is None


def test_an_image_folder_starts_at_28_by_28_grayscale(tmp_path):
    spec = ds.for_file({}, "image_folder", tmp_path, "imgs")
    assert spec == {
        "source": "image_folder",
        "path": "imgs",
        "size": [28, 28],
        "color": "grayscale",
    }
    assert ds.image_size(spec, 1, 64) == [28, 64] and spec["size"] == [28, 28]
    assert ds.image_size({}, 0, 10) == [10, 28]


def test_paths_are_written_relative_to_the_design_folder(tmp_path):
    inside = tmp_path / "data" / "t.csv"
    assert ds.shown_path(inside, tmp_path) == str(inside.relative_to(tmp_path))
    assert ds.shown_path(inside, tmp_path / "elsewhere") == str(inside)
    assert ds.shown_path(inside, None) == str(inside)
    assert ds.resolve("t.csv", tmp_path) == tmp_path / "t.csv"
    assert ds.resolve(str(inside), tmp_path / "x") == inside
    assert ds.resolve("t.csv", None).name == "t.csv"


def test_a_new_target_leaves_the_feature_lists():
    spec = {**CSV, "features": ["a", "b"], "categorical": ["b"]}
    before = copy.deepcopy(spec)
    new = ds.with_target(spec, "b")
    assert new["target"] == "b" and new["features"] == ["a"] and new["categorical"] == []
    assert spec == before
    assert ds.with_target(spec, "label") is None
    assert ds.with_target({"source": "csv", "path": "t.csv"}, None)["target"] is None


def test_a_new_delimiter_drops_columns_the_header_lacks(tmp_path):
    (tmp_path / "t.csv").write_text("a;b;c\n1;2;3\n", encoding="utf-8")
    spec = {
        "source": "csv",
        "path": "t.csv",
        "target": "label",
        "features": ["x"],
        "categorical": ["b", "gone"],
    }
    new = ds.with_delimiter(spec, ";", tmp_path)
    assert new["delimiter"] == ";" and new["target"] == "c"  # the old target is not there
    assert "features" not in new  # none left: every column again
    assert new["categorical"] == ["b"]
    assert ds.with_delimiter({**spec, "delimiter": ";"}, ";", tmp_path) is None
    (tmp_path / "t.csv").write_text("a,,b\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no name"):
        ds.with_delimiter({**spec, "delimiter": ";"}, ",", tmp_path)


def test_columns_all_but_the_target_leave_the_feature_list_out(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,c,label\n", encoding="utf-8")
    spec = dict(CSV)
    assert ds.with_columns(spec, ["a", "b", "c"], [], tmp_path) is None  # already so
    new = ds.with_columns(spec, ["a", "c"], ["c", "b"], tmp_path)
    assert new["features"] == ["a", "c"] and new["categorical"] == ["c"]
    back = ds.with_columns(new, ["a", "b", "c"], [], tmp_path)
    assert "features" not in back and "categorical" not in back
    with pytest.raises(DataError, match="no feature columns chosen"):
        ds.check_spec(ds.with_columns(spec, [], [], tmp_path))


def test_outlier_method_moves_a_default_threshold_along():
    spec = {
        "source": "builtin",
        "name": "digits",
        "preprocess": {"outliers": "zscore", "outlier_threshold": 3.0},
    }
    new = ds.with_outliers(spec, "iqr")
    assert new["preprocess"] == {"outliers": "iqr"}
    assert spec["preprocess"]["outlier_threshold"] == 3.0
    custom = {**spec, "preprocess": {"outliers": "zscore", "outlier_threshold": 2.5}}
    assert ds.with_outliers(custom, "iqr")["preprocess"]["outlier_threshold"] == 2.5
    assert ds.with_outliers(spec, "zscore") is None
    assert ds.with_outliers({"source": "builtin"}, "iqr")["preprocess"] == {"outliers": "iqr"}


def test_builtin_datasets_keep_split_and_the_digits_form():
    old = {"source": "builtin", "name": "digits", "form": "image", "split": {"val": 0.2}}
    assert ds.with_dataset(old, "digits") is None
    moons = ds.with_dataset(old, "moons")
    assert moons == {"source": "builtin", "name": "moons", "split": {"val": 0.2}}
    assert ds.with_dataset(moons, "digits")["form"] == "flat"
    assert "split" not in ds.with_dataset(old, "moons", keep_preprocess=False)
    assert ds.without_form(old) == {"source": "builtin", "name": "digits", "split": {"val": 0.2}}
    assert ds.without_form(moons) is None


def test_data_input_is_the_only_input_or_the_discriminators():
    design = chain(("x", "Input", {"shape": [4]}), ("fc", "Linear", {"out_features": 2}))
    assert ds.data_input(design) == "x"
    add(design, "y", "Input", {"shape": [4]})
    assert ds.data_input(design) is None  # two inputs: no single answer
    gan = load_design(template_path("gan"))
    assert ds.data_input(gan) == "sample"  # not the generator's noise
