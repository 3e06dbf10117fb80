"""Data larger than memory: image folders and .npy files stream from disk when they exceed the
memory budget, train the same as resident data, and bad files are one-line errors."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from engine.data import prepare_data
from engine.data.spec import normalize_spec
from engine.data.streaming import StreamedSplit, plan_for
from engine.errors import DataError, TrainingError
from engine.graph import Design, Edge, Node
from engine.training import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/engine/conftest.py

TINY = {"memory_budget_mb": 1, "workers": 0}  # 1 MB: 60 8×8 images stay under; see _folder


def make_folder(root, per_class=20, classes=("a", "b", "c"), size=(8, 8), mode="L"):
    """``per_class`` random PNGs per class, each class a different brightness."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            base = 40 + 80 * k
            px = rng.integers(base - 30, base + 30, (size[1], size[0]), dtype=np.uint8)
            img = Image.fromarray(px, "L").convert(mode)
            img.save(root / name / f"{i:03d}.png")
    return root


def folder_spec(**extra):
    return {"source": "image_folder", "path": "imgs", "size": [8, 8], **extra}


def cnn(data: dict, epochs: int = 1) -> Design:
    design = Design("streamed")
    design.networks = {"main": {"role": "model"}}
    layers = [
        ("x", "Input", {"shape": [1, 8, 8]}),
        ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "padding": 1}),
        ("act", "ReLU", {}),
        ("flat", "Flatten", {}),
        ("logits", "Linear", {"out_features": 3}),
        ("out", "Output", {}),
    ]
    for i, (node_id, type_id, params) in enumerate(layers):
        design.add_node(Node(node_id, type_id, params, network="main"))
        if i:
            design.add_edge(Edge(layers[i - 1][0], node_id))
    design.data = data
    design.training = {"epochs": epochs, "batch_size": 16, "lr": 0.05, "seed": 3}
    return design


def test_a_folder_over_the_budget_streams_and_one_under_it_stays_resident(tmp_path):
    make_folder(tmp_path / "imgs")
    # 60 images × 8×8 float32 = 15,360 bytes: over a budget this small, under the default one
    over = plan_for(normalize_spec(folder_spec(memory_budget_mb=1, size=[300, 300])), tmp_path)
    assert over.stream and over.n_samples == 60
    assert over.line() == "streams from disk: 60 images ≈ 21.6 MB > budget 1 MB"
    under = plan_for(normalize_spec(folder_spec()), tmp_path)
    assert not under.stream and under.line().startswith("resident: 60 images ≈ 15.4 kB ≤ budget")
    forced = plan_for(normalize_spec(folder_spec(stream=True)), tmp_path)
    assert forced.stream and "set to stream" in forced.line()
    d = prepare_data(folder_spec(stream=True, **TINY), tmp_path)
    assert isinstance(d.x_train, StreamedSplit) and "streamed from disk" in d.description


def test_streamed_and_resident_give_the_same_split_and_the_same_numbers(tmp_path):
    make_folder(tmp_path / "imgs")
    spec = folder_spec(preprocess={"scale": "standard"}, split={"val": 0.25, "test": 0.1})
    resident = prepare_data({**spec, "stream": False}, tmp_path, seed=7)
    streamed = prepare_data({**spec, "stream": True, **TINY}, tmp_path, seed=7)
    assert isinstance(resident.x_train, np.ndarray)
    assert isinstance(streamed.x_val, StreamedSplit)
    for name in ("train", "val", "test"):
        r, s = getattr(resident, f"x_{name}"), getattr(streamed, f"x_{name}")
        assert s.shape == r.shape
        # every split holds the same images in the same order (60 samples fit the stats sample)
        np.testing.assert_allclose(np.asarray(s), r, atol=1e-5)
        np.testing.assert_array_equal(
            getattr(streamed, f"y_{name}"), getattr(resident, f"y_{name}")
        )
    other_seed = prepare_data({**spec, "stream": True, **TINY}, tmp_path, seed=8)
    assert not np.array_equal(other_seed.x_train.rows, streamed.x_train.rows)


