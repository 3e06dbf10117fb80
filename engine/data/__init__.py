"""Data layer: embedded datasets, file importers, preprocessing (scikit-learn) and splits.

The public API other parts of Deepwire build on::

    data = prepare_data({"source": "builtin", "name": "digits", "form": "image"}, seed=0)
    check_input_shape(data, (1, 8, 8), node_id="in")
    state = data.preprocessor.state_dict()        # plain JSON types, safe for weights_only
    Preprocessor.from_state(state).transform(raw)  # same numbers again

See docs/data.md for the spec schema.
"""

from engine.data.builtin import BUILTIN_DATASETS, builtin_options
from engine.data.prepare import PreparedData, check_input_shape, prepare_data
from engine.data.preprocess import AffineParams, Preprocessor

__all__ = [
    "BUILTIN_DATASETS",
    "AffineParams",
    "PreparedData",
    "Preprocessor",
    "builtin_options",
    "check_input_shape",
    "prepare_data",
]
