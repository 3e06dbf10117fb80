"""Importers for the user's own files: CSV tables, NumPy ``.npy``/``.npz``, image folders.

Each importer returns :class:`RawData` and turns every problem a user can cause into one
:class:`DataError` line naming the file (and line/column or image) and the fix.
"""

from __future__ import annotations

import csv
import io
import warnings
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.raw import RawData
from engine.errors import DataError, check_cancel

#: Cell texts read as a missing value.
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
#: An integer target with at most this many distinct values is taken as class labels.
MAX_INFERRED_CLASSES = 20
#: An inferred text column with more distinct values than this is refused (likely an id/name).
MAX_INFERRED_CATEGORIES = 50
#: Largest image (width × height) decoded; larger ones are refused as likely decompression bombs.
MAX_IMAGE_PIXELS = 50_000_000
#: Numeric class labels must be whole numbers no larger than this (exact in float64).
MAX_LABEL = 2**53
#: Rows parsed between two looks at ``should_stop`` (a Stop or a closing window waits at most
#: one chunk: ~10 ms here).
CSV_CHUNK_ROWS = 5000
#: Images decoded between two looks at ``should_stop``.
IMAGE_CHUNK = 64

ShouldStop = Callable[[], bool] | None


def resolve(path: str, base_dir: Path | None, kind: str = "file") -> Path:
    """Resolve a spec path against the design's folder and check that it exists."""
    p = Path(path).expanduser()
    if not p.is_absolute() and base_dir is not None:
        p = Path(base_dir) / p
    if not p.exists():
        raise DataError(
            f"{kind} '{path}' not found (looked at {p}): check the path in the data "
            "spec, relative to the design file's folder"
        )
    if kind == "folder" and not p.is_dir():
        raise DataError(
            f"'{path}' is a file, not a folder: give the folder holding one sub-folder per class"
        )
    if kind == "file" and p.is_dir():
        raise DataError(f"'{path}' is a folder, not a file: give the path of the data file")
    if kind == "file" and not p.is_file():
        raise DataError(
            f"'{path}' is not a regular file (a device, pipe or socket): give the "
            "path of the data file"
        )
    return p


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_TOKENS


def _to_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def _mostly_text(present: list[str]) -> bool:
    """Whether under half of the (non-missing) cells ``present`` read as numbers."""
    if not present:
        return False
    return sum(_to_float(c) is not None for c in present) / len(present) < 0.5


def is_text_column(cells: Sequence[str]) -> bool:
    """Whether a CSV column of ``cells`` counts as text: under half of its non-missing cells
    are numbers. The loader one-hot encodes such a column (see :func:`load_csv`)."""
    return _mostly_text([c for c in cells if not _is_missing(c)])


def check_class_labels(y: np.ndarray, name: str, rows: list[str] | None = None) -> None:
    """Numeric class labels must be finite whole numbers of at most :data:`MAX_LABEL` (larger
    ones collapse into one class when made integers); the error names the file and the row."""
    if y.dtype.kind != "f":
        return
    flat = y.reshape(len(y), -1)[:, 0].astype(np.float64)
    with np.errstate(invalid="ignore"):
        bad = ~np.isfinite(flat) | (np.mod(flat, 1) != 0) | (np.abs(flat) > MAX_LABEL)
    if bad.any():
        i = int(np.argmax(bad))
        row = rows[i] if rows else f"row {i}"
        raise DataError(
            f"{name} {row}: class label {float(flat[i])!r} is not a whole number "
            f"up to 2**53: fix the label, or set task to regression"
        )


def infer_task(y: np.ndarray) -> str:
    """``classification`` for text labels or few distinct integers, otherwise ``regression``.

    "Few" means at most :data:`MAX_INFERRED_CLASSES` values, each seen twice on average.
    """
    if y.dtype.kind not in "biuf":
        return "classification"
    flat = y.reshape(len(y), -1)
    if flat.shape[1] != 1:
        return "regression"
    values = flat[:, 0][~np.isnan(flat[:, 0].astype(np.float64))]
    distinct = len(np.unique(values))
    few = distinct <= MAX_INFERRED_CLASSES and distinct <= len(values) / 2
    return "classification" if few and np.all(np.mod(values, 1) == 0) else "regression"


