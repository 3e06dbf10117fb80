"""Raw data as the loaders hand it over, before splitting and preprocessing."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class RawData:
    """Samples as loaded, plus what the loader knows about them.

    ``x`` is ``(N, *sample_shape)``: float64 with NaN for missing numbers, or an object array for
    tables with text columns (listed in ``categorical``). ``y`` holds raw class labels (any type),
    regression targets ``(N, k)``, or ``None``. Forecast data instead carries the whole ``series``
    ``(T, n_series)``; it is split in time order and cut into windows afterwards.
    """

    x: np.ndarray | None
    y: np.ndarray | None
    task: str
    layout: str  # "table" | "sequence" | "image"
    origin: str  # file or dataset name used in messages and descriptions
    columns: list[str] | None = None
    categorical: list[int] = field(default_factory=list)
    class_names: list[str] | None = None  # set when y is already 0..K-1 codes
    series: np.ndarray | None = None
    window: int = 0
    horizon: int = 0
    form: str | None = None
    row_labels: list[str] | None = None  # how to name sample i in messages (e.g. "line 7")
    #: Samples from this index on are the source's own (official) test set: they become the
    #: test split, and train/val are split from the samples before it.
    test_start: int | None = None
