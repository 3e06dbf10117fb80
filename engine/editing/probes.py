"""File probes for the data editor: a CSV's header row, delimiter and text columns, an
``.npz``'s array names.

Each reads only what it needs (one header line; the first :data:`PROBE_ROWS` data rows; the
archive's member list, nothing loaded) and raises :class:`~engine.errors.DataError` with a
one-line reason. The header row is split and checked, and a column judged text, by the CSV
loader's own rules (:mod:`engine.data.importers`).
"""

from __future__ import annotations

import csv
import itertools
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np

from engine.data.importers import check_header, is_text_column, split_header
from engine.errors import DataError

#: The delimiters offered for CSV files (a chosen file's is detected from its header row).
DELIMITERS = {",": "comma ( , )", ";": "semicolon ( ; )", "\t": "tab", "|": "pipe ( | )"}
#: The longest header line read (a file without line breaks is not read whole).
MAX_HEADER_CHARS = 1 << 20
#: The data rows :func:`text_columns` reads (a sample: the loader itself reads every row).
PROBE_ROWS = 200


@contextmanager
def _reading_text(path: Path) -> Iterator[TextIO]:
    """``path`` open as UTF-8 text; a read that fails raises DataError with the reason."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            yield fh
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path.name} is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8"
        ) from None
    except OSError as exc:
        raise DataError(
            f"{path.name} cannot be read ({exc.strerror or exc}): check that the "
            "file exists and is readable"
        ) from None


def header_line(path: Path) -> str:
    """A CSV file's first non-blank line (only that much is read); DataError with the reason."""
    with _reading_text(path) as fh:
        while True:
            line = fh.readline(MAX_HEADER_CHARS)
            if not line or line.strip():
                break
    if not line.strip():
        raise DataError(f"{path.name} is empty: it needs a header row with the column names")
    return line


def sniff_delimiter(path: Path) -> str:
    """The offered delimiter found most often on the header row (comma when unreadable)."""
    try:
        line = header_line(path)
    except DataError:
        return ","
    counts = {d: line.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def csv_header(path: Path, delimiter: str = ",") -> list[str]:
    """The column names on a CSV file's header row, split at ``delimiter`` (quotes honoured).

    Raises DataError with a one-line reason when the file or its header cannot be used."""
    header = split_header(header_line(path), delimiter, path.name)
    if "" in header:
        raise DataError(
            f"{path.name}: column {header.index('') + 1} of the header has no name "
            f"(delimiter {DELIMITERS.get(delimiter, repr(delimiter))}): name it "
            "or choose the right delimiter"
        )
    check_header(header, path.name)
    return header


def text_columns(path: Path, delimiter: str = ",", rows: int = PROBE_ROWS) -> list[str]:
    """The columns of a CSV file that hold text, judged on its first ``rows`` data rows by the
    loader's rule (:func:`~engine.data.importers.is_text_column`): as features they are
    one-hot encoded. In header order; DataError (one line) when the file cannot be read.

    Rows that are blank or not as wide as the header are passed over here (the loader names
    them when the data is prepared)."""
    header = csv_header(path, delimiter)
    cells: list[list[str]] = [[] for _ in header]
    with _reading_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        filled = (f for f in reader if any(c.strip() for c in f))
        try:
            for fields in itertools.islice(filled, 1, rows + 1):  # the first is the header
                if len(fields) == len(header):
                    for column, cell in zip(cells, fields):
                        column.append(cell.strip())
        except csv.Error as exc:
            raise DataError(f"{path.name} line {reader.line_num}: {exc}: fix the quoting") from None
    return [name for name, column in zip(header, cells) if is_text_column(column)]


def npz_keys(path: Path) -> list[str]:
    """The array names in an ``.npz`` archive (nothing is loaded); DataError with the reason."""
    try:
        archive = np.load(path, allow_pickle=False)
    except OSError as exc:
        raise DataError(
            f"{path.name} cannot be read ({exc.strerror or exc}): check that the "
            "file exists and is readable"
        ) from None
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DataError(
            f"{path.name} is not a NumPy archive ({exc}): save it with numpy.savez"
        ) from None
    if not hasattr(archive, "files"):
        raise DataError(
            f"{path.name} is a single .npy array, not an .npz archive: choose "
            "the source NumPy array (.npy)"
        )
    with archive:
        keys = list(archive.files)
    if not keys:
        raise DataError(f"{path.name} holds no arrays: save the features (and targets) in it")
    return keys
