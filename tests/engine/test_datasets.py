"""Named datasets (MNIST-style, CIFAR, SVHN): parsers on small files in each official format,
the official test set as the test split, and damaged files refused with one line. No network:
the files are put in the cache by hand (as docs/data.md tells a user without network)."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data import datasets, downloads, prepare_data
from engine.data.builtin import BUILTIN_DATASETS, DOWNLOADED, check_builtin
from engine.data.spec import normalize_spec
from engine.errors import DataError
from tests.engine.dataset_files import (
    N_TEST,
    N_TRAIN,
    cifar_archive,
    idx_gz,
    mnist_files,
    put_in_cache,
    register,
    svhn_mat,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache folder for the test, and no mirror (nothing may be downloaded)."""
    monkeypatch.setenv(downloads.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setenv(downloads.MIRROR_ENV, "http://127.0.0.1:9")  # discard port: refused
    datasets._arrays_cached.cache_clear()
    yield tmp_path / "cache"
    datasets._arrays_cached.cache_clear()


def _spec(name: str, **extra) -> dict:
    return {"source": "builtin", "name": name, **extra}


def test_every_named_set_is_listed_with_its_files():
    for name in ("mnist", "fashion_mnist", "kmnist", "cifar10", "cifar100", "svhn"):
        assert name in BUILTIN_DATASETS and name in DOWNLOADED
        files = downloads.FILES[name]
        assert files and all(len(f.sha256) == 64 and f.size > 1000 for f in files)
        assert all(not f.name.endswith((".pkl", "python.tar.gz")) for f in files)
    assert downloads.FILES["cifar10"][0].urls == (
        "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
    )
    assert downloads.FILES["mnist"][0].urls[1].startswith("https://ossci-datasets.s3")


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "kmnist"])
def test_idx_sets_parse_with_the_official_test_set_as_test_split(name, cache, monkeypatch):
    files, arrays = mnist_files()
    register(monkeypatch, name, files)
    put_in_cache(cache, name, files)
    data = prepare_data(_spec(name, split={"val": 0.25}), seed=0)
    assert data.input_shape == (1, 28, 28)
    assert len(data.x_test) == N_TEST and len(data.x_train) + len(data.x_val) == N_TRAIN
    np.testing.assert_allclose(data.x_test[:, 0], arrays["test_x"] / 255.0, atol=1e-6)
    np.testing.assert_array_equal(data.y_test, arrays["test_y"])
    assert data.num_classes == 10 and len(data.class_names) == 10
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    flat = prepare_data(_spec(name, form="flat", split={"val": 0.25}), seed=0)
    assert flat.input_shape == (784,) and flat.feature_names[1] == "pixel_0_1"
    assert "10 test" in flat.description


def test_fashion_mnist_has_its_class_names(cache, monkeypatch):
    files, _ = mnist_files()
    register(monkeypatch, "fashion_mnist", files)
    put_in_cache(cache, "fashion_mnist", files)
    data = prepare_data(_spec("fashion_mnist", split={"val": 0.25}), seed=0)
    assert data.class_names[0] == "T-shirt/top" and data.class_names[9] == "Ankle boot"


@pytest.mark.parametrize("hundred", [False, True])
def test_cifar_binary_archive_parses(hundred, cache, monkeypatch):
    name = "cifar100" if hundred else "cifar10"
    archive, want = cifar_archive(hundred)
    files = {downloads.FILES[name][0].name: archive}
    register(monkeypatch, name, files)
    put_in_cache(cache, name, files)
    arrays = datasets.load_arrays(name)
    n = want["n_train"]
    np.testing.assert_array_equal(arrays.x_train, want["x"][:n])
    np.testing.assert_array_equal(arrays.y_train, want["y"][:n])  # CIFAR-100: the fine label
    np.testing.assert_array_equal(arrays.x_test, want["x"][n:])
    assert arrays.class_names == want["names"]
    assert not arrays.x_train.flags.writeable  # the in-memory copy is shared: read-only
    spec = _spec(name, split={"val": 0.0})
    data = prepare_data(spec, seed=0)
    assert data.input_shape == (3, 32, 32) and len(data.x_test) == len(want["x"]) - n


def test_svhn_mat_parses_with_ten_as_zero(cache, monkeypatch):
    train, x, y = svhn_mat(20)
    test, _, _ = svhn_mat(10, seed=1)
    files = {"train_32x32.mat": train, "test_32x32.mat": test}
    register(monkeypatch, "svhn", files)
    put_in_cache(cache, "svhn", files)
    arrays = datasets.load_arrays("svhn")
    assert arrays.x_train.shape == (20, 3, 32, 32)
    np.testing.assert_array_equal(arrays.x_train[3], x[:, :, :, 3].transpose(2, 0, 1))
    np.testing.assert_array_equal(arrays.y_train, y.reshape(-1) % 10)
    assert arrays.y_train[9] == 0 and len(arrays.y_test) == 10


