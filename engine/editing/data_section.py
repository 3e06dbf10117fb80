"""Data-section edits: the new ``data`` spec each edit in the data panel gives.

Every function takes the design's current data section (a plain dict, see docs/data.md) and
returns a new one — never changing its argument — or None when the edit changes nothing. A
refused edit raises :class:`~engine.errors.DataError` with a one-line reason; :func:`check_spec`
is the engine's verdict on a whole section before it goes on the undo stack. The data panel
renders the section and pushes one undo command with the spec these functions return.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from engine.data.augment_spec import AUGMENT_OPS, copy_steps, default_step
from engine.data.spec import DEFAULT_OUTLIER_THRESHOLD, normalize_spec
from engine.editing.probes import csv_header, npz_keys, sniff_delimiter
from engine.graph import Design
from engine.layers import REGISTRY
from engine.shapes import network_inputs

#: What an image folder starts with: 28×28 grayscale.
IMAGE_DEFAULTS: dict[str, Any] = {"size": [28, 28], "color": "grayscale"}
#: The keys a new source keeps from the old section.
KEPT_KEYS = ("split", "preprocess", "augment")


def data_input(design: Design) -> str | None:
    """The Input node the data feeds: the discriminator's for a GAN, else the only one."""
    network = design.network_of_role("discriminator")
    ids = (
        network_inputs(design, network)
        if network is not None
        else [n.id for n in design if REGISTRY.resolve(n.type) == "Input"]
    )
    return ids[0] if len(ids) == 1 else None


def resolve(path: str, base_dir: Path | None) -> Path:
    """A data path as the loaders read it: relative ones start at the design's folder."""
    resolved = Path(path)
    return base_dir / resolved if not resolved.is_absolute() and base_dir is not None else resolved


def shown_path(path: Path, base_dir: Path | None) -> str:
    """How a chosen file is written into the section: relative to the design's folder when it
    lies inside it, else as chosen."""
    if base_dir is not None:
        try:
            return str(path.resolve().relative_to(base_dir.resolve()))
        except ValueError:
            pass
    return str(path)


def check_spec(spec: dict[str, Any]) -> None:
    """Raise the engine's DataError when ``spec`` cannot be used as a data section."""
    normalize_spec(spec)


def with_value(spec: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any] | None:
    """``spec`` with one (possibly nested) key set; None when it already holds ``value``."""
    new = copy.deepcopy(spec)
    target = new
    for key in path[:-1]:
        if not isinstance(target.get(key), dict):
            target[key] = {}
        target = target[key]
    if path[-1] in target and target[path[-1]] == value:
        return None
    target[path[-1]] = value
    return new


def for_file(old: dict[str, Any], source: str, path: Path, shown: str) -> dict[str, Any]:
    """A section reading the chosen file ``path`` (written as ``shown``) as ``source``.

    Split and preprocessing stay; a CSV gets its detected delimiter and its last column as the
    target, an ``.npz`` the arrays ``x`` and ``y`` (else its first two), an image folder 28×28
    grayscale. DataError when the file's header or archive cannot be read."""
    spec: dict[str, Any] = {"source": source, "path": shown}
    for key in KEPT_KEYS:
        if key in old:
            spec[key] = copy.deepcopy(old[key])
    if source == "csv":
        delimiter = sniff_delimiter(path)
        header = csv_header(path, delimiter)
        spec["target"] = header[-1]  # the usual place of the label column
        if delimiter != ",":
            spec["delimiter"] = delimiter
    elif source == "npz":
        keys = npz_keys(path)
        x_key = "x" if "x" in keys else keys[0]
        spec["x_key"] = x_key
        spec["y_key"] = (
            "y" if "y" in keys and x_key != "y" else next((k for k in keys if k != x_key), None)
        )
    elif source == "image_folder":
        spec.update(copy.deepcopy(IMAGE_DEFAULTS))
    return spec


def with_target(spec: dict[str, Any], target: str | None) -> dict[str, Any] | None:
    """Predict ``target``; it leaves the feature and one-hot lists."""
    if "target" in spec and spec["target"] == target:
        return None
    new = copy.deepcopy(spec)
    new["target"] = target
    for key in ("features", "categorical"):
        if isinstance(new.get(key), list) and target in new[key]:
            new[key] = [c for c in new[key] if c != target]
    return new


def with_delimiter(
    spec: dict[str, Any], delimiter: str, base_dir: Path | None
) -> dict[str, Any] | None:
    """Split the CSV at ``delimiter``: columns the new header lacks are dropped from the target
    (then the last column), features and one-hot lists; a list left empty goes (every column
    again, none one-hot). DataError when the header cannot be read that way."""
    if spec.get("delimiter", ",") == delimiter:
        return None
    header = csv_header(resolve(spec["path"], base_dir), delimiter)
    new = copy.deepcopy(spec)
    new["delimiter"] = delimiter
    if new.get("target") is not None and new["target"] not in header:
        new["target"] = header[-1]
    for key in ("features", "categorical"):
        if isinstance(new.get(key), list):
            new[key] = [c for c in new[key] if c in header and c != new.get("target")]
            if not new[key]:
                del new[key]
    return new


