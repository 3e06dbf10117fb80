"""The user's own files: CSV, .npy/.npz and image folders, and every bad-data message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.data import prepare_data
from engine.errors import DataError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


HOUSES = """area,rooms,city,price
50,2,paris,300
80,3,lyon,250
120,4,paris,700
65,2,nice,260
90,3,lyon,310
150,5,nice,900
70,,paris,400
100,3,lyon,330
110,4,nice,500
60,2,paris,350
"""


def no_split(**extra: object) -> dict:
    return {"split": {"val": 0.0}, **extra}


def houses(tmp_path, impute: str):
    """``HOUSES`` written as houses.csv and prepared (target price, no split) with ``impute``."""
    write(tmp_path / "houses.csv", HOUSES)
    return prepare_data(
        {
            "source": "csv",
            "path": "houses.csv",
            "target": "price",
            "preprocess": {"impute": impute},
            **no_split(),
        },
        base_dir=tmp_path,
    )


# ------------------------------------------------------------------------------- CSV
def test_csv_regression_with_categorical_one_hot(tmp_path):
    d = houses(tmp_path, "median")
    assert d.task == "regression"  # integer prices, but every one is different
    assert d.feature_names == ["area", "rooms", "city=lyon", "city=nice", "city=paris"]
    assert d.input_shape == (5,) and d.target_shape == (1,)
    assert d.preprocessor.affine_params() is None  # one-hot is not affine
    row = d.x_train[np.where(d.y_train[:, 0] == 400)[0][0]]
    # the missing room count got the train median (3); paris one-hot
    np.testing.assert_array_equal(row, [70, 3, 0, 0, 1])


def test_csv_infers_classification_from_text_labels_and_keeps_names(tmp_path):
    rows = "\n".join(f"{i},{i % 3 * 10 + 1},{['cat', 'dog', 'bird'][i % 3]}" for i in range(30))
    write(tmp_path / "pets.csv", "weight,height,kind\n" + rows + "\n")
    d = prepare_data(
        {"source": "csv", "path": "pets.csv", "target": "kind", "split": {"val": 0.2}},
        base_dir=tmp_path,
    )
    assert d.task == "classification" and d.num_classes == 3
    assert d.class_names == ["bird", "cat", "dog"]
    assert d.preprocessor.class_names == ["bird", "cat", "dog"]
    # label 1 ("cat") rows are i % 3 == 0, whose height is 1
    assert np.all(d.x_train[d.y_train == 1][:, 1] == 1)


def test_csv_numeric_labels_sort_numerically_and_features_subset(tmp_path):
    rows = "\n".join(f"{i},{i * 2},{[2, 10, 7][i % 3]}" for i in range(30))
    write(tmp_path / "t.csv", "a,b,label\n" + rows + "\n")
    d = prepare_data(
        {"source": "csv", "path": "t.csv", "target": "label", "features": ["b"], **no_split()},
        base_dir=tmp_path,
    )
    assert d.task == "classification" and d.class_names == ["2", "7", "10"]
    assert d.input_shape == (1,) and d.feature_names == ["b"]


def test_csv_task_override_and_semicolons(tmp_path):
    write(tmp_path / "s.csv", "x;y\n1;0\n2;1\n3;0\n4;1\n")
    d = prepare_data(
        {
            "source": "csv",
            "path": "s.csv",
            "target": "y",
            "delimiter": ";",
            "task": "regression",
            **no_split(),
        },
        base_dir=tmp_path,
    )
    assert d.task == "regression" and d.y_train.dtype == np.float32


def test_csv_drop_removes_incomplete_rows(tmp_path):
    d = houses(tmp_path, "drop")
    assert len(d.x_train) == 9 and 400 not in d.y_train


# ------------------------------------------------------------------------------- NumPy
def test_npz_with_default_and_custom_keys(tmp_path):
    x = np.random.default_rng(0).normal(size=(40, 3))
    y = np.repeat([0, 1], 20)
    np.savez(tmp_path / "a.npz", x=x, y=y)
    np.savez(tmp_path / "b.npz", feats=x, labels=np.where(y == 1, "yes", "no"))
    a = prepare_data({"source": "npz", "path": "a.npz", **no_split()}, base_dir=tmp_path)
    assert a.task == "classification" and a.class_names == ["0", "1"]
    b = prepare_data(
        {"source": "npz", "path": "b.npz", "x_key": "feats", "y_key": "labels", **no_split()},
        base_dir=tmp_path,
    )
    assert b.class_names == ["no", "yes"] and b.input_shape == (3,)
    np.testing.assert_allclose(np.sort(b.x_train[:, 0]), np.sort(x[:, 0]).astype(np.float32))


def test_npz_images_and_unsupervised(tmp_path):
    x = np.random.default_rng(0).uniform(size=(12, 3, 5, 5))
    np.savez(tmp_path / "imgs.npz", x=x)
    d = prepare_data(
        {"source": "npz", "path": "imgs.npz", "y_key": None, **no_split()}, base_dir=tmp_path
    )
    assert d.task == "unsupervised" and d.y_train is None and d.input_shape == (3, 5, 5)


def test_npy_target_file_and_last_column(tmp_path):
    x = np.arange(60, dtype=np.float64).reshape(20, 3)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", x[:, 0] * 0.5 + 0.25)
    d = prepare_data(
        {"source": "npy", "path": "x.npy", "target_path": "y.npy", **no_split()}, base_dir=tmp_path
    )
    assert d.task == "regression" and d.input_shape == (3,) and d.target_shape == (1,)
    np.testing.assert_allclose(d.y_train[:, 0], d.x_train[:, 0] * 0.5 + 0.25)
    last = prepare_data(
        {"source": "npy", "path": "x.npy", "target": "last", **no_split()}, base_dir=tmp_path
    )
    assert last.input_shape == (2,)
    np.testing.assert_allclose(last.y_train[:, 0], last.x_train[:, 1] + 1)
    seq = np.zeros((10, 7, 2))
    np.save(tmp_path / "seq.npy", seq)
    s = prepare_data({"source": "npy", "path": "seq.npy", **no_split()}, base_dir=tmp_path)
    assert s.task == "unsupervised" and s.input_shape == (7, 2)


# ------------------------------------------------------------------------------- images
def make_images(root: Path, classes: dict[str, int], size=(10, 6)) -> None:
    for k, (name, count) in enumerate(classes.items()):
        (root / name).mkdir(parents=True)
        for i in range(count):
            value = 255 if k == 0 else 0
            Image.new("RGB", size, (value, 128, 0)).save(root / name / f"{i}.png")


def test_image_folder_grayscale_resized_to_unit_range(tmp_path):
    make_images(tmp_path / "imgs", {"bright": 5, "dark": 5})
    (tmp_path / "imgs" / "dark" / "notes.txt").write_text("ignored")
    Image.new("L", (3, 3), 0).save(tmp_path / "imgs" / "dark" / "x.jpg")
    d = prepare_data(
        {"source": "image_folder", "path": "imgs", "size": [4, 8], **no_split()}, base_dir=tmp_path
    )
    assert d.class_names == ["bright", "dark"] and d.num_classes == 2
    assert d.input_shape == (1, 4, 8) and len(d.x_train) == 11
    assert 0.0 <= d.x_train.min() and d.x_train.max() <= 1.0
    assert d.x_train[d.y_train == 0].mean() > d.x_train[d.y_train == 1].mean()


def test_image_folder_rgb_channels_first(tmp_path):
    make_images(tmp_path / "imgs", {"a": 3, "b": 3})
    d = prepare_data(
        {"source": "image_folder", "path": "imgs", "size": [5, 5], "color": "rgb", **no_split()},
        base_dir=tmp_path,
    )
    assert d.input_shape == (3, 5, 5)
    red = d.x_train[d.y_train == 0][:, 0]
    np.testing.assert_allclose(red, 1.0)
    np.testing.assert_allclose(d.x_train[:, 1], 128 / 255, atol=1e-6)


# ------------------------------------------------------------------------------- bad data
def error_of(spec: dict, base: Path) -> str:
    with pytest.raises(DataError) as err:
        prepare_data(spec, base_dir=base)
    msg = str(err.value)
    assert "\n" not in msg and ": " in msg
    return msg


def test_missing_file_names_the_path(tmp_path):
    msg = error_of({"source": "csv", "path": "data/none.csv", "target": "y"}, tmp_path)
    assert "data/none.csv" in msg and "not found" in msg


def test_empty_and_header_only_csv(tmp_path):
    write(tmp_path / "e.csv", "")
    assert "e.csv is empty" in error_of({"source": "csv", "path": "e.csv", "target": "y"}, tmp_path)
    write(tmp_path / "h.csv", "a,y\n")
    assert "no data rows" in error_of({"source": "csv", "path": "h.csv", "target": "y"}, tmp_path)


def test_missing_target_column_lists_columns(tmp_path):
    write(tmp_path / "houses.csv", HOUSES)
    msg = error_of({"source": "csv", "path": "houses.csv", "target": "cost"}, tmp_path)
    assert "houses.csv" in msg and "'cost'" in msg and "area, rooms, city, price" in msg


def test_non_numeric_value_names_line_and_column(tmp_path):
    write(tmp_path / "houses.csv", HOUSES.replace("90,3,lyon", "90,three,lyon"))
    msg = error_of({"source": "csv", "path": "houses.csv", "target": "price"}, tmp_path)
    assert msg.startswith("houses.csv line 6, column 'rooms': 'three' is not a number")


def test_missing_value_without_imputation_names_line_and_column(tmp_path):
    write(tmp_path / "houses.csv", HOUSES)
    msg = error_of({"source": "csv", "path": "houses.csv", "target": "price"}, tmp_path)
    assert "houses.csv line 8, column 'rooms'" in msg and "preprocess.impute" in msg


def test_ragged_row_and_empty_target(tmp_path):
    write(tmp_path / "r.csv", "a,b,y\n1,2,3\n4,5\n")
    assert "r.csv line 3: 2 fields" in error_of(
        {"source": "csv", "path": "r.csv", "target": "y"}, tmp_path
    )
    write(tmp_path / "t.csv", "a,y\n1,2\n3,\n")
    assert "t.csv line 3: target column 'y' is empty" in error_of(
        {"source": "csv", "path": "t.csv", "target": "y"}, tmp_path
    )


def test_identifier_like_text_column_is_refused(tmp_path):
    rows = "\n".join(f"name{i},{i},{i % 2}" for i in range(80))
    write(tmp_path / "p.csv", "name,v,y\n" + rows + "\n")
    msg = error_of({"source": "csv", "path": "p.csv", "target": "y"}, tmp_path)
    assert "column 'name' has 80 different text values" in msg


def test_npz_missing_key_lists_keys(tmp_path):
    np.savez(tmp_path / "d.npz", data=np.zeros((4, 2)), target=np.zeros(4))
    msg = error_of({"source": "npz", "path": "d.npz"}, tmp_path)
    assert "d.npz has no array 'x'" in msg and "data, target" in msg


def test_npy_garbage_and_length_mismatch(tmp_path):
    (tmp_path / "bad.npy").write_bytes(b"not numpy at all")
    assert "bad.npy" in error_of({"source": "npy", "path": "bad.npy"}, tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((5, 2)))
    np.save(tmp_path / "y.npy", np.zeros(4))
    msg = error_of({"source": "npy", "path": "x.npy", "target_path": "y.npy"}, tmp_path)
    assert "y.npy has 4 targets but x.npy has 5 samples" in msg


def test_undecodable_image_names_the_file(tmp_path):
    make_images(tmp_path / "imgs", {"a": 2, "b": 2})
    (tmp_path / "imgs" / "b" / "broken.png").write_bytes(b"\x89PNG garbage")
    msg = error_of({"source": "image_folder", "path": "imgs"}, tmp_path)
    assert msg.startswith("image 'imgs/b/broken.png' cannot be decoded")


def test_empty_class_folder_and_no_class_folders(tmp_path):
    make_images(tmp_path / "imgs", {"a": 2})
    (tmp_path / "imgs" / "empty").mkdir()
    msg = error_of({"source": "image_folder", "path": "imgs"}, tmp_path)
    assert "class folder 'imgs/empty' has no images" in msg
    (tmp_path / "flat").mkdir()
    assert "no class sub-folders" in error_of({"source": "image_folder", "path": "flat"}, tmp_path)


def test_single_class_target_is_refused(tmp_path):
    write(tmp_path / "one.csv", "a,y\n1,cat\n2,cat\n")
    assert "only one class ('cat')" in error_of(
        {"source": "csv", "path": "one.csv", "target": "y"}, tmp_path
    )
