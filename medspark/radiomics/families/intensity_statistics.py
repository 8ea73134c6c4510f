"""Intensity-based statistics (IBSI 1, 3.3) over the intensity mask."""

from __future__ import annotations

from collections.abc import Sequence

from medspark.imaging.first_order import first_order
from medspark.radiomics.family import WHOLE_REGION, Family, FeatureValues, features

FEATURES = features(
    ("mean", "Q4LE", "Mean intensity"),
    ("variance", "ECT3", "Intensity variance"),
    ("skewness", "KE2A", "Intensity skewness"),
    ("kurtosis", "IPH6", "(Excess) intensity kurtosis"),
    ("median", "Y12H", "Median intensity"),
    ("minimum", "1GSF", "Minimum intensity"),
    ("p10", "QG58", "10th intensity percentile"),
    ("p90", "8DWT", "90th intensity percentile"),
    ("maximum", "84IY", "Maximum intensity"),
    ("iqr", "SALO", "Intensity interquartile range"),
    ("range", "2OJQ", "Intensity range"),
    ("mad", "4FUA", "Intensity-based mean absolute deviation"),
    ("rmad", "1128", "Intensity-based robust mean absolute deviation"),
    ("medad", "N72L", "Intensity-based median absolute deviation"),
    ("cov", "7TET", "Intensity-based coefficient of variation"),
    ("qcod", "9S40", "Intensity-based quartile coefficient of dispersion"),
    ("energy", "N8CA", "Intensity-based energy"),
    ("rms", "5ZWQ", "Root mean square intensity"),
)


def compute(region, aggregations: Sequence[str] = (), **_: object) -> dict[str, FeatureValues]:
    """The statistics of the region's intensities (before discretisation)."""
    values = first_order(region.intensities)
    return {WHOLE_REGION: {f.name: values.get(f"fo_{f.name}") for f in FEATURES}}


FAMILY = Family("statistics", "stat", "Intensity-based statistics", FEATURES, False, compute)
