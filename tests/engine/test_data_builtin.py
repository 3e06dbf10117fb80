"""Embedded datasets: shapes, classes, value ranges, options and shape checks."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import BUILTIN_DATASETS, check_input_shape, prepare_data
from engine.errors import DataError


def builtin(name: str, **spec: object) -> dict:
    return {"source": "builtin", "name": name, **spec}


@pytest.mark.parametrize(
    ("name", "n_total", "input_shape", "num_classes"),
    [
        ("iris", 150, (4,), 3),
        ("wine", 178, (13,), 3),
        ("breast_cancer", 569, (30,), 2),
        ("moons", 1000, (2,), 2),
        ("circles", 1000, (2,), 2),
        ("spirals", 1000, (2,), 2),
    ],
)
def test_classification_tables_load_with_their_classes(name, n_total, input_shape, num_classes):
    d = prepare_data(builtin(name))
    assert d.task == "classification"
    assert d.input_shape == input_shape and d.target_shape == ()
    assert d.num_classes == num_classes and len(d.class_names) == num_classes
    assert len(d.x_train) + len(d.x_val) == n_total and len(d.x_test) == 0
    assert len(d.x_val) == round(0.2 * n_total)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    assert set(np.unique(d.y_train)) == set(range(num_classes))
    assert f"{len(d.x_train)} train / {len(d.x_val)} val" in d.description


def test_class_names_are_the_real_names():
    assert prepare_data(builtin("iris")).class_names == ["setosa", "versicolor", "virginica"]
    assert prepare_data(builtin("breast_cancer")).class_names == ["malignant", "benign"]
    assert prepare_data(builtin("iris")).feature_names[0] == "sepal length (cm)"


def test_diabetes_is_regression_with_column_targets():
    d = prepare_data(builtin("diabetes"))
    assert d.task == "regression" and d.num_classes is None and d.class_names is None
    assert d.input_shape == (10,) and d.target_shape == (1,)
    assert d.y_train.shape == (len(d.x_train), 1) and d.y_train.dtype == np.float32
    assert 25 <= d.y_train.min() and d.y_train.max() <= 346  # raw disease-progression scores


@pytest.mark.parametrize(
    ("form", "shape"), [("flat", (64,)), ("image", (1, 8, 8)), ("sequence", (8, 8))]
)
def test_digits_forms_are_scaled_to_unit_range(form, shape):
    d = prepare_data(builtin("digits", form=form))
    assert d.input_shape == shape and d.x_train.shape == (1437, *shape)
    assert d.x_val.shape == (360, *shape)
    assert d.x_train.min() == 0.0 and d.x_train.max() == 1.0
    assert d.num_classes == 10 and d.class_names == [str(i) for i in range(10)]
    assert d.description.startswith(f"digits ({form}")
    assert "1437 train / 360 val samples" in d.description


def test_digits_forms_hold_the_same_pixels():
    flat = prepare_data(builtin("digits", form="flat"))
    image = prepare_data(builtin("digits", form="image"))
    seq = prepare_data(builtin("digits", form="sequence"))
    np.testing.assert_array_equal(flat.x_train.reshape(-1, 1, 8, 8), image.x_train)
    np.testing.assert_array_equal(seq.x_train.reshape(-1, 64), flat.x_train)
    np.testing.assert_array_equal(flat.y_train, image.y_train)


def test_digits_are_read_from_disk_once_per_process(monkeypatch):
    """Switching the digits form (or re-running) never re-reads scikit-learn's files."""
    from sklearn import datasets

    prepare_data(builtin("digits"))  # pays the one-time read
    calls = []
    real = datasets.load_digits
    monkeypatch.setattr(datasets, "load_digits", lambda *a, **k: calls.append(1) or real(*a, **k))
    image = prepare_data(builtin("digits", form="image"))
    assert calls == [] and image.input_shape == (1, 8, 8)


def test_synthetic_options_and_seed():
    a = prepare_data(builtin("moons", options={"n_samples": 300, "noise": 0.0}), seed=3)
    b = prepare_data(builtin("moons", options={"n_samples": 300, "noise": 0.0}), seed=3)
    c = prepare_data(builtin("moons", options={"n_samples": 300, "noise": 0.0}), seed=4)
    assert len(a.x_train) + len(a.x_val) == 300
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    # noise-free moons lie on unit half circles
    radius = np.hypot(*a.x_train[a.y_train == 0].T)
    np.testing.assert_allclose(radius, 1.0, atol=1e-5)


def test_spirals_classes_option():
    d = prepare_data(builtin("spirals", options={"n_classes": 4, "n_samples": 400}))
    assert d.num_classes == 4 and np.bincount(d.y_train).tolist() == [80] * 4


