"""Count matrices indexed by grey level and a size (run length, zone size, distance, dependence),
and the emphasis features IBSI defines on all of them (IBSI 1, 3.7-3.10, 3.12)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from medspark.radiomics.family import Feature, FeatureValues


@dataclass(frozen=True)
class ZoneMatrix:
    """counts[i - 1, j - 1]: how many runs/zones of grey level i have size j; and N_v."""

    counts: np.ndarray
    voxels: float

    @staticmethod
    def merge(matrices: Sequence[ZoneMatrix]) -> ZoneMatrix:
        """Summed counts and voxel numbers (IBSI's merging of matrices)."""
        rows = max(m.counts.shape[0] for m in matrices)
        columns = max(m.counts.shape[1] for m in matrices)
        counts = np.zeros((rows, columns))
        for m in matrices:
            counts[: m.counts.shape[0], : m.counts.shape[1]] += m.counts
        return ZoneMatrix(counts, float(sum(m.voxels for m in matrices)))


EMPHASIS = (
    "small_emphasis",
    "large_emphasis",
    "low_grey_level_emphasis",
    "high_grey_level_emphasis",
    "small_low_grey_level_emphasis",
    "small_high_grey_level_emphasis",
    "large_low_grey_level_emphasis",
    "large_high_grey_level_emphasis",
    "grey_level_non_uniformity",
    "grey_level_non_uniformity_normalised",
    "size_non_uniformity",
    "size_non_uniformity_normalised",
    "percentage",
    "grey_level_variance",
    "size_variance",
    "size_entropy",
    "energy",
)
"""The generic names of `emphasis_features`, in the order the families declare theirs."""


def describe_with(features: Sequence[Feature]) -> Callable[[ZoneMatrix], FeatureValues]:
    """A describe function giving a family's names to the generic emphasis features."""

    def describe(matrix: ZoneMatrix) -> FeatureValues:
        values = emphasis_features(matrix)
        return {f.name: values.get(g) for f, g in zip(features, EMPHASIS, strict=False)}

    return describe


def emphasis_features(matrix: ZoneMatrix) -> FeatureValues:
    """The sixteen features shared by GLRLM, GLSZM, GLDZM and (most of) NGLDM."""
    r = matrix.counts
    total = float(r.sum())
    if total == 0:
        return {}
    i = np.arange(1, r.shape[0] + 1, dtype=np.float64)[:, None]
    j = np.arange(1, r.shape[1] + 1, dtype=np.float64)[None, :]
    i2, j2 = i * i, j * j
    by_level = r.sum(axis=1)
    by_size = r.sum(axis=0)
    p = r / total
    mu_i = float(np.sum(i * p))
    mu_j = float(np.sum(j * p))
    nonzero = p[p > 0]
    return {
        "small_emphasis": float(np.sum(r / j2) / total),
        "large_emphasis": float(np.sum(r * j2) / total),
        "low_grey_level_emphasis": float(np.sum(r / i2) / total),
        "high_grey_level_emphasis": float(np.sum(r * i2) / total),
        "small_low_grey_level_emphasis": float(np.sum(r / (i2 * j2)) / total),
        "small_high_grey_level_emphasis": float(np.sum(r * i2 / j2) / total),
        "large_low_grey_level_emphasis": float(np.sum(r * j2 / i2) / total),
        "large_high_grey_level_emphasis": float(np.sum(r * i2 * j2) / total),
        "grey_level_non_uniformity": float(np.sum(by_level**2) / total),
        "grey_level_non_uniformity_normalised": float(np.sum(by_level**2) / total**2),
        "size_non_uniformity": float(np.sum(by_size**2) / total),
        "size_non_uniformity_normalised": float(np.sum(by_size**2) / total**2),
        "percentage": total / matrix.voxels if matrix.voxels else None,
        "grey_level_variance": float(np.sum((i - mu_i) ** 2 * p)),
        "size_variance": float(np.sum((j - mu_j) ** 2 * p)),
        "size_entropy": float(-np.sum(nonzero * np.log2(nonzero))),
        "energy": float(np.sum(p * p)),
    }
