"""Hostile or damaged data files: each is one DataError line naming the file (and the row or
image), never a bare exception or a silently wrong dataset."""

from __future__ import annotations

import os
import struct
import zlib

import numpy as np
import pytest

import engine.data.importers as importers
from engine.data import prepare_data
from tests.engine.test_data_importers import error_of, make_images, no_split, write


def test_an_npz_that_is_not_a_zip_says_so(tmp_path):
    (tmp_path / "d.npz").write_bytes(b"x,y\n1,2\n" * 20)
    msg = error_of({"source": "npz", "path": "d.npz"}, tmp_path)
    assert msg.startswith("d.npz is not a NumPy file") and "Python objects" not in msg


def test_a_damaged_npz_archive_names_the_file(tmp_path):
    np.savez(tmp_path / "good.npz", x=np.zeros((40, 3)), y=np.repeat([0, 1], 20))
    raw = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(raw[: len(raw) // 2])  # a download cut short
    msg = error_of({"source": "npz", "path": "cut.npz"}, tmp_path)
    assert msg.startswith("cut.npz is a damaged .npz archive")
    (tmp_path / "zip.npz").write_bytes(b"PK\x03\x04" + os.urandom(200))
    assert error_of({"source": "npz", "path": "zip.npz"}, tmp_path).startswith("zip.npz")


@pytest.mark.parametrize(
    "member, expect",
    [
        (np.array([{"a": 1}] * 4, dtype=object), "holds Python objects"),
        (np.array([["a", "b"]] * 4), "features have dtype <U1, not numbers"),
        (np.zeros(4, dtype=[("a", "f4"), ("b", "i4")]), "not numbers"),
    ],
)
def test_an_npz_member_of_the_wrong_kind_names_the_file(tmp_path, member, expect):
    np.savez(tmp_path / "d.npz", x=member, y=np.arange(4) % 2)
    msg = error_of({"source": "npz", "path": "d.npz"}, tmp_path)
    assert msg.startswith("d.npz") and expect in msg


def test_float_labels_that_would_collapse_are_refused_naming_the_row(tmp_path):
    x = np.zeros((6, 2))
    np.savez(tmp_path / "d.npz", x=x, y=np.array([3e38, -3e38] * 3))
    msg = error_of({"source": "npz", "path": "d.npz", "task": "classification"}, tmp_path)
    assert msg.startswith("d.npz['y'] row 0: class label 3e+38 is not a whole number")
    np.savez(tmp_path / "n.npz", x=x, y=np.array([0, 1, 0, np.nan, 1, 0]))
    msg = error_of({"source": "npz", "path": "n.npz", "task": "classification"}, tmp_path)
    assert "row 3: class label nan" in msg
    np.savez(tmp_path / "h.npz", x=x, y=np.array([0, 1, 0.5, 1, 0, 1]))
    assert "row 2: class label 0.5" in error_of(
        {"source": "npz", "path": "h.npz", "task": "classification"}, tmp_path
    )
    write(tmp_path / "t.csv", "a,label\n1,3e38\n2,-3e38\n3,3e38\n4,-3e38\n")
    msg = error_of(
        {"source": "csv", "path": "t.csv", "target": "label", **no_split()}, tmp_path
    )  # inferred as two classes, then refused
    assert msg.startswith("t.csv line 2, column 'label': class label 3e+38")


def test_whole_float_labels_still_train_as_classes(tmp_path):
    np.savez(tmp_path / "d.npz", x=np.zeros((6, 2)), y=np.array([0.0, 1.0, 2.0] * 2))
    d = prepare_data({"source": "npz", "path": "d.npz", **no_split()}, base_dir=tmp_path)
    assert d.task == "classification" and d.class_names == ["0", "1", "2"]


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width``×``height`` pixels in a few dozen bytes (a decompression bomb's
    header; Pillow reads only the header when opening)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0"))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("size", [(30000, 30000), (10000, 10000)])  # Pillow's error / warning
def test_a_png_decompression_bomb_is_one_line_naming_the_image(tmp_path, size):
    make_images(tmp_path / "imgs", {"a": 2, "b": 2})
    (tmp_path / "imgs" / "b" / "bomb.png").write_bytes(_png_header_only(*size))
    msg = error_of({"source": "image_folder", "path": "imgs"}, tmp_path)
    assert msg.startswith("image 'imgs/b/bomb.png' has more than 50,000,000 pixels")


def test_images_over_our_own_limit_are_refused_before_decoding(tmp_path, monkeypatch):
    make_images(tmp_path / "imgs", {"a": 2, "b": 2}, size=(10, 6))
    monkeypatch.setattr(importers, "MAX_IMAGE_PIXELS", 59)
    msg = error_of({"source": "image_folder", "path": "imgs"}, tmp_path)
    assert msg.startswith("image 'imgs/a/0.png' has more than 59 pixels")


def test_a_data_path_that_is_a_fifo_is_refused_without_reading(tmp_path):
    os.mkfifo(tmp_path / "d.csv")
    msg = error_of({"source": "csv", "path": "d.csv", "target": "y"}, tmp_path)
    assert "'d.csv' is not a regular file" in msg