def test_one_epoch_of_a_cnn_trains_on_streamed_images(tmp_path):
    make_folder(tmp_path / "imgs")
    seen: list[torch.Tensor] = []

    def hook(module, args):
        if type(module).__name__ == "DesignModule" and module.training:
            seen.append(args[0].detach().clone())

    data = folder_spec(stream=True, augment={"steps": [{"op": "flip", "p": 1.0}]}, **TINY)
    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        trainer = Trainer(cnn(data), base_dir=tmp_path)
        summary = trainer.fit()
    finally:
        handle.remove()
    assert summary.epochs_completed == 1 and "val_accuracy" in trainer.history[-1]
    assert isinstance(trainer.data.x_train, StreamedSplit)
    trained = torch.cat(seen)
    assert len(trained) == 48  # 45 training images: 16 + 16 + 13 (the last batch kept)
    # augmentation ran on the streamed batches: every input is a mirrored training image
    mirrored = {row.tobytes() for row in np.flip(np.asarray(trainer.data.x_train), -1)}
    assert all(x.numpy().tobytes() in mirrored for x in trained[:45])


def test_stream_false_keeps_a_large_folder_resident(tmp_path):
    make_folder(tmp_path / "imgs", per_class=5)
    d = prepare_data(folder_spec(stream=False, memory_budget_mb=1, size=[300, 300]), tmp_path)
    assert isinstance(d.x_train, np.ndarray)
    auto = prepare_data(folder_spec(memory_budget_mb=1, size=[300, 300], workers=0), tmp_path)
    assert isinstance(auto.x_train, StreamedSplit)


def test_npy_streams_through_a_memory_map(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 1, 8, 8)).astype(np.float32)
    y = np.repeat(np.arange(4), 10)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    spec = {"source": "npy", "path": "x.npy", "target_path": "y.npy", "split": {"val": 0.25}}
    streamed = prepare_data({**spec, "stream": True, **TINY}, tmp_path)
    resident = prepare_data(spec, tmp_path)
    source = streamed.x_train.dataset.source
    assert isinstance(source._open(), np.memmap)
    np.testing.assert_allclose(np.asarray(streamed.x_train), resident.x_train, atol=1e-6)
    np.testing.assert_array_equal(streamed.y_val, resident.y_val)
    # a table with its target in the last column streams too
    table = np.hstack([rng.normal(size=(30, 3)), np.repeat([0.0, 1.0, 2.0], 10)[:, None]])
    np.save(tmp_path / "t.npy", table)
    t = prepare_data({"source": "npy", "path": "t.npy", "target": "last", "stream": True}, tmp_path)
    assert t.input_shape == (3,) and t.x_train[0:2].shape == (2, 3)
    np.testing.assert_allclose(t.x_train[0], table[t.x_train.rows[0], :3], atol=1e-6)


def test_two_worker_processes_decode_the_batches(tmp_path):
    make_folder(tmp_path / "imgs", per_class=8)
    data = folder_spec(stream=True, memory_budget_mb=1, workers=2)
    d = prepare_data(data, tmp_path)
    pickle.loads(pickle.dumps(d.x_train.dataset))  # what a spawned worker receives
    summary = Trainer(cnn(data), base_dir=tmp_path).fit()
    assert summary.epochs_completed == 1


def error_of(spec: dict, base) -> str:
    with pytest.raises(DataError) as info:
        prepare_data(spec, base)
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_images_of_different_sizes_without_a_size_name_the_file(tmp_path):
    make_folder(tmp_path / "imgs", per_class=4)
    Image.new("L", (9, 8), 10).save(tmp_path / "imgs" / "b" / "odd.png")
    for stream in (True, False):
        msg = error_of(folder_spec(size=None, stream=stream, **TINY), tmp_path)
        assert "imgs/b/odd.png" in msg and "9×8 pixels" in msg and "set the data's size" in msg
    (tmp_path / "imgs" / "b" / "odd.png").unlink()
    assert prepare_data(folder_spec(size=None, stream=True, **TINY), tmp_path).input_shape == (
        1,
        8,
        8,
    )


