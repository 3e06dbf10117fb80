"""The named image datasets downloaded on first use: MNIST, Fashion-MNIST, KMNIST, CIFAR-10,
CIFAR-100 and SVHN, parsed from their official file formats into uint8 arrays.

Every file is treated as hostile: the formats are read as plain bytes (IDX, CIFAR binary records
inside a ``.tar.gz`` read member by member, never extracted to disk, MATLAB ``.mat`` arrays via
:func:`scipy.io.loadmat`), nothing is unpickled, and a file cut short or of the wrong shape is one
:class:`DataError` line naming it. The official test set becomes the test split
(``RawData.test_start``).
"""

from __future__ import annotations

import functools
import gzip
import struct
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data import downloads
from engine.data.raw import RawData
from engine.errors import DataError, check_cancel

MNIST_DIGITS = [str(i) for i in range(10)]
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
KMNIST_CLASSES = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
IMAGE_FORMS = ("image", "flat")


@dataclass(frozen=True)
class Arrays:
    """A parsed dataset: uint8 images ``(N, C, H, W)`` and int64 labels, train then test."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]


def _damaged(path: Path, what: str) -> DataError:
    return DataError(
        f"{path}: {what}: the file is damaged or cut short; delete it and load again to download it"
    )


# ------------------------------------------------------------------------------- parsers
def read_idx(path: Path, dims: int) -> np.ndarray:
    """An IDX file of unsigned bytes (gzip-compressed, as published): ``dims`` = 1 for labels
    ``(N,)``, 3 for images ``(N, H, W)``."""
    try:
        with gzip.open(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as exc:
        raise _damaged(path, f"not a readable gzip file ({type(exc).__name__})") from None
    magic = 0x0800 + dims
    if len(data) < 4 + 4 * dims or struct.unpack(">I", data[:4])[0] != magic:
        raise _damaged(path, f"not an IDX file of {dims}-D unsigned bytes")
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise _damaged(path, f"{body.size} bytes of data where the header says {shape}")
    return body.reshape(shape)


def load_idx_set(files: dict[str, Path], class_names: list[str]) -> Arrays:
    """MNIST-style ``train-*`` and ``t10k-*`` images and labels."""
    parts = []
    for split in ("train", "t10k"):
        x = read_idx(files[f"{split}-images-idx3-ubyte.gz"], 3)
        ypath = files[f"{split}-labels-idx1-ubyte.gz"]
        y = read_idx(ypath, 1)
        if len(x) != len(y):
            raise _damaged(ypath, f"{len(y)} labels for {len(x)} images")
        if len(y) and int(y.max()) >= len(class_names):
            raise _damaged(ypath, f"label {int(y.max())} outside 0..{len(class_names) - 1}")
        parts += [x[:, None], y.astype(np.int64)]
    return Arrays(*parts, class_names=list(class_names))


def _member(tar: tarfile.TarFile, name: str, path: Path) -> bytes:
    try:
        info = tar.getmember(name)
    except KeyError:
        raise _damaged(path, f"the archive has no {name}") from None
    if not info.isfile():
        raise _damaged(path, f"{name} in the archive is not a plain file")
    f = tar.extractfile(info)
    return f.read() if f is not None else b""


def _records(data: bytes, label_bytes: int, label_at: int, origin: str, path: Path):
    size = label_bytes + 3 * 32 * 32
    if len(data) % size:
        raise _damaged(path, f"{origin} has {len(data)} bytes, not whole records of {size}")
    rec = np.frombuffer(data, np.uint8).reshape(-1, size)
    return rec[:, label_bytes:].reshape(-1, 3, 32, 32), rec[:, label_at].astype(np.int64)


def read_cifar(path: Path, hundred: bool, should_stop: Callable[[], bool] | None = None) -> Arrays:
    """The CIFAR-10 / CIFAR-100 *binary* archive (fine labels for CIFAR-100)."""
    folder = "cifar-100-binary" if hundred else "cifar-10-batches-bin"
    train = ["train.bin"] if hundred else [f"data_batch_{i}.bin" for i in range(1, 6)]
    test = ["test.bin"] if hundred else ["test_batch.bin"]
    meta = "fine_label_names.txt" if hundred else "batches.meta.txt"
    label_bytes, label_at = (2, 1) if hundred else (1, 0)
    try:
        with tarfile.open(path, "r:gz") as tar:
            names = [
                n.strip()
                for n in _member(tar, f"{folder}/{meta}", path)
                .decode("utf-8", "replace")
                .split("\n")
                if n.strip()
            ]
            out = []
            for group in (train, test):
                xs, ys = [], []
                for name in group:
                    check_cancel(should_stop)
                    x, y = _records(
                        _member(tar, f"{folder}/{name}", path), label_bytes, label_at, name, path
                    )
                    xs.append(x)
                    ys.append(y)
                out += [np.concatenate(xs), np.concatenate(ys)]
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _damaged(path, f"not a readable .tar.gz archive ({type(exc).__name__})") from None
    want = 100 if hundred else 10
    if len(names) != want:
        raise _damaged(path, f"{meta} names {len(names)} classes, not {want}")
    for y in (out[1], out[3]):
        if len(y) and int(y.max()) >= want:
            raise _damaged(path, f"a label {int(y.max())} outside 0..{want - 1}")
    return Arrays(*out, class_names=names)


def read_svhn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """One SVHN ``*_32x32.mat``: ``X`` (32, 32, 3, N) uint8 and ``y`` (N, 1) with 10 for the
    digit 0; returns ``(N, 3, 32, 32)`` images and labels 0..9."""
    from scipy.io import loadmat

    try:
        mat = loadmat(path, variable_names=["X", "y"])
    except Exception as exc:  # scipy raises many types for a damaged file
        raise _damaged(path, f"not a readable MATLAB file ({type(exc).__name__})") from None
    x, y = mat.get("X"), mat.get("y")
    if (
        not isinstance(x, np.ndarray)
        or not isinstance(y, np.ndarray)
        or x.dtype != np.uint8
        or x.ndim != 4
        or x.shape[:3] != (32, 32, 3)
        or y.size != x.shape[3]
        or y.dtype.kind not in "iuf"
    ):
        raise _damaged(path, "X must be uint8 (32, 32, 3, N) and y N labels")
    y = y.reshape(-1).astype(np.int64)
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise _damaged(path, "labels must be 1..10 (10 is the digit 0)")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), y % 10


# ------------------------------------------------------------------------------- datasets
def _fetch_all(name: str, should_stop: Callable[[], bool] | None) -> dict[str, Path]:
    return {f.name: downloads.fetch(name, f, should_stop) for f in downloads.FILES[name]}


def _parse(name: str, files: dict[str, Path], should_stop) -> Arrays:
    if name == "mnist":
        return load_idx_set(files, MNIST_DIGITS)
    if name == "fashion_mnist":
        return load_idx_set(files, FASHION_CLASSES)
    if name == "kmnist":
        return load_idx_set(files, KMNIST_CLASSES)
    if name in ("cifar10", "cifar100"):
        (path,) = files.values()
        return read_cifar(path, name == "cifar100", should_stop)
    if name == "svhn":
        xt, yt = read_svhn(files["train_32x32.mat"])
        xs, ys = read_svhn(files["test_32x32.mat"])
        return Arrays(xt, yt, xs, ys, MNIST_DIGITS)
    raise KeyError(name)


@functools.lru_cache(maxsize=2)
def _arrays_cached(name: str, stamp: tuple[tuple[str, int, int], ...]) -> Arrays:
    """Parse once per process while the files (path, size, mtime) stay the same."""
    return _parse(name, {Path(p).name: Path(p) for p, _size, _mtime in stamp}, None)


def load_arrays(name: str, should_stop: Callable[[], bool] | None = None) -> Arrays:
    """The parsed dataset ``name``, downloading its files first when they are not cached; kept
    in memory (read-only) for the next call while the cached files stay the same."""
    files = _fetch_all(name, should_stop)
    check_cancel(should_stop)
    stamp = tuple((str(p), (st := p.stat()).st_size, st.st_mtime_ns) for p in files.values())
    arrays = _arrays_cached(name, stamp)
    for a in (arrays.x_train, arrays.y_train, arrays.x_test, arrays.y_test):
        a.flags.writeable = False
    return arrays


def to_raw(name: str, arrays: Arrays, form: str | None, title: str) -> RawData:
    """Train and test samples in one :class:`RawData` (pixels scaled to [0, 1], float32), the
    official test set last (``test_start``)."""
    form = form or "image"
    x = np.concatenate([arrays.x_train, arrays.x_test])
    sample = x.shape[1:]
    if form == "flat":
        x = x.reshape(len(x), -1)
    x = x.astype(np.float32) / np.float32(255.0)
    shape = "×".join(map(str, x.shape[1:]))
    return RawData(
        x,
        np.concatenate([arrays.y_train, arrays.y_test]),
        "classification",
        "image" if form == "image" else "table",
        f"{title} ({form} {shape})",
        columns=_pixel_names(sample) if form == "flat" else None,
        class_names=list(arrays.class_names),
        form=form,
        test_start=len(arrays.x_train),
    )


def _pixel_names(sample: tuple[int, ...]) -> list[str]:
    """Column names of flattened ``(C, H, W)`` pixels: ``pixel_r_c`` (one channel) or
    ``pixel_ch_r_c``."""
    c, h, w = sample
    if c == 1:
        return [f"pixel_{r}_{k}" for r in range(h) for k in range(w)]
    return [f"pixel_{ch}_{r}_{k}" for ch in range(c) for r in range(h) for k in range(w)]
