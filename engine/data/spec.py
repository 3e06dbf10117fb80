"""The ``data`` section of a design file: schema, defaults and validation.

:func:`normalize_spec` checks a user-written spec and returns a complete copy with every default
filled in, so the loaders never have to guess. Every mistake becomes one :class:`DataError` line
that names the key and lists the allowed values.
"""

from __future__ import annotations

import copy
from typing import Any

from engine.data.augment_spec import normalize_augment
from engine.errors import DataError
from engine.schema import Choice, Flag, Listing, Number, Rule, Schema

SOURCES = ("builtin", "csv", "npy", "npz", "image_folder")
TASKS = ("classification", "regression", "forecast", "unsupervised")
SCALES = ("none", "standard", "minmax")
IMPUTES = ("none", "mean", "median", "most_frequent", "drop")
OUTLIERS = ("none", "zscore", "iqr")
COLORS = ("grayscale", "rgb")

#: Default outlier thresholds: 3 standard deviations, or Tukey's 1.5 × IQR fences.
DEFAULT_OUTLIER_THRESHOLD = {"zscore": 3.0, "iqr": 1.5, "none": 3.0}

_DATA = Listing(DataError, "data spec", quote_top=True)
_PATH_TEXT = "a file or folder path relative to the design file"


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _str_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _pixels(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 4096 for s in value)
    )


#: Every top-level field of the data section (each source allows the common ones and its own,
#: :data:`SOURCE_KEYS`); defaults filled in by :func:`normalize_spec`.
DATA = Schema(
    {
        "source": Choice(choices=SOURCES),
        "task": Choice(choices=TASKS),  # or null: the data's own task
        "split": Rule(
            test=lambda v: isinstance(v, dict), text='an object like {"val": 0.2, "test": 0.0}'
        ),
        "preprocess": Rule(
            test=lambda v: isinstance(v, dict), text='an object like {"scale": "standard"}'
        ),
        "augment": Rule(text='an object like {"steps": [{"op": "flip"}]}'),  # augment_spec
        # builtin (names, forms and options are checked by engine.data.builtin)
        "name": Rule(test=_is_str, text="a builtin dataset name (see BUILTIN_DATASETS)"),
        "form": Rule(default=None, test=lambda v: True, text="a form of the dataset"),
        "options": Rule(
            test=lambda v: isinstance(v, dict), text='an object like {"n_samples": 1000}'
        ),
        # files
        "path": Rule(test=lambda v: isinstance(v, str) and bool(v), text=_PATH_TEXT),
        "target_path": Rule(test=lambda v: isinstance(v, str) and bool(v), text=_PATH_TEXT),
        "target": Rule(test=_str_or_none, text="a column name"),  # npy: Choice none | last
        "features": Rule(
            default=None, test=lambda v: v is None or _str_list(v), text="a list of column names"
        ),
        "categorical": Rule(default=[], test=_str_list, text="a list of column names"),
        "delimiter": Rule(
            default=",",
            test=lambda v: isinstance(v, str) and len(v) == 1,
            text='one character such as "," or ";"',
        ),
        "x_key": Rule(default="x", test=_is_str, text="the name of an array in the .npz file"),
        "y_key": Rule(default="y", test=_str_or_none, text="the name of an array in the .npz file"),
        "size": Rule(
            default=[28, 28], test=_pixels, text="[height, width] in pixels, e.g. [28, 28]"
        ),
        "color": Choice(default="grayscale", choices=COLORS),
        # larger than memory (engine.data.streaming)
        "stream": Rule(
            default="auto",
            test=lambda v: v == "auto" or isinstance(v, bool),
            text='"auto", true (read from disk batch by batch) or false (load whole)',
        ),
        "memory_budget_mb": Number(default=None, low=1, high=10_000_000, integer=True),
        "workers": Number(default=None, low=0, high=64, integer=True),
    },
    _DATA,
)

_COMMON_KEYS = ("source", "task", "split", "preprocess", "augment")
#: The keys each source allows besides the common ones.
SOURCE_KEYS: dict[str, tuple[str, ...]] = {
    "builtin": ("name", "form", "options"),
    "csv": ("path", "target", "features", "categorical", "delimiter"),
    "npy": ("path", "target_path", "target", "stream", "memory_budget_mb", "workers"),
    "npz": ("path", "x_key", "y_key"),
    "image_folder": ("path", "size", "color", "stream", "memory_budget_mb", "workers"),
}
_NPY_TARGET = Choice(default="none", choices=("none", "last"))

SPLIT = Schema(
    {
        "val": Number(default=0.2, low=0.0, high=0.9),
        "test": Number(default=0.0, low=0.0, high=0.9),
        "stratify": Flag(default=True),
    },
    _DATA,
    path="split",
)

