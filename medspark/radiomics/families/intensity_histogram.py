"""Intensity histogram features (IBSI 1, 3.4) of the discretised grey levels."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medspark.imaging.first_order import first_order
from medspark.radiomics.family import WHOLE_REGION, Family, FeatureValues, features

# The reference table names the 10th percentile 1PR8 (the minimum's identifier) and the 90th GPMT;
# the manual's own identifiers for the two percentiles are GPMT and OZ0C.
FEATURES = features(
    ("mean", "X6K6", "Mean discretised intensity"),
    ("variance", "CH89", "Discretised intensity variance"),
    ("skewness", "88K1", "Discretised intensity skewness"),
    ("kurtosis", "C3I7", "(Excess) discretised intensity kurtosis"),
    ("median", "WIFQ", "Median discretised intensity"),
    ("minimum", "1PR8", "Minimum discretised intensity"),
    ("p10", "GPMT", "10th discretised intensity percentile"),
    ("p90", "OZ0C", "90th discretised intensity percentile"),
    ("maximum", "3NCY", "Maximum discretised intensity"),
    ("mode", "AMMC", "Intensity histogram mode"),
    ("iqr", "WR0O", "Discretised intensity interquartile range"),
    ("range", "5Z3W", "Discretised intensity range"),
    ("mad", "D2ZX", "Intensity histogram mean absolute deviation"),
    ("rmad", "WRZB", "Intensity histogram robust mean absolute deviation"),
    ("medad", "4RNL", "Intensity histogram median absolute deviation"),
    ("cov", "CWYJ", "Intensity histogram coefficient of variation"),
    ("qcod", "SLWD", "Intensity histogram quartile coefficient of dispersion"),
    ("entropy", "TLU2", "Discretised intensity entropy"),
    ("uniformity", "BJ5W", "Discretised intensity uniformity"),
    ("max_gradient", "12CE", "Maximum histogram gradient"),
    ("max_gradient_level", "8E6O", "Maximum histogram gradient intensity"),
    ("min_gradient", "VQB3", "Minimum histogram gradient"),
    ("min_gradient_level", "RHQZ", "Minimum histogram gradient intensity"),
)


def histogram_gradient(counts: np.ndarray) -> np.ndarray:
    """Central differences of the histogram, one-sided at its first and last level."""
    if counts.size < 2:
        return np.zeros(counts.size)
    return np.gradient(counts.astype(np.float64))


def compute(region, aggregations: Sequence[str] = (), **_: object) -> dict[str, FeatureValues]:
    """Histogram features of the region's levels 1..n_levels."""
    levels = region.grey_levels.astype(np.float64)
    stats = first_order(levels)
    counts = np.bincount(region.grey_levels, minlength=region.n_levels + 1)[1:]
    probabilities = counts[counts > 0] / levels.size
    gradient = histogram_gradient(counts)
    values = {name: stats.get(f"fo_{name}") for name in (f.name for f in FEATURES)}
    values.update(
        mode=float(np.argmax(counts) + 1),
        entropy=float(-np.sum(probabilities * np.log2(probabilities))),
        uniformity=float(np.sum(probabilities**2)),
        max_gradient=float(gradient.max()),
        max_gradient_level=float(np.argmax(gradient) + 1),
        min_gradient=float(gradient.min()),
        min_gradient_level=float(np.argmin(gradient) + 1),
    )
    return {WHOLE_REGION: values}


FAMILY = Family("histogram", "ih", "Intensity histogram", FEATURES, False, compute)
