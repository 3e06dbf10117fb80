"""The ``data`` section of a design file: schema, defaults and validation.

:func:`normalize_spec` checks a user-written spec and returns a complete copy with every default
filled in, so the loaders never have to guess. Every mistake becomes one :class:`DataError` line
that names the key and lists the allowed values.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.errors import DataError

SOURCES = ("builtin", "csv", "npy", "npz", "image_folder")
TASKS = ("classification", "regression", "forecast", "unsupervised")
SCALES = ("none", "standard", "minmax")
IMPUTES = ("none", "mean", "median", "most_frequent", "drop")
OUTLIERS = ("none", "zscore", "iqr")
COLORS = ("grayscale", "rgb")

#: Default outlier thresholds: 3 standard deviations, or Tukey's 1.5 × IQR fences.
DEFAULT_OUTLIER_THRESHOLD = {"zscore": 3.0, "iqr": 1.5, "none": 3.0}

_COMMON_KEYS = ("source", "task", "split", "preprocess")
_SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "builtin": ("name", "form", "options"),
    "csv": ("path", "target", "features", "categorical", "delimiter"),
    "npy": ("path", "target_path", "target"),
    "npz": ("path", "x_key", "y_key"),
    "image_folder": ("path", "size", "color"),
}
_SPLIT_DEFAULTS: dict[str, Any] = {"val": 0.2, "test": 0.0, "stratify": True}
_PREPROCESS_DEFAULTS: dict[str, Any] = {
    "scale": "none",
    "impute": "none",
    "outliers": "none",
    "outlier_threshold": None,  # filled from DEFAULT_OUTLIER_THRESHOLD
    "smooth_window": 0,
}


def _fail(key: str, problem: str, allowed: str) -> DataError:
    return DataError(f"data spec: {key} {problem}; allowed: {allowed}")


def _check_keys(section: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in section:
        if key not in allowed:
            raise _fail(f"{where}{key}" if where else repr(key), "is not a known key",
                        ", ".join(allowed))


def _choice(value: Any, choices: tuple[str, ...], key: str) -> str:
    if value not in choices:
        raise _fail(key, f"is {value!r}", " | ".join(choices))
    return value


def _number(value: Any, key: str, low: float, high: float, integer: bool = False) -> float | int:
    ok_type = isinstance(value, int) if integer else isinstance(value, int | float)
    if isinstance(value, bool) or not ok_type or not low <= value <= high:
        kind = "an integer" if integer else "a number"
        raise _fail(key, f"is {value!r}", f"{kind} from {low:g} to {high:g}")
    return value


def _str_list(value: Any, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(key, f"is {value!r}", "a list of column names")
    return list(value)


def _path(spec: dict[str, Any], key: str = "path") -> str:
    value = spec.get(key)
    if not isinstance(value, str) or not value:
        raise _fail(f"{key!r}", f"is {value!r}" if key in spec else "is missing",
                    "a file or folder path relative to the design file")
    return value


def normalize_spec(spec: Any) -> dict[str, Any]:
    """Validate a ``data`` spec and return a deep copy with all defaults filled in.

    Builtin dataset names, forms and options are checked later by :mod:`engine.data.builtin`,
    which knows each dataset's own option list.
    """
    if not isinstance(spec, dict):
        raise DataError(f"data spec must be an object like {{\"source\": \"builtin\", "
                        f"\"name\": \"digits\"}}, got {type(spec).__name__}")
    out = copy.deepcopy(spec)
    source = _choice(out.get("source"), SOURCES, "'source'")
    _check_keys(out, _COMMON_KEYS + _SOURCE_KEYS[source], "")
    if out.get("task") is not None:
        _choice(out["task"], TASKS, "'task'")
    out.setdefault("task", None)

    split = out.get("split") or {}
    if not isinstance(split, dict):
        raise _fail("'split'", f"is {split!r}", 'an object like {"val": 0.2, "test": 0.0}')
    _check_keys(split, tuple(_SPLIT_DEFAULTS), "split.")
    split = {**_SPLIT_DEFAULTS, **split}
    _number(split["val"], "split.val", 0.0, 0.9)
    _number(split["test"], "split.test", 0.0, 0.9)
    if split["val"] + split["test"] > 0.9:
        raise _fail("split.val + split.test", f"is {split['val'] + split['test']:g}",
                    "at most 0.9 so that training keeps some samples")
    if not isinstance(split["stratify"], bool):
        raise _fail("split.stratify", f"is {split['stratify']!r}", "true | false")
    out["split"] = split

    pre = out.get("preprocess") or {}
    if not isinstance(pre, dict):
        raise _fail("'preprocess'", f"is {pre!r}", 'an object like {"scale": "standard"}')
    _check_keys(pre, tuple(_PREPROCESS_DEFAULTS), "preprocess.")
    pre = {**_PREPROCESS_DEFAULTS, **pre}
    _choice(pre["scale"], SCALES, "preprocess.scale")
    _choice(pre["impute"], IMPUTES, "preprocess.impute")
    _choice(pre["outliers"], OUTLIERS, "preprocess.outliers")
    if pre["outlier_threshold"] is None:
        pre["outlier_threshold"] = DEFAULT_OUTLIER_THRESHOLD[pre["outliers"]]
    pre["outlier_threshold"] = float(
        _number(pre["outlier_threshold"], "preprocess.outlier_threshold", 0.1, 100.0))
    _number(pre["smooth_window"], "preprocess.smooth_window", 0, 1000, integer=True)
    out["preprocess"] = pre

    if source == "builtin":
        if not isinstance(out.get("name"), str):
            raise _fail("'name'", "is missing" if "name" not in out else f"is {out['name']!r}",
                        "a builtin dataset name (see BUILTIN_DATASETS)")
        out.setdefault("form", None)
        opts = out.get("options") or {}
        if not isinstance(opts, dict):
            raise _fail("'options'", f"is {opts!r}", 'an object like {"n_samples": 1000}')
        out["options"] = opts
    elif source == "csv":
        _path(out)
        target = out.get("target")
        if target is not None and not isinstance(target, str):
            raise _fail("'target'", f"is {target!r}", "a column name")
        if target is None and out["task"] not in (None, "unsupervised"):
            raise _fail("'target'", "is missing", "the name of the column to predict")
        out.setdefault("target", None)
        out["features"] = None if out.get("features") is None else _str_list(
            out["features"], "'features'")
        if out["features"] == []:  # None means every column but the target
            raise DataError(f"{out['path']}: no feature columns chosen: check at least one "
                            "column besides the target")
        out["categorical"] = _str_list(out.get("categorical") or [], "'categorical'")
        delim = out.setdefault("delimiter", ",")
        if not isinstance(delim, str) or len(delim) != 1:
            raise _fail("'delimiter'", f"is {delim!r}", 'one character such as "," or ";"')
    elif source == "npy":
        _path(out)
        if out.get("target_path") is not None:
            _path(out, "target_path")
        out.setdefault("target_path", None)
        out["target"] = _choice(out.get("target", "none"), ("none", "last"), "'target'")
        if out["target_path"] and out["target"] == "last":
            raise _fail("'target'", "is 'last' while 'target_path' is set", "only one of them")
    elif source == "npz":
        _path(out)
        for key, default in (("x_key", "x"), ("y_key", "y")):
            value = out.setdefault(key, default)
            if not (isinstance(value, str) or (key == "y_key" and value is None)):
                raise _fail(f"{key!r}", f"is {value!r}", "the name of an array in the .npz file")
    elif source == "image_folder":
        _path(out)
        size = out.setdefault("size", [28, 28])
        if (not isinstance(size, list | tuple) or len(size) != 2
                or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 4096
                           for s in size)):
            raise _fail("'size'", f"is {size!r}", "[height, width] in pixels, e.g. [28, 28]")
        out["size"] = [int(size[0]), int(size[1])]
        out["color"] = _choice(out.get("color", "grayscale"), COLORS, "'color'")
    return out