# --------------------------------------------------------------------------- CSV
def split_header(line: str, delimiter: str, name: str) -> list[str]:
    """The column names on one CSV header line, split at ``delimiter`` (quotes honoured); the
    editor reads a chosen file's columns with it (then :func:`check_header`)."""
    try:
        fields = next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error as exc:
        raise DataError(f"{name}: the header row cannot be read ({exc}): fix its quoting") from None
    return [f.strip() for f in fields]


def check_header(header: list[str], name: str) -> None:
    """Refuse a header row that names a column twice (DataError naming the column)."""
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise DataError(
            f"{name}: column name {dupes[0]!r} appears twice in the header: rename one of them"
        )


def load_csv(
    spec: dict[str, Any], base_dir: Path | None, should_stop: ShouldStop = None
) -> RawData:
    """Read a CSV with a header row; text columns become categorical, numbers stay numeric.

    ``should_stop()`` is asked every :data:`CSV_CHUNK_ROWS` rows and before each column is
    converted; when it returns True the load ends with :class:`~engine.errors.Cancelled`.
    """
    name = spec["path"]
    text = _read_text(resolve(name, base_dir), name)
    header, rows, lines = _csv_rows(text, spec["delimiter"], name, should_stop)
    target = spec["target"]
    features = _csv_features(spec, header, name)
    y_raw: list[str] | None = None
    if target is not None and spec["task"] != "unsupervised":
        rows, lines = _rows_with_target(
            rows,
            lines,
            header.index(target),
            target,
            name,
            drop=spec["preprocess"]["impute"] == "drop",
        )
        y_raw = [r[header.index(target)] for r in rows]
    columns: list[Any] = []
    categorical: list[int] = []
    for k, col in enumerate(features):
        check_cancel(should_stop)
        ci = header.index(col)
        column, is_text = _csv_column(
            [r[ci] for r in rows], col, col in spec["categorical"], name, lines
        )
        columns.append(column)
        if is_text:
            categorical.append(k)
    if categorical:
        x = np.empty((len(rows), len(features)), dtype=object)
        for k, c in enumerate(columns):
            x[:, k] = c
    else:
        x = np.stack(columns, axis=1)
    y, task = (
        (None, "unsupervised")
        if y_raw is None
        else _csv_targets(y_raw, spec["task"], target, name, lines)
    )
    return RawData(
        x,
        y,
        task,
        "table",
        name,
        columns=list(features),
        categorical=categorical,
        row_labels=[f"line {ln}" for ln in lines],
    )


def _read_text(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{name} is not UTF-8 text (byte {exc.start}): save it as CSV UTF-8"
        ) from None
    except OSError as exc:
        raise DataError(
            f"{name} cannot be read ({exc.strerror}): check the file's permissions"
        ) from None


def _csv_rows(
    text: str, delimiter: str, name: str, should_stop: ShouldStop
) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, data rows, their line numbers): blank lines skipped, every row as wide as the
    header, at least one row."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    rows: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    try:
        for count, fields in enumerate(reader, 1):
            if count % CSV_CHUNK_ROWS == 0:
                check_cancel(should_stop)
            if not any(f.strip() for f in fields):
                continue
            if header is None:
                header = [f.strip() for f in fields]
                continue
            if len(fields) != len(header):
                raise DataError(
                    f"{name} line {reader.line_num}: {len(fields)} fields but the "
                    f"header has {len(header)}: fix that line (check the delimiter "
                    f"{delimiter!r} and quotes)"
                )
            rows.append([f.strip() for f in fields])
            lines.append(reader.line_num)
    except csv.Error as exc:
        raise DataError(f"{name} line {reader.line_num}: {exc}: fix the quoting") from None
    if header is None:
        raise DataError(f"{name} is empty: it needs a header row and at least one data row")
    if not rows:
        raise DataError(f"{name} has a header but no data rows: add rows below the header")
    check_header(header, name)
    return header, rows, lines


def _csv_features(spec: dict[str, Any], header: list[str], name: str) -> list[str]:
    """The feature columns the spec names (default: all but the target), checked against the
    header."""
    target = spec["target"]
    if target is not None and target not in header:
        raise DataError(
            f"{name}: target column {target!r} not found; columns are: " + ", ".join(header)
        )
    features = (
        spec["features"] if spec["features"] is not None else [h for h in header if h != target]
    )
    for col in [*features, *spec["categorical"]]:
        if col not in header:
            raise DataError(
                f"{name}: column {col!r} (in the data spec) not found; columns are: "
                + ", ".join(header)
            )
    if target in features:
        raise DataError(
            f"{name}: target column {target!r} is also listed in 'features': "
            "remove it from 'features'"
        )
    if not features:
        raise DataError(f"{name}: no feature columns left besides the target: add columns")
    return features