PREPROCESS = Schema(
    {
        "scale": Choice(default="none", choices=SCALES),
        "impute": Choice(default="none", choices=IMPUTES),
        "outliers": Choice(default="none", choices=OUTLIERS),
        "outlier_threshold": Number(default=None, low=0.1, high=100.0),  # from the outlier rule
        "smooth_window": Number(default=0, low=0, high=1000, integer=True),
    },
    _DATA,
    path="preprocess",
)


def _fail(key: str, problem: str, allowed: str) -> DataError:
    return _DATA.fail(key, problem, allowed)


def normalize_spec(spec: Any) -> dict[str, Any]:
    """Validate a ``data`` spec and return a deep copy with all defaults filled in.

    Builtin dataset names, forms and options are checked later by :mod:`engine.data.builtin`,
    which knows each dataset's own option list.
    """
    if not isinstance(spec, dict):
        raise DataError(
            f'data spec must be an object like {{"source": "builtin", '
            f'"name": "digits"}}, got {type(spec).__name__}'
        )
    out = copy.deepcopy(spec)
    source = DATA.get(out, "source", None)
    DATA.check_keys(out, _COMMON_KEYS + SOURCE_KEYS[source])
    if out.get("task") is not None:
        DATA.check("task", out["task"])
    out.setdefault("task", None)

    split = DATA.check("split", out.get("split") or {})
    SPLIT.check_keys(split)
    split = {**SPLIT.defaults(), **split}
    SPLIT.check("val", split["val"])
    SPLIT.check("test", split["test"])
    if split["val"] + split["test"] > 0.9:
        raise _fail(
            "split.val + split.test",
            f"is {split['val'] + split['test']:g}",
            "at most 0.9 so that training keeps some samples",
        )
    SPLIT.check("stratify", split["stratify"])
    out["split"] = split

    pre = DATA.check("preprocess", out.get("preprocess") or {})
    PREPROCESS.check_keys(pre)
    pre = {**PREPROCESS.defaults(), **pre}
    for key in ("scale", "impute", "outliers"):
        PREPROCESS.check(key, pre[key])
    if pre["outlier_threshold"] is None:
        pre["outlier_threshold"] = DEFAULT_OUTLIER_THRESHOLD[pre["outliers"]]
    pre["outlier_threshold"] = PREPROCESS.check("outlier_threshold", pre["outlier_threshold"])
    PREPROCESS.check("smooth_window", pre["smooth_window"])
    out["preprocess"] = pre
    if "augment" in out:  # absent stays absent: no augmentation, nothing to run
        out["augment"] = normalize_augment(out["augment"])
    _SOURCE_RULES[source](out)
    return out


def _builtin(out: dict[str, Any]) -> None:
    DATA.get(out, "name")
    out["form"] = DATA.get(out, "form")
    out["options"] = DATA.check("options", out.get("options") or {})


def _csv(out: dict[str, Any]) -> None:
    DATA.get(out, "path")
    target = DATA.get(out, "target", None)
    if target is None and out["task"] not in (None, "unsupervised"):
        raise _fail("'target'", "is missing", "the name of the column to predict")
    out["target"] = target
    out["features"] = DATA.get(out, "features")
    if out["features"] == []:  # None means every column but the target
        raise DataError(
            f"{out['path']}: no feature columns chosen: check at least one "
            "column besides the target"
        )
    out["categorical"] = list(DATA.check("categorical", out.get("categorical") or []))
    out["delimiter"] = DATA.get(out, "delimiter")


def _streaming(out: dict[str, Any]) -> None:
    """The larger-than-memory keys (engine.data.streaming): "stream", the budget, workers."""
    if "stream" in out:  # absent keys stay absent: the defaults are "auto" and the machine's
        out["stream"] = DATA.get(out, "stream")
    for key in ("memory_budget_mb", "workers"):
        if out.get(key) is not None:
            out[key] = int(DATA.get(out, key))


def _npy(out: dict[str, Any]) -> None:
    DATA.get(out, "path")
    _streaming(out)
    out["target_path"] = None if out.get("target_path") is None else DATA.get(out, "target_path")
    out["target"] = DATA.check("target", out.get("target", "none"), _NPY_TARGET)
    if out["target_path"] and out["target"] == "last":
        raise _fail("'target'", "is 'last' while 'target_path' is set", "only one of them")


def _npz(out: dict[str, Any]) -> None:
    DATA.get(out, "path")
    out["x_key"] = DATA.get(out, "x_key")
    out["y_key"] = DATA.get(out, "y_key")


def _image_folder(out: dict[str, Any]) -> None:
    DATA.get(out, "path")
    _streaming(out)
    if "size" in out and out["size"] is None:  # null: the files' own size (all the same)
        pass
    else:
        size = DATA.get(out, "size")
        out["size"] = [int(size[0]), int(size[1])]
    out["color"] = DATA.get(out, "color")


#: The checks and defaults of each source's own keys.
_SOURCE_RULES = {
    "builtin": _builtin,
    "csv": _csv,
    "npy": _npy,
    "npz": _npz,
    "image_folder": _image_folder,
}
