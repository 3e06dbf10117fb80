"""Data augmentation: each step does what it says on whole batches, the run's seed repeats the
augmented batches, only the training split is augmented, and bad steps are one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.data.augment import Augmenter, preview
from engine.data.augment_spec import AUGMENT_OPS, default_step, form_problem, ops_for
from engine.data.spec import normalize_spec
from engine.errors import DataError
from engine.graph import Design, Edge, Node
from engine.io import load_design, save_design
from engine.training import Trainer
from resources import template_path

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py


def run(steps: list[dict], x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return Augmenter({"steps": steps}, tuple(x.shape[1:]), seed)(x)


def images(n: int = 64, c: int = 3, h: int = 8, w: int = 10) -> torch.Tensor:
    return torch.randn(n, c, h, w, generator=torch.Generator().manual_seed(1))


# -- each op -------------------------------------------------------------------------------------


def test_flip_mirrors_exactly_the_picked_samples():
    x = images()
    out = run([{"op": "flip", "p": 0.5}], x)
    same = (out == x).flatten(1).all(1)
    mirrored = (out == x.flip(-1)).flatten(1).all(1)
    assert bool((same | mirrored).all())  # every sample is itself or its exact mirror
    assert 10 < int(mirrored.sum()) < 54  # about half of 64 were picked
    assert bool((run([{"op": "flip", "p": 1.0}], x) == x.flip(-1)).all())
    assert bool((run([{"op": "flip", "p": 0.0}], x) == x).all())


def test_crop_keeps_the_shape_and_shows_a_shifted_window_of_the_padded_image():
    x = images(n=32)
    out = run([{"op": "crop", "padding": 2}], x)
    assert out.shape == x.shape
    padded = F.pad(x, (2, 2, 2, 2))
    offsets = set()
    for i in range(len(x)):
        found = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(out[i], padded[i, :, dy : dy + 8, dx : dx + 10])
        ]
        assert found, f"sample {i} is not a window of its padded image"
        offsets.add(found[0])
    assert len(offsets) > 5  # the windows are drawn per sample


def test_noise_has_the_requested_standard_deviation():
    x = torch.zeros(20_000, 8)
    out = run([{"op": "noise", "std": 0.3}], x)
    assert float(out.std()) == pytest.approx(0.3, rel=0.03)
    assert float(out.mean()) == pytest.approx(0.0, abs=0.01)


def test_cutout_zeroes_one_square_of_the_requested_size_in_every_channel():
    x = torch.ones(40, 2, 12, 12)
    out = run([{"op": "cutout", "size": 5, "p": 1.0}], x)
    for i in range(len(x)):
        zero = out[i] == 0
        assert torch.equal(zero[0], zero[1])
        rows, cols = torch.nonzero(zero[0], as_tuple=True)
        assert len(rows) == 25
        assert int(rows.max() - rows.min()) == 4 and int(cols.max() - cols.min()) == 4
    assert bool((run([{"op": "cutout", "size": 5, "p": 0.0}], x) == 1).all())


def test_affine_with_zero_ranges_is_the_identity_and_with_ranges_moves_pixels():
    x = images()
    still = run([{"op": "affine", "degrees": 0.0, "shift": 0.0, "scale": 0.0}], x)
    assert torch.allclose(still, x, atol=1e-5)
    moved = run([{"op": "affine", "degrees": 30.0, "shift": 0.2, "scale": 0.2}], x)
    assert moved.shape == x.shape
    assert float((moved - x).abs().flatten(1).amax(1).min()) > 0.1  # every sample changed


def test_a_half_turn_shift_free_rotation_keeps_a_centred_square_of_a_non_square_image():
    # degrees=180 draws any angle; a centred disc stays where it is whatever the angle
    h, w = 20, 30
    yy, xx = torch.meshgrid(
        torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij"
    )
    disc = ((yy**2 + xx**2) <= 16).float().expand(8, 1, h, w)
    out = run([{"op": "affine", "degrees": 180.0, "shift": 0.0, "scale": 0.0}], disc)
    assert torch.allclose(out.sum((1, 2, 3)), disc.sum((1, 2, 3)), rtol=0.1)
    assert float(out[:, :, h // 2, w // 2].min()) > 0.99


def test_brightness_adds_one_offset_per_sample_and_contrast_keeps_the_mean():
    x = images()
    out = run([{"op": "brightness_contrast", "brightness": 0.5, "contrast": 0.0}], x)
    offset = (out - x).flatten(1)
    assert torch.allclose(offset, offset[:, :1].expand_as(offset), atol=1e-5)
    assert float(offset.abs().max()) <= 0.5 and float(offset[:, 0].std()) > 0.05
    out = run([{"op": "brightness_contrast", "brightness": 0.0, "contrast": 0.5}], x)
    assert torch.allclose(out.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-5)
    ratio = (out - out.mean((1, 2, 3), keepdim=True)).std((1, 2, 3)) / x.std((1, 2, 3))
    assert float(ratio.min()) >= 0.5 - 1e-4 and float(ratio.max()) <= 1.5 + 1e-4


def test_sequence_steps_jitter_scale_each_feature_and_shift_in_time():
    x = torch.randn(16, 12, 3, generator=torch.Generator().manual_seed(2))
    jitter = run([{"op": "jitter", "std": 0.5}], torch.zeros(4000, 12, 3))
    assert float(jitter.std()) == pytest.approx(0.5, rel=0.03)
    scaled = run([{"op": "scaling", "std": 0.2}], x)
    factor = scaled / x  # one factor per sample and feature, the same at every step
    assert torch.allclose(factor, factor[:, :1].expand_as(factor), atol=1e-4)
    shifted = run([{"op": "time_shift", "steps": 3}], x)
    seen = set()
    for i in range(len(x)):
        for k in range(-3, 4):
            source = (torch.arange(12) - k).clamp(0, 11)
            if torch.equal(shifted[i], x[i, source]):
                seen.add(k)
                break
        else:
            pytest.fail(f"sequence {i} is not a time shift of its input")
    assert len(seen) > 2


# -- seeds ----------------------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_batches_and_epochs_differ():
    steps = [{"op": "crop", "padding": 2}, {"op": "flip"}, {"op": "cutout", "size": 3}]
    x = images()

    def batches(seed: int, epoch: int) -> list[torch.Tensor]:
        aug = Augmenter({"steps": steps}, tuple(x.shape[1:]), seed)
        aug.start_epoch(epoch)
        return [aug(x), aug(x)]

    first, again = batches(7, 0), batches(7, 0)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not torch.equal(first[0], first[1])  # each batch draws anew
    assert not torch.equal(batches(7, 1)[0], first[0])  # another epoch
    assert not torch.equal(batches(8, 0)[0], first[0])  # another seed


def test_preview_augments_numpy_samples_like_the_first_epoch():
    x = images(n=6).numpy()
    augment = {"steps": [{"op": "flip", "p": 1.0}, {"op": "noise", "std": 0.1}]}
    out = preview(x, augment, "image", seed=3)
    assert out.dtype == np.float32 and out.shape == x.shape
    assert np.array_equal(out, preview(x, augment, "image", seed=3))
    assert np.abs(out - x[..., ::-1]).max() < 1.0 and np.abs(out - x[..., ::-1]).std() > 0.05
    with pytest.raises(DataError, match="not table samples"):
        preview(x, augment, "table", seed=3)


# -- training ------------------------------------------------------------------------------------


def digits_cnn(augment: dict | None) -> Design:
    design = Design("augmented")
    design.networks = {"main": {"role": "model"}}
    layers = [
        ("x", "Input", {"shape": [1, 8, 8]}),
        ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("act", "ReLU", {}),
        ("flat", "Flatten", {}),
        ("logits", "Linear", {"out_features": 10}),
        ("out", "Output", {}),
    ]
    for i, (node_id, type_id, params) in enumerate(layers):
        design.add_node(Node(node_id, type_id, params, network="main"))
        if i:
            design.add_edge(Edge(layers[i - 1][0], node_id))
    design.data = {"source": "builtin", "name": "digits", "form": "image"}
    if augment is not None:
        design.data["augment"] = augment
    design.training = {"epochs": 1, "batch_size": 128, "lr": 0.01, "seed": 5}
    return design


def _record_inputs(design: Design) -> tuple[Trainer, list[tuple[bool, torch.Tensor]]]:
    """Train ``design`` for its epoch, recording every input the network was called with and
    whether it was in training mode."""
    seen: list[tuple[bool, torch.Tensor]] = []

    def hook(module, args):
        if type(module).__name__ == "DesignModule":
            seen.append((module.training, args[0].detach().clone()))

    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        trainer = Trainer(design)
        trainer.fit()
    finally:
        handle.remove()
    return trainer, seen


def test_training_batches_are_augmented_and_validation_is_not():
    trainer, seen = _record_inputs(digits_cnn({"steps": [{"op": "flip", "p": 1.0}]}))
    data = trainer.data
    train_rows = {x.numpy().tobytes() for x in torch.from_numpy(data.x_train)}
    mirrored_rows = {x.numpy().tobytes() for x in torch.from_numpy(data.x_train).flip(-1)}
    trained = torch.cat([x for training, x in seen if training])
    evaluated = [x for training, x in seen if not training]
    assert len(trained) > 1000
    assert all(row.numpy().tobytes() in mirrored_rows for row in trained)
    assert sum(row.numpy().tobytes() in train_rows for row in trained) < 0.1 * len(trained)
    assert evaluated and torch.equal(evaluated[0], torch.from_numpy(data.x_val))


def test_training_without_augment_runs_nothing_and_with_it_repeats_per_seed():
    trainer, seen = _record_inputs(digits_cnn(None))
    assert trainer.loop.augment is None
    plain = torch.cat([x for training, x in seen if training])
    rows = {x.numpy().tobytes() for x in torch.from_numpy(trainer.data.x_train)}
    assert all(row.numpy().tobytes() in rows for row in plain)
    augment = {"steps": [{"op": "crop", "padding": 1}, {"op": "noise", "std": 0.1}]}
    _, first = _record_inputs(digits_cnn(augment))
    _, second = _record_inputs(digits_cnn(augment))
    assert len(first) == len(second)
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(first, second, strict=True))


def test_a_gan_run_refuses_augment_steps_with_one_line():
    design = load_design(template_path("gan"))
    design.data = {**design.data, "augment": {"steps": [{"op": "noise"}]}}
    design.training = {**design.training, "epochs": 1}
    with pytest.raises(DataError, match="augment applies to supervised") as info:
        Trainer(design).fit()
    assert "\n" not in str(info.value)


# -- bad specs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("augment", "expected"),
    [
        ({"steps": [{"op": "flop"}]}, "augment step 1 has op 'flop'; allowed: crop | flip"),
        ({"steps": [{"op": "flip"}, {"op": "flip", "p": 2}]}, "augment step 2 (flip): p is 2"),
        ({"steps": [{"op": "crop", "pad": 2}]}, "augment step 1 (crop): 'pad' is not a known key"),
        ({"steps": [{"op": "crop", "padding": 1.5}]}, "padding is 1.5; allowed: an integer"),
        ({"steps": [{"p": 0.5}]}, "augment step 1 has no 'op'"),
        ({"steps": ["flip"]}, 'augment step 1 must be an object like {"op": "flip"}'),
        ({"steps": {"op": "flip"}}, "augment.steps must be a list"),
        ({"order": []}, "augment: 'order' is not a known key; allowed: steps"),
        ([{"op": "flip"}], "augment must be an object"),
    ],
)
def test_bad_steps_are_one_line_naming_the_step(augment, expected):
    with pytest.raises(DataError) as info:
        normalize_spec({"source": "builtin", "name": "digits", "augment": augment})
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_defaults_are_filled_in_and_an_absent_augment_stays_absent():
    spec = normalize_spec({"source": "builtin", "name": "digits", "augment": {"steps": []}})
    assert spec["augment"] == {"steps": []}
    assert "augment" not in normalize_spec({"source": "builtin", "name": "digits"})
    full = normalize_spec(
        {"source": "builtin", "name": "digits", "augment": {"steps": [{"op": "affine"}]}}
    )
    assert full["augment"]["steps"] == [default_step("affine")]


def test_every_op_applies_to_its_forms_and_is_refused_on_the_others():
    shapes = {"image": (3, 16, 16), "sequence": (20, 3), "table": (5,)}
    for op, spec in AUGMENT_OPS.items():
        for form, shape in shapes.items():
            augment = {"steps": [default_step(op)]}
            problem = form_problem(augment, shape)
            if form in spec.forms:
                assert problem is None
                out = Augmenter(augment, shape, 0)(torch.randn(4, *shape))
                assert out.shape == (4, *shape)
            else:
                assert problem is not None and f"augment step 1 ({op}) cannot apply" in problem
                assert ", ".join(ops_for(form)) in problem
                with pytest.raises(DataError):
                    Augmenter(augment, shape, 0)


def test_sizes_that_do_not_fit_the_samples_are_refused():
    cutout = {"steps": [{"op": "noise", "std": 0.1}, default_step("cutout") | {"size": 9}]}
    assert "augment step 2 (cutout): size 9 is larger than the 8×8 images" in form_problem(
        cutout, (1, 8, 8)
    )
    shift = {"steps": [default_step("time_shift") | {"steps": 8}]}
    assert "set steps to at most 7" in form_problem(shift, (8, 8))
    assert form_problem(shift, (-1, 8)) is None  # a free length is not checked


def test_check_reports_a_flip_on_table_data_and_exits_1(tmp_path, run_main):
    design = load_design(template_path("mlp"))  # digits as 64 numbers per sample
    design.data = {**design.data, "augment": {"steps": [{"op": "noise"}, {"op": "flip"}]}}
    path = tmp_path / "flat.json"
    save_design(design, path)
    code, out, _ = run_main(["check", str(path), "--json"])
    assert code == 1
    messages = [e["message"] for e in json.loads(out)["errors"]]
    assert (
        "data spec: augment step 2 (flip) cannot apply to table data of shape (64,) "
        "(horizontal flip works on images): remove the step or use noise"
    ) in messages
