"""Grey-level discretisation (IBSI 1, section 2.7): fixed bin number or fixed bin width."""

from __future__ import annotations

import numpy as np


def fixed_bin_number(values: np.ndarray, bins: int) -> np.ndarray:
    """Levels 1..bins: floor(bins * (x - min) / (max - min)) + 1, the maximum in the top bin."""
    low, high = float(np.min(values)), float(np.max(values))
    if high <= low:
        return np.ones(values.shape, dtype=np.int64)
    levels = np.floor(bins * (values - low) / (high - low)).astype(np.int64) + 1
    return np.minimum(levels, bins)


def discretise(
    values: np.ndarray,
    bins: int,
    bin_width: float | None = None,
    lower_bound: float | None = None,
) -> np.ndarray:
    """Levels from 1: by fixed bin width from `lower_bound` when a width is given, else by
    fixed bin number."""
    if bin_width:
        return fixed_bin_width(values, bin_width, lower_bound)
    return fixed_bin_number(values, bins)


def fixed_bin_width(
    values: np.ndarray, width: float, lower_bound: float | None = None
) -> np.ndarray:
    """Levels 1..: floor((x - lower) / width) + 1, with lower the minimum unless given.

    With a fixed lower bound (IBSI 2.7) one value gets the same level in every image; values
    below the bound fall in level 1.
    """
    lower = float(np.min(values)) if lower_bound is None else lower_bound
    return np.maximum(np.floor((values - lower) / width).astype(np.int64) + 1, 1)