def test_a_sixteen_bit_image_is_named(tmp_path):
    make_folder(tmp_path / "imgs", per_class=4)
    Image.new("I;16", (8, 8), 1000).save(tmp_path / "imgs" / "c" / "deep.png")
    for stream in (True, False):
        msg = error_of(folder_spec(stream=stream, **TINY), tmp_path)
        assert "imgs/c/deep.png" in msg and "8-bit" in msg


def test_a_class_with_one_image_is_one_line(tmp_path):
    make_folder(tmp_path / "imgs", per_class=4)
    make_folder(tmp_path / "imgs", per_class=1, classes=("lonely",))
    msg = error_of(folder_spec(stream=True, **TINY), tmp_path)
    assert "'imgs/lonely'" in msg and "only one image" in msg and "add images" in msg
    assert error_of(folder_spec(stream=False), tmp_path) == msg  # resident: the same line
    unstratified = folder_spec(split={"val": 0.2, "stratify": False}, stream=True, **TINY)
    assert prepare_data(unstratified, tmp_path).num_classes == 4


def test_a_corrupt_png_fails_the_run_with_its_name(tmp_path):
    make_folder(tmp_path / "imgs", per_class=6)
    data = folder_spec(stream=True, **TINY)
    # no preprocessing statistics to fit: only the first training image is decoded up front
    source = prepare_data(data, tmp_path, seed=3).x_train.dataset.source
    row = int(prepare_data(data, tmp_path, seed=3).x_train.rows[1])
    bad = source.paths[row]
    with open(bad, "rb") as fh:
        head = fh.read()
    with open(bad, "wb") as fh:
        fh.write(head[:-30])  # the header survives, the pixels do not
    prepare_data(data, tmp_path, seed=3)  # its header reads fine: it fails at its batch
    with pytest.raises((DataError, TrainingError)) as info:
        Trainer(cnn(data), base_dir=tmp_path).fit()
    assert source.names[row] in str(info.value) and "\n" not in str(info.value)
    assert "cannot be decoded (image file is truncated)" in str(info.value)
    (tmp_path / "imgs" / "b" / "001.png").write_bytes(b"not an image")
    msg = error_of(data, tmp_path)  # an unreadable header is found before training
    assert "imgs/b/001.png" in msg and "replace or delete it" in msg


def test_a_daemonic_training_process_decodes_in_itself(tmp_path, monkeypatch):
    """The window trains in a daemonic child process, which may not start worker processes."""
    import multiprocessing

    from engine.data.streaming import DeviceStream

    make_folder(tmp_path / "imgs", per_class=4)
    d = prepare_data(folder_spec(stream=True, memory_budget_mb=1, workers=2), tmp_path)
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    stream = DeviceStream(d.x_train, torch.device("cpu"), 2)
    batches = list(torch.arange(len(stream)).split(4))
    stream.plan(batches)
    got = torch.cat([stream.index_select(0, b) for b in batches])
    assert stream.workers == 0
    np.testing.assert_array_equal(got.numpy(), np.asarray(d.x_train))
    stream.close()


def test_pictures_of_streamed_data_read_a_sample(tmp_path, monkeypatch):
    from engine.data import streaming
    from engine.data.summary import summarize

    rng = np.random.default_rng(1)
    table = np.hstack([rng.normal(size=(60, 3)), np.repeat([0.0, 1.0, 2.0], 20)[:, None]])
    np.save(tmp_path / "t.npy", table)
    spec = {"source": "npy", "path": "t.npy", "target": "last", "stream": True, "workers": 0}
    data = prepare_data(spec, tmp_path)
    monkeypatch.setattr(streaming, "PICTURE_SAMPLE", 10)
    view = streaming.picture_view(data, seed=0)
    assert isinstance(view.x_train, np.ndarray) and view.x_train.shape == (10, 3)
    assert len(view.y_train) == 10 and len(data.y_train) == 48
    summary = summarize(view, None, 0)
    assert summary.kind == "table" and summary.total_rows == 10