def test_a_second_load_reuses_the_parsed_arrays(cache, monkeypatch):
    files, _ = mnist_files()
    register(monkeypatch, "mnist", files)
    put_in_cache(cache, "mnist", files)
    assert datasets.load_arrays("mnist") is datasets.load_arrays("mnist")


def test_split_test_is_refused_for_a_set_with_its_own_test_set(cache, monkeypatch):
    spec = normalize_spec(_spec("mnist", split={"val": 0.1, "test": 0.2}))
    with pytest.raises(DataError, match=r"split\.test is 0\.2.*own test set.*set split\.test to 0"):
        check_builtin(spec)  # found by `check`, before anything is downloaded


def test_a_wrong_form_is_refused_naming_the_forms():
    with pytest.raises(DataError, match="allowed: image | flat"):
        check_builtin(normalize_spec(_spec("cifar10", form="sequence")))


def test_a_file_put_by_hand_that_is_not_the_published_one_is_refused(cache, monkeypatch):
    files, _ = mnist_files()
    register(monkeypatch, "mnist", files)
    other, _ = mnist_files(seed=1)
    put_in_cache(
        cache, "mnist", {**files, "t10k-images-idx3-ubyte.gz": other["t10k-images-idx3-ubyte.gz"]}
    )
    with pytest.raises(DataError) as err:
        prepare_data(_spec("mnist"), seed=0)
    line = str(err.value)
    assert "\n" not in line and "t10k-images-idx3-ubyte.gz" in line
    assert "not the published" in line and "delete it" in line


def test_a_truncated_archive_is_one_line_naming_it(cache, monkeypatch, tmp_path):
    archive, _ = cifar_archive()
    cut = archive[: len(archive) // 2]
    files = {"cifar-10-binary.tar.gz": cut}
    register(monkeypatch, "cifar10", files)  # the checksum of the cut file: the parser sees it
    put_in_cache(cache, "cifar10", files)
    with pytest.raises(DataError) as err:
        datasets.load_arrays("cifar10")
    assert "\n" not in str(err.value)
    assert "cifar-10-binary.tar.gz" in str(err.value) and "damaged or cut short" in str(err.value)


@pytest.mark.parametrize(
    "data, problem",
    [
        (b"not gzip at all", "not a readable gzip file"),
        (idx_gz(np.zeros((2, 3), np.uint8)), "not an IDX file of 3-D"),
        (idx_gz(np.zeros((2, 28, 28), np.uint8))[:-12], "not a readable gzip file"),
    ],
)
def test_damaged_idx_files_are_refused(data, problem, tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(data)
    with pytest.raises(DataError, match=problem):
        datasets.read_idx(path, 3)


def test_labels_that_do_not_match_the_images_are_refused(cache, monkeypatch):
    files, _ = mnist_files()
    files["train-labels-idx1-ubyte.gz"] = idx_gz(np.zeros(N_TRAIN - 1, np.uint8))
    register(monkeypatch, "kmnist", files)
    put_in_cache(cache, "kmnist", files)
    with pytest.raises(DataError, match=f"{N_TRAIN - 1} labels for {N_TRAIN} images"):
        datasets.load_arrays("kmnist")


def test_a_cifar_record_file_of_the_wrong_length_is_refused(tmp_path):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-bin/batches.meta.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"a\n"))
        info = tarfile.TarInfo("cifar-10-batches-bin/data_batch_1.bin")
        info.size = 100
        tar.addfile(info, io.BytesIO(b"\0" * 100))
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="data_batch_1.bin has 100 bytes, not whole records"):
        datasets.read_cifar(path, hundred=False)


def test_a_cifar_archive_member_that_is_a_link_is_refused(tmp_path):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("cifar-10-batches-bin/batches.meta.txt")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    path = tmp_path / "cifar-10-binary.tar.gz"
    path.write_bytes(buf.getvalue())
    with pytest.raises(DataError, match="is not a plain file"):
        datasets.read_cifar(path, hundred=False)


def test_choosing_a_named_set_in_the_data_panel_drops_a_test_share():
    from engine.editing import data_section as ds

    old = {"source": "builtin", "name": "iris", "split": {"val": 0.2, "test": 0.1}}
    spec = ds.with_dataset(old, "cifar10")
    assert spec["split"] == {"val": 0.2, "test": 0.0}
    check_builtin(normalize_spec(spec))  # valid at once: no refusal after the choice
    assert ds.with_dataset(old, "wine")["split"]["test"] == 0.1
