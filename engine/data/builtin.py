"""Built-in datasets: scikit-learn's bundled tables, synthetic 2-D sets, sine series, and the
named image sets (MNIST, Fashion-MNIST, KMNIST, CIFAR-10/100, SVHN) downloaded on first use.

Only the named image sets touch the network (:mod:`engine.data.downloads`, once, then the user
cache); the tables ship inside scikit-learn, the rest is generated from the seed. Digits pixels
are always divided by 16, so every digits form lies in [0, 1]; the image sets' pixels by 255.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.data.raw import RawData
from engine.errors import DataError

DIGITS_FORMS = ("flat", "image", "sequence")


@dataclass(frozen=True)
class _Option:
    default: Any
    kind: type
    low: float
    high: float


@dataclass(frozen=True)
class _Builtin:
    description: str
    load: Callable[[dict[str, Any], str | None, int], RawData]
    options: dict[str, _Option]
    forms: tuple[str, ...] = ()
    #: Downloaded on first use (the name in engine.data.downloads.FILES); loads with should_stop.
    remote: str | None = None


_SYNTH_OPTIONS = {
    "n_samples": _Option(1000, int, 10, 1_000_000),
    "noise": _Option(0.1, float, 0.0, 10.0),
}
_SERIES_OPTIONS = {
    "n_steps": _Option(2000, int, 20, 10_000_000),
    "noise": _Option(0.1, float, 0.0, 10.0),
    "window": _Option(16, int, 1, 10_000),
    "horizon": _Option(1, int, 1, 10_000),
    "period": _Option(50.0, float, 2.0, 1e6),
}


@functools.cache
def _sklearn_table(name: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], tuple[str, ...]]:
    """Load one bundled scikit-learn dataset once per process (read-only arrays)."""
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")()
    x = np.asarray(bunch.data, dtype=np.float64)
    y = np.asarray(bunch.target)
    x.flags.writeable = y.flags.writeable = False
    names = tuple(str(n) for n in getattr(bunch, "target_names", ()))
    return x, y, tuple(str(f) for f in bunch.feature_names), names


def _digits(opts: dict[str, Any], form: str | None, seed: int) -> RawData:
    x, y, _, names = _sklearn_table("digits")
    x = x / 16.0  # pixel values 0..16 -> [0, 1]
    form = form or "flat"
    shapes = {"flat": (64,), "image": (1, 8, 8), "sequence": (8, 8)}
    layout = {"flat": "table", "image": "image", "sequence": "sequence"}[form]
    columns = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)] if form == "flat" else None
    return RawData(
        x.reshape(len(x), *shapes[form]),
        y.astype(np.int64),
        "classification",
        layout,
        f"digits ({form} {'×'.join(map(str, shapes[form]))})",
        columns=columns,
        class_names=list(names),
        form=form,
    )


def _table(name: str, task: str) -> Callable[[dict[str, Any], str | None, int], RawData]:
    def load(opts: dict[str, Any], form: str | None, seed: int) -> RawData:
        x, y, features, names = _sklearn_table(name)
        if task == "regression":
            return RawData(
                x.copy(),
                y.astype(np.float32).reshape(-1, 1),
                task,
                "table",
                name,
                columns=list(features),
            )
        return RawData(
            x.copy(),
            y.astype(np.int64),
            task,
            "table",
            name,
            columns=list(features),
            class_names=list(names),
        )

    return load


def _points_2d(x: np.ndarray, y: np.ndarray, name: str, class_names: list[str]) -> RawData:
    """A 2-D point classification set: columns x1, x2 and integer labels."""
    return RawData(
        x,
        y.astype(np.int64),
        "classification",
        "table",
        name,
        columns=["x1", "x2"],
        class_names=class_names,
    )


def _moons(opts: dict[str, Any], form: str | None, seed: int) -> RawData:
    from sklearn.datasets import make_moons

    x, y = make_moons(opts["n_samples"], noise=opts["noise"], random_state=seed)
    return _points_2d(x, y, "moons", ["0", "1"])


def _circles(opts: dict[str, Any], form: str | None, seed: int) -> RawData:
    from sklearn.datasets import make_circles

    x, y = make_circles(
        opts["n_samples"], noise=opts["noise"], factor=opts["factor"], random_state=seed
    )
    return _points_2d(x, y, "circles", ["outer", "inner"])


def _spirals(opts: dict[str, Any], form: str | None, seed: int) -> RawData:
    """Interleaved spiral arms, one class per arm, radius growing from 0 to 1."""
    rng = np.random.default_rng(seed)
    n, k = opts["n_samples"], opts["n_classes"]
    y = np.arange(n) % k
    t = rng.uniform(0.0, 1.0, n)
    angle = t * opts["turns"] * 2 * np.pi + y * (2 * np.pi / k)
    x = np.stack([t * np.cos(angle), t * np.sin(angle)], axis=1)
    x += rng.normal(0.0, opts["noise"], x.shape)
    return _points_2d(x, y, "spirals", [f"arm {i}" for i in range(k)])


def _sine_series(opts: dict[str, Any], n_series: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(opts["n_steps"], dtype=np.float64)
    cols = []
    for s in range(n_series):
        period = opts["period"] * (1.0 + 0.37 * s)
        wave = np.sin(2 * np.pi * t / period + 0.9 * s)
        if n_series > 1:  # multi-sine: a second harmonic makes each series its own shape
            wave += 0.5 * np.sin(2 * np.pi * t / (period / 3.1) + 0.4 * s)
        cols.append(wave + rng.normal(0.0, opts["noise"], t.shape))
    return np.stack(cols, axis=1)


def _series(name: str, multi: bool) -> Callable[[dict[str, Any], str | None, int], RawData]:
    def load(opts: dict[str, Any], form: str | None, seed: int) -> RawData:
        n_series = opts["n_series"] if multi else 1
        if opts["window"] + opts["horizon"] > opts["n_steps"]:
            raise DataError(
                f"{name}: options.window + options.horizon ({opts['window']} + "
                f"{opts['horizon']}) exceed options.n_steps ({opts['n_steps']}): "
                "lower them or raise n_steps"
            )
        return RawData(
            None,
            None,
            "forecast",
            "sequence",
            name,
            series=_sine_series(opts, n_series, seed),
            window=opts["window"],
            horizon=opts["horizon"],
        )

    return load


def _named(name: str, title: str) -> Callable[..., RawData]:
    def load(
        opts: dict[str, Any],
        form: str | None,
        seed: int,
        should_stop: Callable[[], bool] | None = None,
    ) -> RawData:
        from engine.data.datasets import load_arrays, to_raw

        return to_raw(name, load_arrays(name, should_stop), form, title)

    return load


def _image_set(name: str, title: str, description: str) -> _Builtin:
    return _Builtin(description, _named(name, title), {}, ("image", "flat"), remote=name)


_REGISTRY: dict[str, _Builtin] = {
    "digits": _Builtin(
        "handwritten digits 0–9, 1797 samples of 8×8 pixels in [0, 1] "
        "(forms: flat 64, image 1×8×8, sequence 8×8)",
        _digits,
        {},
        DIGITS_FORMS,
    ),
    "iris": _Builtin(
        "iris flowers, 150 samples, 4 measurements, 3 species", _table("iris", "classification"), {}
    ),
    "wine": _Builtin(
        "wine cultivars, 178 samples, 13 chemical measurements, 3 classes",
        _table("wine", "classification"),
        {},
    ),
    "breast_cancer": _Builtin(
        "breast cancer diagnosis, 569 samples, 30 features, malignant/benign",
        _table("breast_cancer", "classification"),
        {},
    ),
    "diabetes": _Builtin(
        "diabetes progression (regression), 442 samples, 10 features",
        _table("diabetes", "regression"),
        {},
    ),
    "moons": _Builtin(
        "two interleaving half-moons, 2-D, 2 classes (synthetic)", _moons, dict(_SYNTH_OPTIONS)
    ),
    "circles": _Builtin(
        "a circle inside a circle, 2-D, 2 classes (synthetic)",
        _circles,
        {**_SYNTH_OPTIONS, "factor": _Option(0.5, float, 0.01, 0.99)},
    ),
    "spirals": _Builtin(
        "interleaved spiral arms, 2-D, one class per arm (synthetic)",
        _spirals,
        {
            **_SYNTH_OPTIONS,
            "n_classes": _Option(2, int, 2, 10),
            "turns": _Option(1.5, float, 0.25, 10.0),
        },
    ),
    "sine": _Builtin(
        "noisy sine wave for forecasting: windows (window, 1) → next horizon values",
        _series("sine", False),
        dict(_SERIES_OPTIONS),
    ),
    "multi_sine": _Builtin(
        "several noisy multi-frequency sine series for forecasting: windows "
        "(window, n_series) → next horizon values of every series",
        _series("multi_sine", True),
        {**_SERIES_OPTIONS, "n_series": _Option(3, int, 1, 100)},
    ),
    "mnist": _image_set(
        "mnist",
        "MNIST",
        "handwritten digits 0–9, 60,000 train + 10,000 test images of 28×28 "
        "(forms: image 1×28×28, flat 784); downloaded on first use (11 MB)",
    ),
    "fashion_mnist": _image_set(
        "fashion_mnist",
        "Fashion-MNIST",
        "Zalando clothing pictures, 10 classes, 60,000 train + 10,000 test images of 28×28 "
        "(forms: image 1×28×28, flat 784); downloaded on first use (30 MB)",
    ),
    "kmnist": _image_set(
        "kmnist",
        "Kuzushiji-MNIST",
        "cursive Japanese characters, 10 classes, 60,000 train + 10,000 test images of 28×28 "
        "(forms: image 1×28×28, flat 784); downloaded on first use (21 MB)",
    ),
    "cifar10": _image_set(
        "cifar10",
        "CIFAR-10",
        "small colour photos, 10 classes, 50,000 train + 10,000 test images of 32×32 "
        "(forms: image 3×32×32, flat 3072); downloaded on first use (170 MB)",
    ),
    "cifar100": _image_set(
        "cifar100",
        "CIFAR-100",
        "small colour photos, 100 fine classes, 50,000 train + 10,000 test images of 32×32 "
        "(forms: image 3×32×32, flat 3072); downloaded on first use (169 MB)",
    ),
    "svhn": _image_set(
        "svhn",
        "SVHN",
        "house-number digits from street photos, 73,257 train + 26,032 test images of 32×32 "
        "(forms: image 3×32×32, flat 3072); downloaded on first use (246 MB)",
    ),
}

#: Builtin dataset name → one-line description (for GUI lists).
BUILTIN_DATASETS: dict[str, str] = {name: b.description for name, b in _REGISTRY.items()}


def builtin_options(name: str) -> dict[str, Any]:
    """Default options of a builtin dataset (empty for the fixed tables)."""
    return {key: opt.default for key, opt in _REGISTRY[name].options.items()}


def builtin_forms(name: str) -> tuple[str, ...]:
    """The forms a builtin dataset can be loaded in, the default first (empty: no choice);
    KeyError for an unknown name."""
    return _REGISTRY[name].forms


def option_ranges(name: str) -> dict[str, tuple[type, float, float]]:
    """Each option of a builtin dataset as ``(kind, low, high)``: ``int`` or ``float`` and the
    inclusive bounds :func:`load_builtin` accepts (empty for the fixed tables). KeyError for an
    unknown name, like :func:`builtin_options`."""
    return {key: (opt.kind, opt.low, opt.high) for key, opt in _REGISTRY[name].options.items()}


#: Names of the built-in datasets downloaded on first use (the rest need no network).
DOWNLOADED: tuple[str, ...] = tuple(n for n, b in _REGISTRY.items() if b.remote)


def load_builtin(
    spec: dict[str, Any], seed: int, should_stop: Callable[[], bool] | None = None
) -> RawData:
    """Load the builtin dataset named in a normalized spec, checking its form and options.
    A downloaded set is fetched first when it is not cached (``should_stop`` can end that)."""
    entry, opts, form, seed = check_builtin(spec, seed)
    if entry.remote:
        return entry.load(opts, form, seed, should_stop)
    return entry.load(opts, form, seed)


def check_builtin(
    spec: dict[str, Any], seed: int = 0
) -> tuple[Any, dict[str, Any], str | None, int]:
    """Check a normalized builtin spec's name, form and options without loading anything;
    returns (dataset entry, options with defaults, form, seed) or raises one DataError line."""
    name = spec["name"]
    if name not in _REGISTRY:
        raise DataError(
            f"data spec: 'name' is {name!r}, not a builtin dataset; allowed: "
            + ", ".join(_REGISTRY)
        )
    entry = _REGISTRY[name]
    form = spec.get("form")
    if form is not None and form not in entry.forms:
        allowed = " | ".join(entry.forms) if entry.forms else "leave 'form' out"
        raise DataError(f"data spec: 'form' is {form!r} for {name}; allowed: {allowed}")
    test = spec.get("split", {}).get("test", 0)
    if entry.remote and test > 0:
        raise DataError(
            f"data spec: split.test is {test:g}, but {name} brings its own test set, which is "
            "the test split: set split.test to 0"
        )
    opts = builtin_options(name)
    for key, value in spec.get("options", {}).items():
        if key == "seed":
            if not isinstance(value, int) or isinstance(value, bool):
                raise DataError(f"data spec: options.seed is {value!r}; allowed: an integer")
            seed = value
            continue
        if key not in entry.options:
            allowed = ", ".join([*entry.options, "seed"])
            raise DataError(
                f"data spec: options.{key} is not an option of {name}; allowed: {allowed}"
            )
        o = entry.options[key]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if o.kind is int:
            ok = ok and float(value).is_integer()
        if not ok or not o.low <= value <= o.high:
            kind = "an integer" if o.kind is int else "a number"
            raise DataError(
                f"data spec: options.{key} is {value!r}; allowed: {kind} from "
                f"{o.low:g} to {o.high:g}"
            )
        opts[key] = o.kind(value)
    return entry, opts, form, seed
