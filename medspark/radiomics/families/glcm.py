"""Grey level co-occurrence matrix (IBSI 1, 3.6), in every IBSI aggregation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medspark.imaging.texture import matrix_features
from medspark.radiomics.aggregation import (
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    aggregate_directional,
    roi_slices,
    shifted_pairs,
)
from medspark.radiomics.family import Family, FeatureValues, features
from medspark.radiomics.region import RegionImage

FEATURES = features(
    ("joint_max", "GYBY", "Joint maximum"),
    ("joint_average", "60VM", "Joint average"),
    ("joint_variance", "UR99", "Joint variance"),
    ("joint_entropy", "TU9B", "Joint entropy"),
    ("difference_average", "TF7R", "Difference average"),
    ("difference_variance", "D3YU", "Difference variance"),
    ("difference_entropy", "NTRS", "Difference entropy"),
    ("sum_average", "ZGXS", "Sum average"),
    ("sum_variance", "OEEB", "Sum variance"),
    ("sum_entropy", "P6QZ", "Sum entropy"),
    ("angular_second_moment", "8ZQL", "Angular second moment"),
    ("contrast", "ACUI", "Contrast"),
    ("dissimilarity", "8S9J", "Dissimilarity"),
    ("inverse_difference", "IB1Z", "Inverse difference"),
    ("inverse_difference_normalised", "NDRX", "Normalised inverse difference"),
    ("inverse_difference_moment", "WF0Z", "Inverse difference moment"),
    ("inverse_difference_moment_normalised", "1QCO", "Normalised inverse difference moment"),
    ("inverse_variance", "E8JP", "Inverse variance"),
    ("correlation", "NI2N", "Correlation"),
    ("autocorrelation", "QWB0", "Autocorrelation"),
    ("cluster_tendency", "DG8W", "Cluster tendency"),
    ("cluster_shade", "7NFM", "Cluster shade"),
    ("cluster_prominence", "AE86", "Cluster prominence"),
    ("information_correlation_1", "R8DG", "Information correlation 1"),
    ("information_correlation_2", "JN9H", "Information correlation 2"),
)


def _counts(region: RegionImage, offset: tuple[int, int, int]) -> np.ndarray:
    """Symmetric co-occurrence counts per slice of the first voxel: (slices, levels, levels)."""
    n = region.n_levels
    first, second, z = shifted_pairs(region.levels, region.intensity_mask, offset)
    index = (z * n + (first - 1)) * n + (second - 1)
    counts = np.bincount(index, minlength=region.levels.shape[0] * n * n).astype(np.float64)
    counts = counts.reshape(region.levels.shape[0], n, n)
    return counts + counts.transpose(0, 2, 1)


def _merge(matrices: Sequence[np.ndarray]) -> np.ndarray:
    return np.sum(matrices, axis=0)


def _describe(counts: np.ndarray) -> FeatureValues:
    total = counts.sum()
    if total == 0:
        return {}
    values = matrix_features(counts / total)
    return {f.name: values[f"glcm_{f.name}"] for f in FEATURES}


def compute(
    region: RegionImage, aggregations: Sequence[str], distance: int = 1, **_: object
) -> dict[str, FeatureValues]:
    """GLCM features of the region for each requested aggregation."""
    slices = roi_slices(region.intensity_mask)
    planar = [_counts(region, (0, dy * distance, dx * distance)) for _, dy, dx in DIRECTIONS_2D]
    per_slice = [[direction[k] for direction in planar] for k in slices]
    per_direction_3d = [
        _counts(region, (d[0] * distance, d[1] * distance, d[2] * distance)).sum(axis=0)
        for d in DIRECTIONS_3D
    ]
    return aggregate_directional(per_slice, per_direction_3d, _merge, _describe, aggregations)


FAMILY = Family("glcm", "glcm", "Grey level co-occurrence matrix", FEATURES, True, compute)
