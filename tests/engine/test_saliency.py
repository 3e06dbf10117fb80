"""Saliency, Integrated Gradients, Grad-CAM and feature maps of one sample (engine/insight/
saliency.py): each checked against what it means, computed independently with autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("captum")

from engine.data import prepare_data  # noqa: E402
from engine.errors import DataError  # noqa: E402
from engine.evaluate import Predictor  # noqa: E402
from engine.insight.saliency import (  # noqa: E402
    GRAD_CAM,
    INTEGRATED_GRADIENTS,
    SALIENCY,
    Explainer,
)
from engine.training import Trainer  # noqa: E402
from tests.engine.builders import chain  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py

SPLIT = {"val": 0.2, "test": 0.2, "stratify": True}
IRIS = {"source": "builtin", "name": "iris", "split": SPLIT, "preprocess": {"scale": "standard"}}
DIGITS = {"source": "builtin", "name": "digits", "form": "image", "split": SPLIT}


def _design(name, layers, data):
    design = chain(*layers)
    design.name = name
    design.data = data
    design.training = {"task": "classification", "epochs": 1, "batch_size": 64, "lr": 0.01}
    return design


def _cnn():
    return _design(
        "cnn",
        [
            ("image", "Input", {"shape": [1, 8, 8]}),
            ("conv1", "Conv2d", {"out_channels": 3, "kernel_size": 3, "padding": 1}),
            ("relu1", "ReLU"),
            ("conv2", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
            ("relu2", "ReLU"),
            ("flat", "Flatten"),
            ("logits", "Linear", {"out_features": 10}),
        ],
        DIGITS,
    )


def _mlp():
    return _design(
        "mlp",
        [
            ("x", "Input", {"shape": [4]}),
            ("h", "Linear", {"out_features": 8}),
            ("act", "Tanh"),
            ("out", "Linear", {"out_features": 3}),
        ],
        IRIS,
    )


@pytest.fixture(scope="module")
def explainers(tmp_path_factory):
    """name → (Explainer, a raw test sample, its preprocessed form) after one short epoch."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("saliency")
    out = {}
    for name, design, data in (("cnn", _cnn(), DIGITS), ("mlp", _mlp(), IRIS)):
        Trainer(design, out_dir=root / name).fit()
        explainer = Explainer(Predictor(design, root / name / "best.pt"))
        prepared = prepare_data(data, seed=0)
        raw = prepare_data({**data, "preprocess": {}}, seed=0).x_test[0]
        out[name] = (explainer, raw, prepared.x_test[0])
    return out


def _scores(explainer, x):
    return explainer.net(torch.from_numpy(np.asarray(x, dtype=np.float32))[None]).reshape(1, -1)


def test_saliency_is_the_absolute_input_gradient_of_the_target(explainers):
    for name in ("cnn", "mlp"):
        explainer, raw, x = explainers[name]
        result = explainer.explain(raw, SALIENCY, target=2)
        xt = torch.from_numpy(np.asarray(x, dtype=np.float32))[None].requires_grad_(True)
        explainer.net(xt).reshape(1, -1)[0, 2].backward()
        by_hand = xt.grad[0].abs().numpy()
        assert result.target == 2
        np.testing.assert_allclose(result.values, by_hand, rtol=1e-5, atol=1e-7)
        assert by_hand.max() > 0  # a real gradient, not zeros on both sides
        if name == "cnn":  # a picture: |attribution| summed over channels, H×W
            assert result.map.shape == (8, 8)
            np.testing.assert_allclose(result.map, by_hand.sum(axis=0), rtol=1e-5, atol=1e-7)
        else:  # a table: one value per named feature
            assert result.names == prepare_data(IRIS, seed=0).feature_names
            np.testing.assert_allclose(result.map, by_hand, rtol=1e-5, atol=1e-7)


def test_target_defaults_to_the_predicted_class(explainers):
    explainer, raw, x = explainers["mlp"]
    result = explainer.explain(raw, SALIENCY)
    predicted = int(_scores(explainer, x).argmax())
    assert result.target == predicted
    assert result.target_name == explainer.class_names[predicted]
    assert np.argmax(result.probabilities) == predicted