def with_columns(
    spec: dict[str, Any], features: list[str], categorical: list[str], base_dir: Path | None
) -> dict[str, Any] | None:
    """Use ``features`` (every column but the target → ``features`` left out) and one-hot
    encode the ``categorical`` ones among them. DataError when the header cannot be read."""
    header = csv_header(resolve(spec["path"], base_dir), spec.get("delimiter", ","))
    target = spec.get("target")
    everything = [c for c in header if c != target]
    new_features = None if features == everything else list(features)
    new_categorical = [c for c in categorical if c in features]
    if spec.get("features") == new_features and (spec.get("categorical") or []) == new_categorical:
        return None
    new = copy.deepcopy(spec)
    if new_features is None:
        new.pop("features", None)
    else:
        new["features"] = new_features
    if new_categorical:
        new["categorical"] = new_categorical
    else:
        new.pop("categorical", None)
    return new


def with_outliers(spec: dict[str, Any], method: str) -> dict[str, Any] | None:
    """Clip outliers with ``method``; a threshold left at the old method's default moves to the
    new one's."""
    pre = spec.get("preprocess") if isinstance(spec.get("preprocess"), dict) else {}
    old = pre.get("outliers", "none")
    if old == method:
        return None
    pre = dict(pre)
    pre["outliers"] = method
    if pre.get("outlier_threshold") == DEFAULT_OUTLIER_THRESHOLD.get(old):
        del pre["outlier_threshold"]
    new = copy.deepcopy(spec)
    new["preprocess"] = pre
    return new


def with_dataset(
    old: dict[str, Any], name: str, keep_preprocess: bool = True
) -> dict[str, Any] | None:
    """Train on the builtin dataset ``name`` (digits keep their form, else flat)."""
    if old.get("source") == "builtin" and old.get("name") == name:
        return None
    spec: dict[str, Any] = {"source": "builtin", "name": name}
    if name == "digits":
        spec["form"] = old.get("form") if old.get("name") == "digits" else "flat"
    for key in KEPT_KEYS if keep_preprocess else ():
        if key in old:
            spec[key] = copy.deepcopy(old[key])
    if (spec.get("split") or {}).get("test") and _brings_test_set(name):
        spec["split"]["test"] = 0.0  # its official test set is the test split
    return spec


def _brings_test_set(name: str) -> bool:
    from engine.data.builtin import DOWNLOADED

    return name in DOWNLOADED


def without_form(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The digits' form back to auto (from the Input shape); None when it already is."""
    if "form" not in spec:
        return None
    new = copy.deepcopy(spec)
    del new["form"]
    return new


def image_size(spec: dict[str, Any], axis: int, value: int) -> list[int]:
    """The image size with one axis (0 height, 1 width) set to ``value``."""
    size = list(spec.get("size") or IMAGE_DEFAULTS["size"])
    size[axis] = value
    return size


def _with_steps(spec: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """``spec`` with these augment steps; with none, the ``augment`` key goes."""
    new = copy.deepcopy(spec)
    if steps:
        new["augment"] = {"steps": steps}
    else:
        new.pop("augment", None)
    return new


def with_augment_step(spec: dict[str, Any], op: str) -> dict[str, Any]:
    """A new last augment step ``op`` with its default parameters."""
    return _with_steps(spec, copy_steps(spec) + [default_step(op)])


def without_augment_step(spec: dict[str, Any], index: int) -> dict[str, Any] | None:
    """Augment step ``index`` (0-based) removed; None when there is no such step."""
    steps = copy_steps(spec)
    if not 0 <= index < len(steps):
        return None
    del steps[index]
    return _with_steps(spec, steps)


def with_augment_moved(spec: dict[str, Any], index: int, offset: int) -> dict[str, Any] | None:
    """Augment step ``index`` moved ``offset`` places (-1 earlier, +1 later); None at an end."""
    steps = copy_steps(spec)
    to = index + offset
    if not (0 <= index < len(steps) and 0 <= to < len(steps)) or offset == 0:
        return None
    steps.insert(to, steps.pop(index))
    return _with_steps(spec, steps)


def with_augment_param(
    spec: dict[str, Any], index: int, key: str, value: Any
) -> dict[str, Any] | None:
    """Parameter ``key`` of augment step ``index`` set to ``value``; None when unchanged or
    there is no such step (a value out of range is refused later by :func:`check_spec`)."""
    steps = copy_steps(spec)
    if not 0 <= index < len(steps) or not isinstance(steps[index], dict):
        return None
    op = steps[index].get("op")
    current = steps[index].get(
        key, AUGMENT_OPS[op].params[key].default if op in AUGMENT_OPS else None
    )
    if current == value:
        return None
    steps[index][key] = value
    return _with_steps(spec, steps)