def _rows_with_target(
    rows: list[list[str]], lines: list[int], ti: int, target: str, name: str, drop: bool
) -> tuple[list[list[str]], list[int]]:
    """The rows whose target cell is filled in (an empty one is refused unless ``drop``)."""
    keep = []
    for r, line in zip(rows, lines, strict=True):
        if _is_missing(r[ti]):
            if not drop:
                raise DataError(
                    f"{name} line {line}: target column {target!r} is empty: "
                    "fill it in, or set preprocess.impute to drop"
                )
            continue
        keep.append((r, line))
    if not keep:
        raise DataError(f"{name}: every row's target {target!r} is empty: fill the column")
    return [r for r, _ in keep], [ln for _, ln in keep]


def _csv_column(
    cells: list[str], col: str, listed: bool, name: str, lines: list[int]
) -> tuple[np.ndarray, bool]:
    """(values, is categorical): a column listed in 'categorical' or mostly text stays text
    (missing cells ""), else float64 with NaN for missing cells."""
    present = [c for c in cells if not _is_missing(c)]
    if listed or _mostly_text(present):
        distinct = len(set(present))
        if not listed and distinct > MAX_INFERRED_CATEGORIES:
            raise DataError(
                f"{name}: column {col!r} has {distinct} different text values "
                "(an id or name?): leave it out of 'features', or list it in "
                "'categorical' to one-hot encode it anyway"
            )
        return np.array(["" if _is_missing(c) else c for c in cells], dtype=object), True
    values = np.empty(len(cells), dtype=np.float64)
    for i, cell in enumerate(cells):
        if _is_missing(cell):
            values[i] = np.nan
            continue
        v = _to_float(cell)
        if v is None:
            raise DataError(
                f"{name} line {lines[i]}, column {col!r}: {cell!r} is not a "
                f"number: fix the value, or list {col!r} in 'categorical'"
            )
        values[i] = v
    return values, False


def _csv_targets(
    y_raw: list[str], task: str | None, target: str, name: str, lines: list[int]
) -> tuple[np.ndarray, str]:
    """(targets, task): numbers for regression, checked labels for classification."""
    as_num = [_to_float(v) for v in y_raw]
    numeric = all(v is not None for v in as_num)
    y_arr = np.array(as_num, dtype=np.float64) if numeric else np.array(y_raw, dtype=object)
    task = task or infer_task(y_arr)
    if task == "regression":
        if not numeric:
            bad = next(i for i, v in enumerate(as_num) if v is None)
            raise DataError(
                f"{name} line {lines[bad]}, column {target!r}: {y_raw[bad]!r} "
                "is not a number but the task is regression: fix the value or "
                "set task to classification"
            )
        return y_arr.astype(np.float32).reshape(-1, 1), task
    if task == "classification":
        check_class_labels(y_arr, name, [f"line {ln}, column {target!r}" for ln in lines])
        return y_arr, task
    raise DataError(
        f"{name}: task {task!r} needs a series; use regression or classification for CSV tables"
    )


# --------------------------------------------------------------------------- NumPy
#: How .npy files and .npz (zip) archives start.
NUMPY_MAGIC = (b"\x93NUMPY", b"PK\x03\x04", b"PK\x05\x06")