def test_sine_windows_target_the_next_values():
    spec = builtin(
        "sine",
        options={"n_steps": 300, "window": 10, "horizon": 3, "noise": 0.0},
        split={"val": 0.2},
    )
    d = prepare_data(spec)
    assert d.task == "forecast" and d.input_shape == (10, 1) and d.target_shape == (3,)
    assert d.x_train.shape == (240 - 12, 10, 1) and d.y_train.shape == (240 - 12, 3)
    # window i+1 starts one step later: its last input is window i's first target
    assert d.x_train[1, -1, 0] == pytest.approx(d.y_train[0, 0])
    assert d.x_train[3, -1, 0] == pytest.approx(d.y_train[0, 2])
    # validation windows come after the training part of the series, in time order
    t = np.arange(300)
    series = np.sin(2 * np.pi * t / 50.0)
    np.testing.assert_allclose(d.x_val[0, :, 0], series[240:250], atol=1e-6)


def test_multi_sine_has_one_column_per_series():
    d = prepare_data(builtin("multi_sine", options={"n_series": 2, "window": 8, "horizon": 2}))
    assert d.input_shape == (8, 2) and d.target_shape == (4,)
    assert not np.allclose(d.x_train[:, :, 0], d.x_train[:, :, 1])


def test_every_builtin_has_a_one_line_description():
    assert {
        "digits",
        "iris",
        "wine",
        "breast_cancer",
        "diabetes",
        "moons",
        "circles",
        "spirals",
        "sine",
        "multi_sine",
    } <= set(BUILTIN_DATASETS)
    assert all(text and "\n" not in text for text in BUILTIN_DATASETS.values())


def test_unsupervised_drops_targets():
    d = prepare_data(builtin("digits", form="image", task="unsupervised"))
    assert d.task == "unsupervised" and d.y_train is None and d.y_val is None
    assert d.x_train.shape[1:] == (1, 8, 8)


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (builtin("imagenet"), ["'name'", "digits", "iris"]),
        (builtin("digits", form="cube"), ["'form'", "flat | image | sequence"]),
        (builtin("iris", form="image"), ["'form'", "iris"]),
        (builtin("moons", options={"n_sample": 5}), ["options.n_sample", "n_samples, noise"]),
        (builtin("moons", options={"noise": "lots"}), ["options.noise", "a number"]),
        (builtin("digits", task="regression"), ["task", "classification | unsupervised"]),
        (builtin("sine", options={"n_steps": 30, "window": 25, "horizon": 10}), ["n_steps"]),
        ({"source": "builtin", "name": "iris", "colour": 1}, ["'colour'", "options"]),
        ({"source": "sql"}, ["'source'", "builtin | csv"]),
        (builtin("iris", preprocess={"scale": "log"}), ["preprocess.scale", "standard | minmax"]),
        (builtin("iris", preprocess={"impute": "zero"}), ["preprocess.impute", "most_frequent"]),
        (builtin("iris", split={"val": 0.7, "test": 0.3}), ["split.val + split.test", "0.9"]),
        (
            builtin("iris", split={"valid": 0.1}),
            ["split.valid is not a known key", "val, test, stratify"],
        ),
        (builtin("iris", preprocess={"smooth_window": 5}), ["smooth_window", "sequence"]),
    ],
)
def test_bad_spec_names_the_key_and_the_allowed_values(spec, words):
    with pytest.raises(DataError) as err:
        prepare_data(spec)
    msg = str(err.value)
    assert "\n" not in msg
    for word in words:
        assert word in msg


def test_check_input_shape_explains_the_fix():
    d = prepare_data(builtin("digits"))
    check_input_shape(d, (64,), "in")  # matches: no error
    with pytest.raises(DataError) as err:
        check_input_shape(d, (1, 8, 8), "in")
    assert str(err.value) == (
        "data gives samples of shape (64,) but the design's Input 'in' "
        "expects (1, 8, 8): set data form to 'image' or change the Input "
        "shape"
    )
    iris = prepare_data(builtin("iris"))
    with pytest.raises(DataError, match=r"\(4,\).*Input 'x0' expects \(5,\).*\(4,\)"):
        check_input_shape(iris, (5,), "x0")


def test_check_input_shape_accepts_free_dimensions():
    d = prepare_data(builtin("sine", options={"window": 12}))
    check_input_shape(d, (None, 1), "in")
    check_input_shape(d, (-1, 1), "in")
    with pytest.raises(DataError, match=r"expects \(\?, 3\)"):
        check_input_shape(d, (None, 3), "in")
