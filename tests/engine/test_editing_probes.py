"""File probes (engine/editing/probes.py), no Qt: a CSV's header row, delimiter and text
columns, an ``.npz``'s array names, each refused with a one-line reason."""

from __future__ import annotations

import numpy as np
import pytest

from engine.data.importers import load_csv
from engine.data.spec import normalize_spec
from engine.editing.probes import csv_header, npz_keys, sniff_delimiter, text_columns
from engine.errors import DataError


def test_csv_header_reads_only_the_first_non_blank_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('\ufeff\n\n"a; b";c;label\n1;2;3\nbroken "" line', encoding="utf-8")
    assert sniff_delimiter(path) == ";"
    assert csv_header(path, ";") == ["a; b", "c", "label"]  # quotes honoured


@pytest.mark.parametrize(
    "text,delimiter,reason",
    [
        ("", ",", "t.csv is empty: it needs a header row"),
        ("a,,b\n", ",", "column 2 of the header has no name (delimiter comma ( , ))"),
        ("a,b,a\n", ",", "column name 'a' appears twice in the header: rename one of them"),
    ],
)
def test_csv_header_refuses_with_the_reason(tmp_path, text, delimiter, reason):
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=reason.replace("(", r"\(").replace(")", r"\)")):
        csv_header(path, delimiter)


def test_csv_header_of_a_missing_or_binary_file(tmp_path):
    with pytest.raises(DataError, match="cannot be read .*check that the file exists"):
        csv_header(tmp_path / "nope.csv")
    (tmp_path / "bin.csv").write_bytes(b"a,b\xff\xfe\n")
    with pytest.raises(DataError, match="bin.csv is not UTF-8 text"):
        csv_header(tmp_path / "bin.csv")
    assert sniff_delimiter(tmp_path / "nope.csv") == ","  # unreadable: the default
    (tmp_path / "one.csv").write_text("single\n", encoding="utf-8")
    assert sniff_delimiter(tmp_path / "one.csv") == ","
    (tmp_path / "tab.csv").write_text("a\tb|c\td\n", encoding="utf-8")
    assert sniff_delimiter(tmp_path / "tab.csv") == "\t"


def test_npz_keys_list_the_arrays_without_loading(tmp_path):
    np.savez(tmp_path / "a.npz", feats=np.zeros((3, 2)), labels=np.arange(3))
    assert npz_keys(tmp_path / "a.npz") == ["feats", "labels"]
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(DataError, match="single .npy array, not an .npz archive"):
        npz_keys(tmp_path / "one.npy")
    (tmp_path / "bad.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="bad.npz is not a NumPy archive"):
        npz_keys(tmp_path / "bad.npz")
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(DataError, match="holds no arrays"):
        npz_keys(tmp_path / "empty.npz")


def test_text_columns_are_the_ones_the_loader_one_hot_encodes(tmp_path):
    path = tmp_path / "people.csv"
    rows = [
        f"{20 + i};{'rgb'[i % 3]};{i % 4}.5;{'xy'[i % 2]};{'' if i % 5 else 'n/a'}"
        for i in range(12)
    ]
    path.write_text("age;colour;size;kind;empty\n" + "\n".join(rows) + "\n", encoding="utf-8")
    assert text_columns(path, ";") == ["colour", "kind"]  # in header order; missing is not text
    spec = normalize_spec(
        {
            "source": "csv",
            "path": path.name,
            "delimiter": ";",
            "target": None,
            "features": ["age", "colour", "size", "kind"],
            "task": "unsupervised",
        }
    )
    raw = load_csv(spec, tmp_path)
    assert [raw.columns[k] for k in raw.categorical] == ["colour", "kind"]  # the loader agrees
    # the wrong delimiter: one column of whole lines, all text
    assert text_columns(path, ",") == ["age;colour;size;kind;empty"]


def test_text_columns_read_a_sample_and_pass_over_ragged_rows(tmp_path):
    path = tmp_path / "t.csv"
    lines = ["n,word"] + [f"{i},{i}" for i in range(5)] + ["1,2,3", "", "x"] + ["7,w"] * 3
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert text_columns(path) == []  # five numbers beat three words; bad rows passed over
    assert text_columns(path, rows=5) == []
    path.write_text("n,word\n" + "1,a\n" * 3 + "1,2\n" * 10, encoding="utf-8")
    assert text_columns(path, rows=3) == ["word"]  # judged on the first rows only
    assert text_columns(path) == []


def test_text_columns_refuse_an_unreadable_file_with_the_reason(tmp_path):
    with pytest.raises(DataError, match="nope.csv cannot be read .*check that the file exists"):
        text_columns(tmp_path / "nope.csv")
    (tmp_path / "late.csv").write_bytes(b"a,b\n1,2\n3,\xff\n")
    with pytest.raises(DataError, match="late.csv is not UTF-8 text"):
        text_columns(tmp_path / "late.csv")
    (tmp_path / "huge.csv").write_text("a,b\n1," + "9" * 200_000 + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="huge.csv line 2: field larger than field limit"):
        text_columns(tmp_path / "huge.csv")
