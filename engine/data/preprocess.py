"""Preprocessing fitted on the training split, saved as plain JSON-able state.

The pipeline, in order: impute missing values → smooth sequences (trailing moving average) →
clip outliers → scale; categorical table columns are one-hot encoded. Every statistic is fitted
with a scikit-learn transformer (``SimpleImputer``, ``StandardScaler``, ``MinMaxScaler``,
``OneHotEncoder``) on the training split only — except the IQR fences, which are the train
quartiles from ``numpy.percentile`` because scikit-learn has no clipping transformer.

After fitting, only the constants are kept, so :meth:`Preprocessor.state_dict` is lists of floats,
ints and strings that ``json.dumps`` and ``torch.load(weights_only=True)`` accept, and
:meth:`Preprocessor.transform` reapplies them with numpy, identically to the sklearn objects.

*Features* are the axis the statistics are per: table columns, the last axis of a sequence
``(T, F)``, the channel axis of an image ``(C, H, W)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.errors import DataError

LAYOUTS = ("table", "sequence", "image")
STATE_VERSION = 1


@dataclass(frozen=True)
class AffineParams:
    """Per-feature constants such that ``y = (clip(nan_to_value(x), low, high) - shift) / scale``.

    Arrays have one float32 entry per feature; ``feature_axis`` is the axis of the per-sample
    tensor the features lie on (-1 for tables and sequences, 0 for images ``(C, H, W)``).
    ``impute_value`` is NaN where missing values are not imputed; ``clip_low``/``clip_high`` are
    ±inf where nothing is clipped.
    """

    feature_axis: int
    impute_value: np.ndarray
    clip_low: np.ndarray
    clip_high: np.ndarray
    shift: np.ndarray
    scale: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Reference numpy implementation on a batch ``(N, *per_sample_shape)``."""
        axis = self.feature_axis if self.feature_axis < 0 else self.feature_axis + 1
        shape = [1] * x.ndim
        shape[axis] = -1

        def b(a: np.ndarray) -> np.ndarray:
            return a.reshape(shape)

        x = np.where(np.isnan(x), b(self.impute_value), x)
        x = np.clip(x, b(self.clip_low), b(self.clip_high))
        return ((x - b(self.shift)) / b(self.scale)).astype(np.float32)


def _floats(a: np.ndarray | None) -> list[float] | None:
    return None if a is None else [float(v) for v in np.asarray(a, dtype=np.float64).ravel()]


def _array(a: list[float] | None) -> np.ndarray | None:
    return None if a is None else np.asarray(a, dtype=np.float64)


def smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average along the time axis of ``(N, T, F)``; the first steps average the
    values seen so far, so no future value leaks into a step."""
    if window <= 1:
        return x
    csum = np.cumsum(np.nan_to_num(x, nan=0.0), axis=1, dtype=np.float64)
    shifted = np.zeros_like(csum)
    shifted[:, window:] = csum[:, :-window]
    counts = np.minimum(np.arange(1, x.shape[1] + 1), window).reshape(1, -1, 1)
    return (csum - shifted) / counts


class Preprocessor:
    """Fitted preprocessing of one dataset: fit on train, then transform any split or new sample.

    ``settings`` is the normalized ``preprocess`` section of the data spec. ``columns`` names the
    raw table columns (``None`` for sequences and images) and ``categorical`` lists the indices of
    the text columns among them. ``class_names`` travels with the state for the trainer and GUI.
    """

    def __init__(
        self,
        settings: dict[str, Any],
        layout: str = "table",
        columns: list[str] | None = None,
        categorical: list[int] | None = None,
        class_names: list[str] | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.settings = {
            "scale": settings.get("scale", "none"),
            "impute": settings.get("impute", "none"),
            "outliers": settings.get("outliers", "none"),
            "outlier_threshold": float(settings.get("outlier_threshold") or 3.0),
            "smooth_window": int(settings.get("smooth_window") or 0),
        }
        if self.settings["smooth_window"] > 1 and layout != "sequence":
            raise DataError(
                "preprocess.smooth_window only applies to sequence data (T, F): "
                "set it to 0 or use a sequence/forecast dataset"
            )
        self.layout = layout
        self.columns = list(columns) if columns is not None else None
        self.categorical = sorted(categorical or [])
        self.class_names = list(class_names) if class_names is not None else None
        self.sample_shape: tuple[int, ...] | None = None
        # fitted constants (per numeric feature)
        self.impute_values: np.ndarray | None = None
        self.clip_low: np.ndarray | None = None
        self.clip_high: np.ndarray | None = None
        self.shift: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.categories: list[list[str]] = []
        self.category_fill: list[str] = []

    # ----------------------------------------------------------------- shapes and names
    @property
    def fitted(self) -> bool:
        """True once :meth:`fit` has seen the training split."""
        return self.sample_shape is not None

    def _numeric_index(self) -> list[int]:
        n = self.sample_shape[-1] if self.layout == "table" else 0
        return [i for i in range(n) if i not in self.categorical]

    @property
    def output_shape(self) -> tuple[int, ...]:
        """Per-sample shape that :meth:`transform` returns."""
        assert self.sample_shape is not None, "fit() first"
        if self.layout != "table" or not self.categorical:
            return self.sample_shape
        width = len(self._numeric_index()) + sum(len(c) for c in self.categories)
        return (width,)

    @property
    def feature_names(self) -> list[str] | None:
        """Names of the output columns (one-hot columns read ``column=value``); tables only."""
        if self.columns is None:
            return None
        names: list[str] = []
        cat_pos = {c: k for k, c in enumerate(self.categorical)}
        for i, name in enumerate(self.columns):
            if i in cat_pos:
                names += [f"{name}={v}" for v in self.categories[cat_pos[i]]]
            else:
                names.append(name)
        return names

    def _feature_label(self, k: int) -> str:
        if self.layout == "table" and self.columns is not None:
            return repr(self.columns[self._numeric_index()[k]])
        return f"{'channel' if self.layout == 'image' else 'feature'} {k}"

    def _rows(self, x: np.ndarray) -> np.ndarray:
        """Numeric part as a 2-D (rows, features) float64 matrix."""
        if self.layout == "table":
            return np.asarray(x[:, self._numeric_index()], dtype=np.float64)
        if self.layout == "sequence":
            return np.asarray(x, dtype=np.float64).reshape(-1, x.shape[-1])
        return np.moveaxis(np.asarray(x, dtype=np.float64), 1, -1).reshape(-1, x.shape[1])

    def _unrows(self, rows: np.ndarray, like: np.ndarray) -> np.ndarray:
        if self.layout == "table":
            return rows
        if self.layout == "sequence":
            return rows.reshape(like.shape)
        moved = (like.shape[0], *like.shape[2:], like.shape[1])
        return np.moveaxis(rows.reshape(moved), -1, 1)

    # ----------------------------------------------------------------- fitting
    def fit(self, x_train: np.ndarray) -> Preprocessor:
        """Fit every statistic on the training samples ``(N, *sample_shape)`` with scikit-learn."""
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import MinMaxScaler, OneHotEncoder, StandardScaler

        if len(x_train) == 0:
            raise DataError(
                "the training split has no samples: lower split.val/split.test or add data"
            )
        self.sample_shape = tuple(int(d) for d in x_train.shape[1:])
        s = self.settings
        if self.categorical:
            cats = _text(x_train[:, self.categorical])
            if s["impute"] in ("mean", "median", "most_frequent"):
                imp = SimpleImputer(missing_values="", strategy="most_frequent")
                cats = imp.fit_transform(cats)
                self.category_fill = [str(v) for v in imp.statistics_]
            enc = OneHotEncoder(handle_unknown="ignore").fit(cats)
            self.categories = [[str(v) for v in c if v != ""] for c in enc.categories_]

        rows = self._rows(x_train)
        if rows.shape[1] == 0:
            return self
        if s["impute"] in ("mean", "median", "most_frequent"):
            imp = SimpleImputer(strategy=s["impute"], keep_empty_features=True)
            rows = imp.fit_transform(rows)
            self.impute_values = imp.statistics_.astype(np.float64)
        else:
            self._check_no_nan(rows, "training data", len(x_train))
        if s["smooth_window"] > 1:
            rows = self._rows(smooth(self._unrows(rows, x_train), s["smooth_window"]))
        k = s["outlier_threshold"]
        if s["outliers"] == "zscore":
            stats = StandardScaler().fit(rows)
            self.clip_low, self.clip_high = (
                stats.mean_ - k * stats.scale_,
                stats.mean_ + k * stats.scale_,
            )
        elif s["outliers"] == "iqr":
            q1, q3 = np.percentile(rows, [25.0, 75.0], axis=0)
            self.clip_low, self.clip_high = q1 - k * (q3 - q1), q3 + k * (q3 - q1)
        if self.clip_low is not None:
            rows = np.clip(rows, self.clip_low, self.clip_high)
        if s["scale"] == "standard":
            scaler = StandardScaler().fit(rows)
            self.shift, self.scale = scaler.mean_.copy(), scaler.scale_.copy()
        elif s["scale"] == "minmax":
            scaler = MinMaxScaler().fit(rows)
            # sklearn computes x * scale_ + min_  ==  (x - data_min_) / (1 / scale_)
            self.shift, self.scale = scaler.data_min_.copy(), 1.0 / scaler.scale_
        return self

    def _check_no_nan(self, rows: np.ndarray, where: str, n_samples: int) -> None:
        bad = np.argwhere(np.isnan(rows))
        if len(bad):
            r, f = bad[0]
            sample = int(r) // max(1, rows.shape[0] // max(1, n_samples))
            raise DataError(
                f"{where}: a value of {self._feature_label(int(f))} is missing (sample {sample}): "
                "set preprocess.impute to mean, median, most_frequent or drop"
            )

    # ----------------------------------------------------------------- applying
    def transform(self, x: np.ndarray) -> np.ndarray:
        """Apply the fitted preprocessing to a batch ``(N, *sample_shape)`` of raw samples.

        Table columns keep the raw order; a text column becomes its one-hot block in place
        (an unseen category gives all zeros). Returns float32.
        """
        if not self.fitted:
            raise RuntimeError("Preprocessor.transform() before fit()")
        x = np.asarray(x)
        if tuple(x.shape[1:]) != self.sample_shape:
            raise DataError(
                f"samples have shape {tuple(x.shape[1:])} but the preprocessing was "
                f"fitted on {self.sample_shape}: give data with the training shape"
            )
        s = self.settings
        rows = self._rows(x)
        if rows.shape[1]:
            if self.impute_values is not None:
                rows = np.where(np.isnan(rows), self.impute_values, rows)
            else:
                self._check_no_nan(rows, "data", len(x))
            if s["smooth_window"] > 1:
                rows = self._rows(smooth(self._unrows(rows, x), s["smooth_window"]))
            if self.clip_low is not None:
                rows = np.clip(rows, self.clip_low, self.clip_high)
            if self.shift is not None:
                rows = (rows - self.shift) / self.scale
        if self.layout != "table":
            return self._unrows(rows, x).astype(np.float32)
        if not self.categorical:
            return rows.astype(np.float32)
        blocks, num_k = [], 0
        cats = _text(x[:, self.categorical])
        for i in range(self.sample_shape[0]):
            if i in self.categorical:
                j = self.categorical.index(i)
                col = cats[:, j]
                if self.category_fill:
                    col = np.where(col == "", self.category_fill[j], col)
                elif (col == "").any():
                    raise DataError(
                        f"a value of column {self.columns[i]!r} is missing (sample "
                        f"{int(np.argmax(col == ''))}): set preprocess.impute to most_frequent "
                        "or drop"
                    )
                blocks.append(
                    (col[:, None] == np.asarray(self.categories[j], dtype=object)[None]).astype(
                        np.float64
                    )
                )
            else:
                blocks.append(rows[:, num_k : num_k + 1])
                num_k += 1
        return np.concatenate(blocks, axis=1).astype(np.float32)

    def affine_params(self) -> AffineParams | None:
        """The pipeline as per-feature affine constants for export, or ``None`` when it is not
        expressible that way (one-hot text columns, or smoothing across time steps)."""
        if not self.fitted or self.categorical or self.settings["smooth_window"] > 1:
            return None
        n = self.sample_shape[0] if self.layout == "image" else self.sample_shape[-1]

        def const(a: np.ndarray | None, fill: float) -> np.ndarray:
            return (np.full(n, fill) if a is None else a).astype(np.float32)

        return AffineParams(
            feature_axis=0 if self.layout == "image" else -1,
            impute_value=const(self.impute_values, np.nan),
            clip_low=const(self.clip_low, -np.inf),
            clip_high=const(self.clip_high, np.inf),
            shift=const(self.shift, 0.0),
            scale=const(self.scale, 1.0),
        )

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Plain-JSON state (no NaN, no pickles): restore it with :meth:`from_state`."""
        return {
            "version": STATE_VERSION,
            "layout": self.layout,
            "settings": dict(self.settings),
            "sample_shape": list(self.sample_shape) if self.sample_shape is not None else None,
            "columns": self.columns,
            "categorical": list(self.categorical),
            "categories": [list(c) for c in self.categories],
            "category_fill": list(self.category_fill),
            "class_names": self.class_names,
            "impute_values": _floats(self.impute_values),
            "clip_low": _floats(self.clip_low),
            "clip_high": _floats(self.clip_high),
            "shift": _floats(self.shift),
            "scale": _floats(self.scale),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`state_dict` output."""
        if not isinstance(state, dict) or state.get("version") != STATE_VERSION:
            version = state.get("version") if isinstance(state, dict) else None
            raise DataError(
                f"preprocessing state version {version!r} is not supported "
                f"(expected {STATE_VERSION}): retrain the model with this version"
            )
        pre = cls(
            state["settings"],
            state["layout"],
            state["columns"],
            state["categorical"],
            state["class_names"],
        )
        shape = state["sample_shape"]
        pre.sample_shape = tuple(int(d) for d in shape) if shape is not None else None
        pre.categories = [list(c) for c in state["categories"]]
        pre.category_fill = list(state["category_fill"])
        for key in ("impute_values", "clip_low", "clip_high", "shift", "scale"):
            setattr(pre, key, _array(state[key]))
        return pre

    def __repr__(self) -> str:
        on = [
            f"{k}={v}"
            for k, v in self.settings.items()
            if v not in ("none", 0) and k != "outlier_threshold"
        ]
        return f"Preprocessor({self.layout}, {', '.join(on) or 'identity'})"


def _text(a: np.ndarray) -> np.ndarray:
    """Text cells as an object array of str, missing (None/NaN) as ''."""
    out = np.empty(a.shape, dtype=object)
    for idx, v in np.ndenumerate(a):
        out[idx] = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
    return out
