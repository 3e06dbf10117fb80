""" "Why this prediction?" in the Evaluate panel: a selected worst sample, a picked sample and a
drawing are explained with the engine's numbers (the overlay is the engine's map, the feature-map
grid the conv layer's output, a table's bars the per-feature values); a design without conv
layers offers no Grad-CAM; without Captum the box says how to install it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("captum")

from engine.evaluate import Predictor  # noqa: E402
from engine.insight.saliency import Explainer  # noqa: E402
from engine.io import load_design  # noqa: E402
from gui.document import Document  # noqa: E402
from gui.panels.evaluate import EvaluatePanel  # noqa: E402
from gui.panels.evaluate import why as why_module  # noqa: E402
from tests.helpers import train_into_store  # noqa: E402

TIMEOUT = 60_000
SPLIT = {"val": 0.2, "test": 0.2, "stratify": True}
DIGITS = {"source": "builtin", "name": "digits", "form": "image", "split": SPLIT}
IRIS = {"source": "builtin", "name": "iris", "split": SPLIT, "preprocess": {"scale": "standard"}}


_train = train_into_store


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("why")
    cnn = _train(
        root,
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
    iris = _train(
        root,
        "iris",
        [("x", "Input", {"shape": [4]}), ("out", "Linear", {"out_features": 3})],
        IRIS,
    )
    return {"root": root, "cnn": cnn, "iris": iris}


@pytest.fixture
def panel(qtbot, runs):
    made = []

    def make(name, evaluate=True):
        path, _ckpt = runs[name]
        doc = Document()
        doc.reset(load_design(path), path)
        p = EvaluatePanel(doc, runs_dir=lambda: runs["root"] / "runs")
        qtbot.addWidget(p)
        p.resize(520, 1400)
        p.show()
        made.append(p)
        qtbot.waitUntil(lambda: p.lookup is None, timeout=TIMEOUT)
        if evaluate:
            assert p.evaluate()
        else:
            assert p._load_model()
        qtbot.waitUntil(lambda: not p.busy and p.why.predictor is not None, timeout=TIMEOUT)
        return p

    yield make
    for p in made:
        assert p.shutdown(30)


def _explained(qtbot, box, method=None):
    if method is not None:
        box.method_box.setCurrentIndex(box.method_box.findData(method))
    qtbot.waitUntil(
        lambda: (
            not box.busy and box.result is not None and box.result.method == method
            if method
            else not box.busy and box.result is not None
        ),
        timeout=TIMEOUT,
    )
    return box.result


def test_a_worst_sample_is_explained_with_the_engines_maps(qtbot, panel, runs):
    path, ckpt = runs["cnn"]
    p = panel("cnn")
    box = p.why
    assert [box.layer_box.itemText(i) for i in range(box.layer_box.count())] == ["conv1", "conv2"]
    assert box.layer_box.currentText() == "conv2"
    p.worst_table.selectRow(2)
    result = _explained(qtbot, box)
    worst = p.details.worst[2]
    prepared = p.details.samples.prepared[worst.index]
    engine = Explainer(Predictor(load_design(path), ckpt))
    expected = engine.explain(prepared, "saliency", prepared=True)
    assert result.target_name == worst.predicted
    np.testing.assert_allclose(box.overlay_item.image, expected.map, rtol=1e-5, atol=1e-7)
    assert box.overlay_item.image.shape == (8, 8)
    np.testing.assert_allclose(box.image_item.image, worst.inputs.reshape(8, 8))  # the picture
    assert box.views.isVisible() and box.picture_view.isVisible() and not box.bars_view.isVisible()
    assert f"Sample #{worst.index}" in box.state_label.text()
    assert f"class {worst.predicted}" in box.state_label.text()
    # the feature maps: conv2's 4 channels, one grid
    maps = engine.feature_maps(prepared, "conv2", prepared=True)["conv2"]
    np.testing.assert_allclose(box.maps_item.image, why_module.tile(maps), equal_nan=True)
    assert box.maps_plot.isVisible()
    # Grad-CAM of the chosen layer, then of the first layer
    result = _explained(qtbot, box, "grad_cam")
    cam = engine.explain(prepared, "grad_cam", prepared=True)
    np.testing.assert_allclose(box.overlay_item.image, cam.map, rtol=1e-4, atol=1e-6)
    assert result.layer == "conv2" and "Grad-CAM at conv2" in box.state_label.text()
    box.layer_box.setCurrentIndex(0)
    qtbot.waitUntil(lambda: not box.busy and box.result.layer == "conv1", timeout=TIMEOUT)
    first = engine.feature_maps(prepared, "conv1", prepared=True)["conv1"]
    np.testing.assert_allclose(box.maps_item.image, why_module.tile(first), equal_nan=True)
    # Integrated Gradients
    _explained(qtbot, box, "integrated_gradients")
    ig = engine.explain(prepared, "integrated_gradients", prepared=True)
    np.testing.assert_allclose(box.overlay_item.image, ig.map, rtol=1e-4, atol=1e-6)


def test_a_drawing_in_try_it_is_explained(qtbot, panel):
    p = panel("cnn", evaluate=False)
    qtbot.waitUntil(lambda: p.try_it.predictor is not None, timeout=TIMEOUT)
    p.try_it.pad.stroke([(0.5, 0.15), (0.5, 0.85)])
    assert p.try_it.predict_drawing()
    result = _explained(qtbot, p.why)
    expected = Explainer(p.try_it.predictor).explain(p.try_it.last_input[0], "saliency")
    np.testing.assert_allclose(p.why.overlay_item.image, expected.map, rtol=1e-5, atol=1e-7)
    assert result.target_name == p.try_it.last_labels[0]
    assert "Drawing" in p.why.state_label.text()


def test_a_table_gets_one_bar_per_feature_and_no_grad_cam(qtbot, panel, runs):
    path, ckpt = runs["iris"]
    p = panel("iris")
    box = p.why
    grad_cam = box.method_box.model().item(2)
    assert not grad_cam.isEnabled() and "Conv2d" in grad_cam.toolTip()
    assert not box.layer_box.isEnabled()
    box.method_box.setCurrentIndex(1)  # Integrated Gradients
    assert p.try_it.pick_sample(4)
    result = _explained(qtbot, box, "integrated_gradients")
    engine = Explainer(Predictor(load_design(path), ckpt))
    expected = engine.explain(p.details.samples.prepared[4], "integrated_gradients", prepared=True)
    assert box.bar_values == pytest.approx(expected.map.tolist(), rel=1e-4, abs=1e-6)
    assert box.bars_view.isVisible() and not box.views.isVisible()
    ticks = box.bars_plot.getAxis("bottom")._tickLevels[0]
    assert [t for _, t in ticks] == result.names and len(result.names) == 4


def test_without_captum_the_box_says_how_to_install_it(qtbot, panel, monkeypatch):
    monkeypatch.setattr(why_module, "captum_installed", lambda: False)
    p = panel("iris", evaluate=False)
    assert 'pip install "deepwire[insight]"' in p.why.state_label.text()
    assert not p.why.method_box.isEnabled()
    assert not p.try_it.pick_sample(0)  # nothing to pick: not evaluated
    p.why.set_sample(np.zeros(4), False, np.zeros(4))
    assert not p.why.busy and p.why.result is None
