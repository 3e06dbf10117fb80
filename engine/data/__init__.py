"""Data layer: embedded datasets, file importers, preprocessing (scikit-learn) and splits.

The public API other parts of Deepwire build on::

    data = prepare_data({"source": "builtin", "name": "digits", "form": "image"}, seed=0)
    check_input_shape(data, (1, 8, 8), node_id="in")
    state = data.preprocessor.state_dict()        # plain JSON types, safe for weights_only
    Preprocessor.from_state(state).transform(raw)  # same numbers again

See docs/data.md for the spec schema.
"""

from typing import TYPE_CHECKING

from engine.lazy import lazy_exports

# Imported on first use (PEP 562), so ``engine.data.spec`` alone — which ``check`` needs to
# validate a data section — does not pull in the loaders and preprocessing.
_EXPORTS = {
    "BUILTIN_DATASETS": "builtin",
    "builtin_options": "builtin",
    "PreparedData": "prepare",
    "check_input_shape": "prepare",
    "prepare_data": "prepare",
    "AffineParams": "preprocess",
    "Preprocessor": "preprocess",
}

if TYPE_CHECKING:
    from engine.data.builtin import BUILTIN_DATASETS, builtin_options
    from engine.data.prepare import PreparedData, check_input_shape, prepare_data
    from engine.data.preprocess import AffineParams, Preprocessor


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


__all__ = [
    "BUILTIN_DATASETS",
    "AffineParams",
    "PreparedData",
    "Preprocessor",
    "builtin_options",
    "check_input_shape",
    "prepare_data",
]
