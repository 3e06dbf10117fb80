"""From a ``data`` spec to train/val/test arrays: load, clean, split, fit preprocessing on train.

:func:`prepare_data` is the one entry point the trainer, the CLI and the GUI use;
:func:`check_input_shape` tells a user when the data and the design's Input node disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from engine.data.builtin import load_builtin
from engine.data.importers import load_csv, load_image_folder, load_npy, load_npz
from engine.data.preprocess import Preprocessor
from engine.data.raw import RawData
from engine.data.spec import normalize_spec
from engine.errors import DataError, check_cancel

_LOADERS = {"csv": load_csv, "npy": load_npy, "npz": load_npz, "image_folder": load_image_folder}
#: Loaders that look at ``should_stop`` while they read (the others read in one call).
_STOPPABLE = ("csv", "image_folder")
#: Sources that stream from disk when larger than the memory budget (engine.data.streaming).
_STREAMABLE = ("image_folder", "npy")
#: Per-sample shapes of the digits forms, used to suggest a form when the Input disagrees.
_DIGITS_FORM_SHAPES = {(64,): "flat", (1, 8, 8): "image", (8, 8): "sequence"}
#: Samples transformed at a time (bounds the preprocessing's float64 working copy).
_TRANSFORM_ROWS = 8192


@dataclass
class PreparedData:
    """Split, preprocessed arrays ready for training, plus what the GUI and export need.

    ``x_*`` are float32 ``(N, *input_shape)``; class targets are int64 ``(N,)``; regression and
    forecast targets float32 ``(N, k)``; ``y_*`` are ``None`` for unsupervised data. The test
    split may have 0 rows. ``spec`` is the normalized data spec (every default filled in).
    """

    x_train: np.ndarray
    y_train: np.ndarray | None
    x_val: np.ndarray
    y_val: np.ndarray | None
    x_test: np.ndarray
    y_test: np.ndarray | None
    task: str
    input_shape: tuple[int, ...]
    target_shape: tuple[int, ...]
    num_classes: int | None
    class_names: list[str] | None
    feature_names: list[str] | None
    preprocessor: Preprocessor
    description: str
    spec: dict[str, Any] = field(default_factory=dict)
    #: How an image folder or .npy is held, for the Data panel: "resident: 1,797 images ≈
    #: 7.4 MB ≤ budget 2 GB" or "streams from disk: …" (engine.data.streaming); "" otherwise.
    storage: str = ""


def prepare_data(
    spec: dict[str, Any],
    base_dir: str | Path | None = None,
    seed: int = 0,
    should_stop: Callable[[], bool] | None = None,
    fitted: Preprocessor | None = None,
    on_raw: Callable[[RawData], None] | None = None,
) -> PreparedData:
    """Load the data a spec describes, split it with ``seed`` and fit preprocessing on train.

    ``fitted`` (a checkpoint's saved preprocessing) is applied instead of fitting a new one, so
    evaluating a trained model sees exactly the numbers it was trained on.

    Paths in the spec are relative to ``base_dir`` (the design file's folder). Raises
    :class:`DataError` for anything wrong with the spec or the data. ``should_stop()`` is asked
    between chunks of a CSV or image folder and between the preparation steps; when it returns
    True, :class:`~engine.errors.Cancelled` ends the work (a Stop click, a closing window).
    ``on_raw(raw)`` sees the data as loaded, before cleaning (the data panel's pictures).
    """
    spec = normalize_spec(spec)
    base = Path(base_dir) if base_dir is not None else None
    if spec["source"] == "builtin":
        raw = load_builtin(spec, seed, should_stop)
        wanted = spec["task"]
        if wanted not in (None, raw.task, "unsupervised"):
            raise DataError(
                f"data spec: task {wanted!r} does not fit {spec['name']}, which is "
                f"{raw.task}; allowed: {raw.task} | unsupervised"
            )
        if wanted == "unsupervised" and raw.task != "forecast":
            raw.task, raw.y = "unsupervised", None
    elif spec["source"] in _STREAMABLE and getattr(plan := _plan(spec, base), "stream", False):
        from engine.data.streaming import prepare_streaming

        data = prepare_streaming(spec, base, seed, should_stop, fitted)
        data.storage = plan.line()
        return data
    elif spec["source"] in _STOPPABLE:
        raw = _LOADERS[spec["source"]](spec, base, should_stop)
    else:
        raw = _LOADERS[spec["source"]](spec, base)
    if on_raw is not None:
        on_raw(raw)
    check_cancel(should_stop)
    if raw.task == "forecast":
        return _prepare_forecast(raw, spec, seed, should_stop, fitted)
    data = _prepare_samples(raw, spec, seed, should_stop, fitted)
    if spec["source"] in _STREAMABLE and plan is not None:
        data.storage = plan.line()
    return data


def _plan(spec: dict[str, Any], base: Path | None) -> Any:
    """Whether this image folder or .npy streams from disk (see engine.data.streaming); None
    for an .npy that cannot be memory-mapped (the resident loader then names the problem)."""
    from engine.data.streaming import plan_for

    return plan_for(spec, base)


def _row_name(raw: RawData, i: int) -> str:
    return raw.row_labels[i] if raw.row_labels else f"sample {i}"


def _clean_missing(raw: RawData, impute: str) -> RawData:
    """Drop rows with missing values (``drop``) or refuse them (``none``) naming row and column."""
    n = len(raw.x)
    missing = np.zeros(raw.x.shape, dtype=bool)
    if raw.x.dtype == object:
        for k in range(raw.x.shape[1]):
            col = raw.x[:, k]
            missing[:, k] = (col == "") if k in raw.categorical else np.isnan(col.astype(float))
    else:
        missing = np.isnan(raw.x)
    per_row = missing.reshape(n, -1).any(axis=1)
    if not per_row.any() or impute in ("mean", "median", "most_frequent"):
        return raw
    if impute == "none":
        i = int(np.argmax(per_row))
        where = ""
        if raw.columns is not None:
            where = f", column {raw.columns[int(np.argmax(missing[i]))]!r}"
        raise DataError(
            f"{raw.origin} {_row_name(raw, i)}{where}: value is missing: fill it in, "
            "or set preprocess.impute to mean, median, most_frequent or drop"
        )
    keep = ~per_row
    if not keep.any():
        raise DataError(
            f"{raw.origin}: every row has a missing value, so 'drop' leaves no rows: "
            "use preprocess.impute mean, median or most_frequent"
        )
    if raw.test_start is not None:
        raw.test_start = int(keep[: raw.test_start].sum())
    raw.x = raw.x[keep]
    raw.y = raw.y[keep] if raw.y is not None else None
    if raw.row_labels:
        raw.row_labels = [r for r, k in zip(raw.row_labels, keep, strict=True) if k]
    return raw


def encode_labels(y: np.ndarray, origin: str) -> tuple[np.ndarray, list[str]]:
    """Label-encode class targets with scikit-learn; numbers sort numerically (2 before 10)."""
    from sklearn.preprocessing import LabelEncoder

    if y.dtype.kind == "f" and np.all(np.mod(y, 1) == 0):
        y = y.astype(np.int64)
    if y.dtype.kind in "biu":
        enc = LabelEncoder().fit(y)
    else:
        y = np.asarray([str(v) for v in y], dtype=object)
        enc = LabelEncoder().fit(y)
    names = [str(c) for c in enc.classes_]
    if len(names) < 2:
        raise DataError(
            f"{origin}: the target has only one class ({names[0]!r}): "
            "classification needs at least two classes"
        )
    return enc.transform(y).astype(np.int64), names


def split_indices(
    n: int,
    labels: np.ndarray | None,
    val: float,
    test: float,
    stratify: bool,
    seed: int,
    origin: str = "data",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shuffled train/val/test index arrays; stratified by ``labels`` when given and asked."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    strat = labels if (stratify and labels is not None) else None
    empty = np.zeros(0, dtype=np.int64)
    try:
        rest, test_idx = (
            train_test_split(idx, test_size=test, random_state=seed, stratify=strat)
            if test > 0
            else (idx, empty)
        )
        if val > 0:
            strat_rest = strat[rest] if strat is not None else None
            train_idx, val_idx = train_test_split(
                rest, test_size=val / (1.0 - test), random_state=seed, stratify=strat_rest
            )
        else:
            train_idx, val_idx = rest, empty
    except ValueError as exc:
        detail = str(exc).split(". ")[0].rstrip(".")
        fix = (
            (
                "add samples of the rarest class, change split.val/split.test, or set "
                "split.stratify to false"
            )
            if strat is not None
            else "add samples or lower split.val/split.test"
        )
        raise DataError(f"{origin}: cannot split {n} samples ({detail}): {fix}") from None
    if len(train_idx) == 0:
        raise DataError(
            f"{origin}: no training samples left after the split: lower "
            "split.val/split.test or add data"
        )
    return (
        np.asarray(train_idx, dtype=np.int64),
        np.asarray(val_idx, dtype=np.int64),
        np.asarray(test_idx, dtype=np.int64),
    )


def _split(
    raw: RawData, labels: np.ndarray | None, split: dict[str, Any], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/val/test indices: shuffled by ``split``, or the source's own test set as test."""
    if raw.test_start is not None:
        return _split_own_test(raw, labels, split, seed)
    return split_indices(
        len(raw.x), labels, split["val"], split["test"], split["stratify"], seed, raw.origin
    )


def _transform(
    pre: Preprocessor, x: np.ndarray, ix: np.ndarray, should_stop: Callable[[], bool] | None
) -> np.ndarray:
    """``pre.transform(x[ix])`` in chunks, so a large image set never has a float64 working
    copy of a whole split at once (and a Stop is honoured between chunks)."""
    check_cancel(should_stop)
    out = np.empty((len(ix), *pre.output_shape), np.float32)
    for a in range(0, len(ix), _TRANSFORM_ROWS):
        out[a : a + _TRANSFORM_ROWS] = pre.transform(x[ix[a : a + _TRANSFORM_ROWS]])
        check_cancel(should_stop)
    return out


def _split_own_test(
    raw: RawData, labels: np.ndarray | None, split: dict[str, Any], seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A source with its own test set: that set is the test split (``split.test`` must be 0);
    train and val are split from the samples before it with ``split.val``."""
    start = int(raw.test_start)
    if split["test"] > 0:
        raise DataError(
            f"data spec: split.test is {split['test']:g}, but {raw.origin} brings its own test "
            f"set ({len(raw.x) - start} samples), which is the test split: set split.test to 0"
        )
    head = labels[:start] if labels is not None else None
    tr, va, _ = split_indices(start, head, split["val"], 0.0, split["stratify"], seed, raw.origin)
    return tr, va, np.arange(start, len(raw.x), dtype=np.int64)


def _describe(origin: str, n_train: int, n_val: int, n_test: int) -> str:
    text = f"{origin}: {n_train} train / {n_val} val"
    return text + (f" / {n_test} test samples" if n_test else " samples")


def _prepare_samples(
    raw: RawData,
    spec: dict[str, Any],
    seed: int,
    should_stop: Callable[[], bool] | None = None,
    fitted: Preprocessor | None = None,
) -> PreparedData:
    pre_spec, split = spec["preprocess"], spec["split"]
    raw = _clean_missing(raw, pre_spec["impute"])
    check_cancel(should_stop)
    y, class_names = raw.y, raw.class_names
    if raw.task == "classification" and class_names is None:
        y, class_names = encode_labels(y, raw.origin)
    labels = y if raw.task == "classification" else None
    check_cancel(should_stop)
    tr, va, te = _split(raw, labels, split, seed)
    check_cancel(should_stop)
    if fitted is not None:
        pre = fitted
    else:
        pre = Preprocessor(
            pre_spec,
            raw.layout,
            raw.columns,
            raw.categorical,
            class_names if raw.task == "classification" else None,
        )
        pre.fit(raw.x[tr])

    def part(ix: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return _transform(pre, raw.x, ix, should_stop), (y[ix] if y is not None else None)

    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = part(tr), part(va), part(te)
    if raw.task == "classification":
        target_shape: tuple[int, ...] = ()
    elif raw.task == "regression":
        target_shape = tuple(int(d) for d in y.shape[1:])
    else:
        target_shape = ()
    return PreparedData(
        x_tr,
        y_tr,
        x_va,
        y_va,
        x_te,
        y_te,
        raw.task,
        tuple(pre.output_shape),
        target_shape,
        len(class_names) if raw.task == "classification" else None,
        class_names if raw.task == "classification" else None,
        pre.feature_names,
        pre,
        _describe(raw.origin, len(tr), len(va), len(te)),
        spec,
    )


def _windows(series: np.ndarray, window: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """Cut ``(T, S)`` into inputs ``(n, window, S)`` and targets ``(n, horizon * S)``."""
    n = len(series) - window - horizon + 1
    if n <= 0:
        return (
            np.zeros((0, window, series.shape[1])),
            np.zeros((0, horizon * series.shape[1]), np.float32),
        )
    view = np.lib.stride_tricks.sliding_window_view(series, window + horizon, axis=0)
    view = view.transpose(0, 2, 1)  # (n, window + horizon, S)
    return (
        np.ascontiguousarray(view[:, :window]),
        view[:, window:].reshape(n, -1).astype(np.float32),
    )


def _prepare_forecast(
    raw: RawData,
    spec: dict[str, Any],
    seed: int,
    should_stop: Callable[[], bool] | None = None,
    fitted: Preprocessor | None = None,
) -> PreparedData:
    """Split the series in time order (train, then val, then test), then cut windows."""
    series, split = raw.series, spec["split"]
    t = len(series)
    a = int(round(t * (1.0 - split["val"] - split["test"])))
    b = int(round(t * (1.0 - split["test"])))
    parts = {"train": series[:a], "val": series[a:b], "test": series[b:]}
    need = raw.window + raw.horizon
    for name, seg in parts.items():
        frac = split[name] if name != "train" else 1.0
        if frac > 0 and len(seg) < need:
            raise DataError(
                f"{raw.origin}: the {name} part of the series has {len(seg)} steps, "
                f"fewer than window + horizon = {need}: lower options.window/horizon "
                f"or raise options.n_steps"
            )
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = (
        _windows(parts[k], raw.window, raw.horizon) for k in ("train", "val", "test")
    )
    check_cancel(should_stop)
    pre = fitted if fitted is not None else Preprocessor(spec["preprocess"], "sequence").fit(x_tr)

    def tf(x: np.ndarray) -> np.ndarray:
        return pre.transform(x) if len(x) else x.astype(np.float32)

    n_series = series.shape[1]
    origin = f"{raw.origin} (window {raw.window}, horizon {raw.horizon}, {n_series} series)"
    return PreparedData(
        tf(x_tr),
        y_tr,
        tf(x_va),
        y_va,
        tf(x_te),
        y_te,
        "forecast",
        (raw.window, n_series),
        (raw.horizon * n_series,),
        None,
        None,
        None,
        pre,
        _describe(origin, len(x_tr), len(x_va), len(x_te)),
        spec,
    )


def check_input_shape(data: PreparedData, expected: tuple[int | None, ...], node_id: str) -> None:
    """Raise :class:`DataError` when the data's per-sample shape differs from the Input node's.

    ``None`` or ``-1`` in ``expected`` matches any size (e.g. a free sequence length).
    """
    expected = tuple(expected)
    got = tuple(data.input_shape)
    if len(got) == len(expected) and all(
        e in (None, -1) or e == g for e, g in zip(expected, got, strict=True)
    ):
        return
    shown = (
        "("
        + ", ".join("?" if e in (None, -1) else str(e) for e in expected)
        + ("," if len(expected) == 1 else "")
        + ")"
    )
    fix = f"change the Input shape to {got}"
    form = _DIGITS_FORM_SHAPES.get(expected)
    if form and data.spec.get("source") == "builtin" and data.spec.get("name") == "digits":
        fix = f"set data form to {form!r} or change the Input shape"
    elif len(got) == 1 and len(expected) > 1 and np.prod(expected) == got[0]:
        fix = f"change the Input shape to {got}, or load the data as {len(expected)}-D samples"
    raise DataError(
        f"data gives samples of shape {got} but the design's Input {node_id!r} "
        f"expects {shown}: {fix}"
    )