def test_integrated_gradients_is_complete(explainers):
    """Sum of attributions ≈ f(x) − f(baseline), the baseline all zeros in preprocessed space."""
    for name in ("cnn", "mlp"):
        explainer, raw, x = explainers[name]
        result = explainer.explain(raw, INTEGRATED_GRADIENTS, target=1, n_steps=64)
        with torch.no_grad():
            fx = float(_scores(explainer, x)[0, 1])
            f0 = float(_scores(explainer, np.zeros_like(x))[0, 1])
        assert abs(fx - f0) > 1e-3
        assert result.values.sum() == pytest.approx(fx - f0, rel=0.02, abs=1e-3)
        fewer = explainer.explain(raw, INTEGRATED_GRADIENTS, target=1, n_steps=4)
        assert not np.allclose(fewer.values, result.values)  # n_steps reaches Captum


def _grad_cam_by_hand(explainer, x, target, layer):
    """ReLU(Σ_c mean_hw(∂score/∂A_c) · A_c) of ``layer``'s output A, by autograd."""
    kept = {}
    hook = explainer.net.layers[layer].register_forward_hook(
        lambda _m, _i, out: kept.__setitem__("a", out)
    )
    try:
        score = _scores(explainer, x)[0, target]
    finally:
        hook.remove()
    (grad,) = torch.autograd.grad(score, kept["a"])
    weights = grad[0].mean(dim=(1, 2), keepdim=True)
    return torch.relu((weights * kept["a"][0]).sum(0)).detach().numpy()


def test_grad_cam_has_the_inputs_size_and_is_non_negative(explainers):
    explainer, raw, x = explainers["cnn"]
    assert explainer.conv_layers == ["conv1", "conv2"]
    result = explainer.explain(raw, GRAD_CAM)
    assert result.layer == "conv2"  # the last Conv2d by default
    positive = 0
    for target in range(10):
        result = explainer.explain(raw, GRAD_CAM, target=target)
        assert result.map.shape == (8, 8) and (result.map >= 0).all()
        # conv2 keeps the 8×8 size (padding 1), so upsampling changes nothing here
        np.testing.assert_allclose(
            result.map, _grad_cam_by_hand(explainer, x, target, "conv2"), rtol=1e-4, atol=1e-6
        )
        positive += result.map.max() > 0
    for sample in prepare_data(DIGITS, seed=0).x_test[1:6]:
        maps = [explainer.explain(sample, GRAD_CAM, target=t, prepared=True).map for t in range(10)]
        positive += sum(m.max() > 0 for m in maps)
    assert positive > 0  # some class has positive evidence: the maps are not all zero
    first = explainer.explain(raw, GRAD_CAM, target=3, layer="conv1")
    assert first.layer == "conv1"
    np.testing.assert_allclose(
        first.map, _grad_cam_by_hand(explainer, x, 3, "conv1"), rtol=1e-4, atol=1e-6
    )


def test_feature_maps_equal_the_modules_own_intermediate_output(explainers):
    explainer, raw, x = explainers["cnn"]
    maps = explainer.feature_maps(raw)
    assert list(maps) == ["conv1", "conv2"]
    layers = explainer.net.layers
    with torch.no_grad():
        h1 = layers["conv1"](torch.from_numpy(np.asarray(x, dtype=np.float32))[None])
        h2 = layers["conv2"](layers["relu1"](h1))
    assert maps["conv1"].shape == (3, 8, 8) and maps["conv2"].shape == (4, 8, 8)
    np.testing.assert_allclose(maps["conv1"], h1[0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(maps["conv2"], h2[0].numpy(), rtol=1e-5, atol=1e-6)
    assert list(explainer.feature_maps(x, "conv2", prepared=True)) == ["conv2"]


def test_a_design_without_conv_offers_no_grad_cam_in_one_line(explainers):
    explainer, raw, _ = explainers["mlp"]
    reason = explainer.grad_cam_problem()
    assert reason is not None and "Conv2d" in reason and "\n" not in reason
    with pytest.raises(DataError, match="Conv2d") as err:
        explainer.explain(raw, GRAD_CAM)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match="no Conv2d layer"):
        explainer.feature_maps(raw)


def test_wrong_sample_shape_and_bad_choices_are_one_line(explainers):
    for name, bad in (("mlp", np.zeros(5)), ("cnn", np.zeros((1, 7, 8)))):
        explainer, _, _ = explainers[name]
        with pytest.raises(DataError, match=r"has shape .* expects") as err:
            explainer.explain(bad, SALIENCY)
        assert "\n" not in str(err.value)
    explainer, raw, _ = explainers["cnn"]
    with pytest.raises(DataError, match="out of range"):
        explainer.explain(raw, SALIENCY, target=10)
    with pytest.raises(DataError, match="not a Conv2d layer"):
        explainer.explain(raw, GRAD_CAM, layer="logits")
    with pytest.raises(DataError, match="unknown method"):
        explainer.explain(raw, "lime")
