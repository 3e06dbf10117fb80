"""Preprocessing fitted on train only, its plain-JSON state, and the train/val/test split."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from sklearn.preprocessing import MinMaxScaler, StandardScaler

from engine.data import Preprocessor, prepare_data
from engine.data.prepare import split_indices
from engine.errors import DataError

PRE = {
    "scale": "standard",
    "impute": "none",
    "outliers": "none",
    "outlier_threshold": 3.0,
    "smooth_window": 0,
}


def test_scaler_sees_train_only_not_validation():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 2.0, size=(200, 3))
    val = rng.normal(500.0, 50.0, size=(50, 3))  # very different mean
    pre = Preprocessor(PRE).fit(train)
    np.testing.assert_allclose(pre.shift, train.mean(axis=0))
    out = pre.transform(val)
    assert out.mean() > 100  # val stays far away: its own statistics were never used
    np.testing.assert_allclose(pre.transform(train).mean(axis=0), 0, atol=1e-5)


def test_prepare_data_fits_on_the_train_split_only():
    d = prepare_data(
        {
            "source": "builtin",
            "name": "wine",
            "preprocess": {"scale": "standard"},
            "split": {"val": 0.3},
        }
    )
    np.testing.assert_allclose(d.x_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(d.x_train.std(axis=0), 1, atol=1e-4)
    assert np.abs(d.x_val.mean(axis=0)).max() > 1e-3  # val is not re-centred on itself


@pytest.mark.parametrize("scale", ["standard", "minmax"])
def test_constants_reproduce_sklearn(scale):
    x = np.random.default_rng(1).uniform(-3, 9, size=(100, 4))
    x[:, 2] = 7.0  # constant column: sklearn leaves its scale at 1
    ref = (StandardScaler() if scale == "standard" else MinMaxScaler()).fit_transform(x)
    pre = Preprocessor({**PRE, "scale": scale}).fit(x)
    np.testing.assert_allclose(pre.transform(x), ref, atol=1e-5)


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_imputation_uses_train_statistics(strategy):
    train = np.array([[1.0, 10.0], [2.0, 10.0], [6.0, np.nan], [2.0, 40.0]])
    pre = Preprocessor({**PRE, "scale": "none", "impute": strategy}).fit(train)
    expected = {"mean": [2.75, 20.0], "median": [2.0, 10.0], "most_frequent": [2.0, 10.0]}
    out = pre.transform(np.array([[np.nan, np.nan]]))
    np.testing.assert_allclose(out[0], expected[strategy])


def test_outlier_clipping_zscore_and_iqr():
    train = np.concatenate([np.linspace(0, 10, 99), [1000.0]]).reshape(-1, 1)
    z = Preprocessor({**PRE, "scale": "none", "outliers": "zscore", "outlier_threshold": 2.0}).fit(
        train
    )
    assert z.transform(np.array([[1e6]]))[0, 0] == pytest.approx(train.mean() + 2 * train.std())
    iqr = Preprocessor({**PRE, "scale": "none", "outliers": "iqr", "outlier_threshold": 1.5}).fit(
        train
    )
    q1, q3 = np.percentile(train, [25, 75])
    assert iqr.transform(np.array([[1e6]]))[0, 0] == pytest.approx(q3 + 1.5 * (q3 - q1))
    assert iqr.transform(np.array([[5.0]]))[0, 0] == 5.0  # inliers untouched


def test_smoothing_is_a_trailing_moving_average():
    x = np.array([[0.0, 3.0, 0.0, 3.0, 6.0]]).reshape(1, 5, 1)
    pre = Preprocessor({**PRE, "scale": "none", "smooth_window": 2}, "sequence").fit(x)
    np.testing.assert_allclose(pre.transform(x)[0, :, 0], [0.0, 1.5, 1.5, 1.5, 4.5])
    assert pre.affine_params() is None


def fitted_examples() -> list[tuple[Preprocessor, np.ndarray]]:
    rng = np.random.default_rng(2)
    table = rng.normal(3, 4, size=(60, 3))
    table[::7, 1] = np.nan
    seq = rng.normal(size=(20, 6, 2))
    img = rng.uniform(size=(10, 3, 4, 4))
    text = np.empty((6, 2), dtype=object)
    text[:, 0] = [1.0, 2.0, np.nan, 4.0, 5.0, 6.0]
    text[:, 1] = ["red", "blue", "red", "", "green", "red"]
    return [
        (Preprocessor({**PRE, "impute": "median", "outliers": "zscore"}).fit(table), table),
        (Preprocessor({**PRE, "scale": "minmax", "smooth_window": 3}, "sequence").fit(seq), seq),
        (Preprocessor({**PRE, "outliers": "iqr"}, "image").fit(img), img),
        (
            Preprocessor(
                {**PRE, "impute": "most_frequent"}, "table", ["n", "colour"], [1], ["a", "b"]
            ).fit(text),
            text,
        ),
    ]


@pytest.mark.parametrize("case", range(4))
def test_state_round_trips_through_json_and_weights_only_torch_load(case):
    pre, x = fitted_examples()[case]
    expected = pre.transform(x)
    state = pre.state_dict()
    via_json = Preprocessor.from_state(json.loads(json.dumps(state, allow_nan=False)))
    np.testing.assert_array_equal(via_json.transform(x), expected)
    buf = io.BytesIO()
    torch.save({"preprocessing": state, "weights": torch.zeros(2)}, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=True)["preprocessing"]
    again = Preprocessor.from_state(loaded)
    np.testing.assert_array_equal(again.transform(x), expected)
    assert again.class_names == pre.class_names and again.feature_names == pre.feature_names


def test_one_hot_columns_in_place_and_unknown_category_is_all_zero():
    pre, x = fitted_examples()[3]
    assert pre.feature_names == ["n", "colour=blue", "colour=green", "colour=red"]
    out = pre.transform(np.array([[4.0, "purple"], [4.0, "green"]], dtype=object))
    np.testing.assert_array_equal(out[:, 1:], [[0, 0, 0], [0, 1, 0]])
    # the empty colour was filled with the most frequent one (red) before encoding
    np.testing.assert_array_equal(pre.transform(x[3:4])[0, 1:], [0, 0, 1])


@pytest.mark.parametrize("case", [0, 2])
def test_affine_params_match_transform(case):
    pre, x = fitted_examples()[case]
    params = pre.affine_params()
    assert params is not None
    np.testing.assert_allclose(params.apply(x), pre.transform(x), rtol=1e-5, atol=1e-5)
    assert params.feature_axis == (0 if pre.layout == "image" else -1)


def test_affine_params_of_digits_images_per_channel():
    d = prepare_data(
        {"source": "builtin", "name": "digits", "form": "image", "preprocess": {"scale": "minmax"}}
    )
    p = d.preprocessor.affine_params()
    assert p.shift.tolist() == [0.0] and p.scale.tolist() == [1.0]  # pixels already in [0, 1]
    assert np.isnan(p.impute_value).all() and np.isinf(p.clip_high).all()


def test_transform_refuses_wrong_shape_and_unimputed_gaps():
    pre, _ = fitted_examples()[2]
    with pytest.raises(DataError, match=r"shape \(3, 5, 5\).*fitted on \(3, 4, 4\)"):
        pre.transform(np.zeros((1, 3, 5, 5)))
    plain = Preprocessor(PRE, columns=["a", "b"]).fit(np.ones((4, 2)))
    with pytest.raises(DataError, match="'b' is missing"):
        plain.transform(np.array([[1.0, np.nan]]))


def test_from_state_refuses_unknown_version():
    state = fitted_examples()[0][0].state_dict()
    with pytest.raises(DataError, match="version 99"):
        Preprocessor.from_state({**state, "version": 99})


# ------------------------------------------------------------------------------- splits
def test_stratified_split_keeps_class_proportions():
    labels = np.array([0] * 900 + [1] * 100)
    tr, va, te = split_indices(1000, labels, 0.2, 0.1, True, seed=0)
    assert (len(tr), len(va), len(te)) == (700, 200, 100)
    for part in (tr, va, te):
        assert np.mean(labels[part] == 1) == pytest.approx(0.1)
    assert len(set(tr) | set(va) | set(te)) == 1000


def test_same_seed_same_split_other_seed_other_split():
    a = prepare_data({"source": "builtin", "name": "iris"}, seed=7)
    b = prepare_data({"source": "builtin", "name": "iris"}, seed=7)
    c = prepare_data({"source": "builtin", "name": "iris"}, seed=8)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_val, c.x_val)
    assert np.bincount(a.y_val).tolist() == [10, 10, 10]


def test_test_split_is_reported_and_disjoint():
    d = prepare_data({"source": "builtin", "name": "digits", "split": {"val": 0.2, "test": 0.1}})
    assert (len(d.x_train), len(d.x_val), len(d.x_test)) == (1257, 360, 180)
    assert d.description.endswith("1257 train / 360 val / 180 test samples")
    train_rows = {r.tobytes() for r in d.x_train}
    assert sum(r.tobytes() in train_rows for r in d.x_test) < 5  # (digits has a few duplicates)


def test_stratify_needs_two_samples_per_class(tmp_path):
    (tmp_path / "t.csv").write_text(
        "a,y\n"
        + "\n".join(
            f"{i},{'rare' if i == 0 else 'common' if i % 2 else 'other'}" for i in range(20)
        )
        + "\n"
    )
    with pytest.raises(DataError, match="split.stratify to false"):
        prepare_data({"source": "csv", "path": "t.csv", "target": "y"}, base_dir=tmp_path)
    d = prepare_data(
        {"source": "csv", "path": "t.csv", "target": "y", "split": {"stratify": False}},
        base_dir=tmp_path,
    )
    assert len(d.x_train) == 16 and d.num_classes == 3