def check_numpy_file(path: Path, name: str) -> None:
    """Refuse a file that starts with neither the .npy nor the .npz (zip) signature."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(6)
    except OSError as exc:
        raise DataError(
            f"{name} cannot be read ({exc.strerror}): check the file's permissions"
        ) from None
    if not head.startswith(NUMPY_MAGIC):
        raise DataError(
            f"{name} is not a NumPy file (it starts with neither the .npy nor "
            "the .npz/zip signature): save it with numpy.save or numpy.savez"
        )


def _load_array(name: str, base_dir: Path | None) -> Any:
    path = resolve(name, base_dir)
    try:
        check_numpy_file(path, name)
        return np.load(path, allow_pickle=False)
    except zipfile.BadZipFile as exc:
        raise DataError(
            f"{name} is a damaged .npz archive ({exc}): save it again with numpy.savez"
        ) from None
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise DataError(
                f"{name} holds Python objects, not plain numbers: save it with numeric arrays only"
            ) from None
        raise DataError(
            f"{name} is not a valid NumPy file ({exc}): save it with numpy.save or numpy.savez"
        ) from None
    except (OSError, EOFError) as exc:
        raise DataError(
            f"{name} cannot be read as NumPy data ({exc}): save it with numpy.save or numpy.savez"
        ) from None


def _layout_of(x: np.ndarray, name: str) -> str:
    layouts = {2: "table", 3: "sequence", 4: "image"}
    if x.ndim not in layouts:
        raise DataError(
            f"{name}: array of shape {x.shape} has {x.ndim} dimensions; expected "
            "(N, F) table, (N, T, F) sequences or (N, C, H, W) images"
        )
    return layouts[x.ndim]


def _from_arrays(
    x: np.ndarray, y: np.ndarray | None, spec: dict[str, Any], name: str, y_name: str
) -> RawData:
    if x.dtype.kind not in "biuf":
        raise DataError(
            f"{name}: features have dtype {x.dtype}, not numbers: save numeric "
            "arrays (use CSV for text columns)"
        )
    if x.ndim == 1:
        x = x.reshape(-1, 1)
    if len(x) == 0:
        raise DataError(f"{name} has no rows: the first dimension of the array is 0")
    layout = _layout_of(x, name)
    task = spec["task"]
    if task == "unsupervised":
        y = None
    if y is None:
        if task not in (None, "unsupervised"):
            raise DataError(
                f"{name}: task is {task!r} but no target was given: set "
                "'target_path'/'y_key', or 'target': 'last'"
            )
        task = "unsupervised"
    else:
        if len(y) != len(x):
            raise DataError(
                f"{y_name} has {len(y)} targets but {name} has {len(x)} samples: "
                "give one target per sample"
            )
        if y.dtype.kind not in "biufUS":
            raise DataError(
                f"{y_name}: targets have dtype {y.dtype}; expected numbers or class-name strings"
            )
        task = task or infer_task(y)
        if task == "regression":
            if y.dtype.kind not in "biuf":
                raise DataError(
                    f"{y_name}: text targets cannot be regressed: set task to classification"
                )
            y = y.astype(np.float32).reshape(len(y), -1)
        elif task == "classification":
            y = y.reshape(len(y), -1)
            if y.shape[1] != 1:
                raise DataError(
                    f"{y_name}: class targets must be one label per sample, got "
                    f"shape {y.shape}: give a 1-D array of labels"
                )
            y = y[:, 0]
            check_class_labels(y, y_name)
        else:
            raise DataError(
                f"{name}: task 'forecast' is only for the builtin series; "
                "use regression with your own windows"
            )
    columns = [f"x{i}" for i in range(x.shape[1])] if layout == "table" else None
    return RawData(x.astype(np.float64), y, task, layout, name, columns=columns)


def npy_targets(
    spec: dict[str, Any], base_dir: Path | None, n: int
) -> tuple[np.ndarray | None, str]:
    """(targets, task) of an ``.npy`` source whose features stream from a memory map: from
    ``target_path`` (loaded whole: one value per sample) or the last column, checked as
    :func:`load_npy` checks them."""
    name = spec["path"]
    x_stub = np.zeros((n, 1))
    if spec["target_path"]:
        y = _load_array(spec["target_path"], base_dir)
        raw = _from_arrays(x_stub, y, spec, name, spec["target_path"])
    elif spec["target"] == "last":
        mm = np.load(resolve(name, base_dir), mmap_mode="r", allow_pickle=False)
        raw = _from_arrays(x_stub, np.asarray(mm[:, -1]), spec, name, name)
    else:
        raw = _from_arrays(x_stub, None, spec, name, name)
    return raw.y, raw.task


def load_npy(spec: dict[str, Any], base_dir: Path | None) -> RawData:
    """Features from ``path``; targets from ``target_path`` or the last column."""
    name = spec["path"]
    x = _load_array(name, base_dir)
    y = None
    y_name = name
    if spec["target_path"]:
        y_name = spec["target_path"]
        y = _load_array(y_name, base_dir)
    elif spec["target"] == "last":
        if x.ndim != 2 or x.shape[1] < 2:
            raise DataError(
                f"{name}: 'target': 'last' needs a 2-D array with at least two "
                f"columns, got shape {x.shape}"
            )
        x, y = x[:, :-1], x[:, -1]
    return _from_arrays(x, y, spec, name, y_name)


def load_npz(spec: dict[str, Any], base_dir: Path | None) -> RawData:
    """Features and targets from two keys of one ``.npz`` archive."""
    name = spec["path"]
    archive = _load_array(name, base_dir)
    if not hasattr(archive, "files"):
        raise DataError(f"{name} is a single .npy array, not an .npz archive: use source 'npy'")
    with archive:
        keys = list(archive.files)
        for role in ("x_key", "y_key"):
            key = spec[role]
            if key is not None and key not in keys:
                extra = " or to null for data without targets" if role == "y_key" else ""
                raise DataError(
                    f"{name} has no array {key!r}; it has: {', '.join(keys)}: set "
                    f"{role} to one of them{extra}"
                )
        try:
            x = archive[spec["x_key"]]
            y = archive[spec["y_key"]] if spec["y_key"] is not None else None
        except ValueError as exc:
            if "pickle" not in str(exc).lower():
                raise DataError(
                    f"{name}: a member is not a valid NumPy array ({exc}): save it "
                    "again with numpy.savez"
                ) from None
            raise DataError(
                f"{name} holds Python objects, not plain numbers: save it with numeric arrays only"
            ) from None
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError) as exc:
            raise DataError(
                f"{name} is a damaged .npz archive ({exc}): save it again with numpy.savez"
            ) from None
    return _from_arrays(x, y, spec, name, f"{name}[{spec['y_key']!r}]")


# --------------------------------------------------------------------------- images
#: Pillow modes whose values fit 8 bits, so converting them to grayscale or RGB loses nothing.
EIGHT_BIT_MODES = frozenset({"1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBX", "RGBa"})
EIGHT_BIT_MODES |= {"CMYK", "YCbCr", "LAB", "HSV"}


@dataclass
class ImageListing:
    """The files of an image folder in load order (class by class, sorted by name)."""

    origin: str  # "image folder 'name'" for messages and descriptions
    paths: list[str]
    names: list[str]  # "folder/class/file.png" as the user wrote the folder
    labels: list[int]
    class_names: list[str]
    first_size: tuple[int, int] = (0, 0)  # (height, width) of the first image


def list_image_folder(spec: dict[str, Any], base_dir: Path | None) -> ImageListing:
    """The images of a folder with one sub-folder per class (nothing is decoded; with
    ``size`` null the first image's header gives the size every image must have).

    A class with a single image is refused when the data is split with stratification (it
    cannot be in both the training and the validation split): the line names the class folder
    and the fix."""
    name = spec["path"].rstrip("/\\") or spec["path"]
    root = resolve(spec["path"], base_dir, "folder")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(
            f"image folder '{name}' has no class sub-folders: put each class's "
            "images in its own sub-folder (e.g. cats/, dogs/)"
        )
    split = spec.get("split") or {}
    splits = (split.get("val", 0) > 0 or split.get("test", 0) > 0) and split.get("stratify", True)
    listing = ImageListing(f"image folder '{name}'", [], [], [], [c.name for c in classes])
    for label, folder in enumerate(classes):
        files = sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise DataError(
                f"class folder '{name}/{folder.name}' has no images "
                f"({', '.join(IMAGE_SUFFIXES)}): add images or remove the folder"
            )
        if len(files) == 1 and splits and spec.get("task") != "unsupervised":
            raise DataError(
                f"class folder '{name}/{folder.name}' has only one image ({files[0].name}), "
                "so it cannot be in both the training and the validation split: add images "
                "to it, remove the folder, or set split.stratify to false"
            )
        listing.paths += [str(f) for f in files]
        listing.names += [f"{name}/{folder.name}/{f.name}" for f in files]
        listing.labels += [label] * len(files)
    if spec.get("size", [1, 1]) is None:
        listing.first_size = _header(Path(listing.paths[0]), listing.names[0])[0]
    return listing


def image_task(spec: dict[str, Any], origin: str) -> str:
    """The task of an image folder: classification, or unsupervised when asked."""
    if spec["task"] not in (None, "classification", "unsupervised"):
        raise DataError(
            f"{origin}: task {spec['task']!r} is not possible; use classification or unsupervised"
        )
    return "unsupervised" if spec["task"] == "unsupervised" else "classification"


def _header(path: Path, name: str) -> tuple[tuple[int, int], str]:
    """((height, width), mode) from an image's header (its pixels are not decoded)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            return (img.height, img.width), img.mode
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        reason = str(exc).split(":")[0] or type(exc).__name__
        raise DataError(
            f"image '{name}' cannot be decoded ({reason}): replace or delete it"
        ) from None


def check_image_headers(
    listing: ImageListing, spec: dict[str, Any], should_stop: ShouldStop = None, limit: int = 0
) -> None:
    """Check images' headers before anything is decoded (``limit`` spread over the folder, 0
    for all): each must open, have 8-bit values (a 16-bit or float image would be clipped)
    and, when ``size`` is null, the size of the first image. One line names the file."""
    n = len(listing.paths)
    picks = range(n) if not limit or n <= limit else np.linspace(0, n - 1, limit).astype(int)
    for k, i in enumerate(picks):
        if k % IMAGE_CHUNK == 0:
            check_cancel(should_stop)
        size, mode = _header(Path(listing.paths[i]), listing.names[i])
        _check_mode(mode, listing.names[i])
        if spec["size"] is None and size != listing.first_size:
            raise DataError(_size_line(listing.names[i], size, listing.first_size))


def _check_mode(mode: str, name: str) -> None:
    if mode not in EIGHT_BIT_MODES:
        raise DataError(
            f"image '{name}' has mode {mode} (16-bit or floating-point values) while "
            "images are read as 8-bit grayscale or RGB: save it as an 8-bit PNG or JPEG"
        )


def _size_line(name: str, size: tuple[int, int], first: tuple[int, int]) -> str:
    return (
        f"image '{name}' is {size[1]}×{size[0]} pixels but the first image is "
        f"{first[1]}×{first[0]}: resize it, or set the data's size (e.g. [28, 28]) "
        "to resize every image"
    )


def load_image_folder(
    spec: dict[str, Any], base_dir: Path | None, should_stop: ShouldStop = None
) -> RawData:
    """One sub-folder per class; images resized to ``size`` (kept as they are when ``size`` is
    null, then they must all agree) and scaled to [0, 1] as (C, H, W).

    ``should_stop()`` is asked every :data:`IMAGE_CHUNK` images (see :func:`load_csv`)."""
    listing = list_image_folder(spec, base_dir)
    task = image_task(spec, listing.origin)
    size = tuple(spec["size"]) if spec["size"] is not None else None
    mode = "L" if spec["color"] == "grayscale" else "RGB"
    images: list[np.ndarray] = []
    for k, (path, name) in enumerate(zip(listing.paths, listing.names, strict=True)):
        if k % IMAGE_CHUNK == 0:
            check_cancel(should_stop)
        arr = read_image(Path(path), f"image '{name}'", mode, size)
        if size is None and arr.shape[1:] != listing.first_size:
            raise DataError(_size_line(name, arr.shape[1:], listing.first_size))
        images.append(arr)
    return RawData(
        np.stack(images),
        np.array(listing.labels, dtype=np.int64) if task == "classification" else None,
        task,
        "image",
        listing.origin,
        class_names=listing.class_names,
    )


def read_image(path: Path, where: str, mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """One image as a float32 (C, H, W) array in [0, 1], converted to ``mode`` and resized to
    ``size`` (height, width; None keeps it); DataError naming ``where`` for a decompression
    bomb, a 16-bit image or a file that does not decode."""
    from PIL import Image, UnidentifiedImageError

    # Pillow only warns between its own limit and twice that: make it an error like above it.
    warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
    try:
        with Image.open(path) as img:
            if img.width * img.height > MAX_IMAGE_PIXELS:
                raise Image.DecompressionBombError(f"{img.width}×{img.height}")
            _check_mode(img.mode, where.removeprefix("image ").strip("'"))
            img = img.convert(mode)
            if size is not None:
                img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            arr = np.asarray(img, dtype=np.float32) / 255.0
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(
            f"{where} has more than {MAX_IMAGE_PIXELS:,} pixels (a "
            "decompression bomb?): shrink it or delete it"
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        reason = str(exc).split(":")[0] or type(exc).__name__
        raise DataError(f"{where} cannot be decoded ({reason}): replace or delete it") from None
    return arr[None] if mode == "L" else arr.transpose(2, 0, 1)
