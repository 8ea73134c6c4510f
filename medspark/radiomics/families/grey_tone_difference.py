"""Neighbourhood grey tone difference matrix (IBSI 1, 3.10): 2D, 2.5D and 3D.

A voxel's neighbourhood is the region voxels at Chebyshev distance 1 (in its slice for 2D);
voxels without any neighbour in the region do not count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medspark.radiomics.aggregation import aggregate_zonal, roi_slices
from medspark.radiomics.family import Family, FeatureValues, features
from medspark.radiomics.neighbourhood import neighbour, offsets

FEATURES = features(
    ("coarseness", "QCDE", "Coarseness"),
    ("contrast", "65HE", "Contrast"),
    ("busyness", "NQ30", "Busyness"),
    ("complexity", "HDEZ", "Complexity"),
    ("strength", "1X9X", "Strength"),
)


@dataclass(frozen=True)
class ToneMatrix:
    """s[i - 1]: summed absolute differences to the neighbourhood mean; n[i - 1]: voxels."""

    s: np.ndarray
    n: np.ndarray

    @staticmethod
    def merge(matrices: Sequence[ToneMatrix]) -> ToneMatrix:
        return ToneMatrix(np.sum([m.s for m in matrices], 0), np.sum([m.n for m in matrices], 0))


def tone_matrices(region, planar: bool) -> list[ToneMatrix]:
    """Per slice (planar) or for the volume."""
    mask = region.intensity_mask
    levels = np.where(mask, region.levels, 0).astype(np.float64)
    total = np.zeros(levels.shape)
    count = np.zeros(levels.shape)
    for offset in offsets(planar):
        total += neighbour(levels, offset)
        count += neighbour(mask, offset, False)
    valid = mask & (count > 0)
    level = region.levels[valid]
    difference = np.abs(level - total[valid] / count[valid])
    n = region.n_levels
    z = np.nonzero(valid)[0] if planar else np.zeros(level.size, dtype=np.int64)
    slices = mask.shape[0] if planar else 1
    index = z * n + (level - 1)
    s = np.bincount(index, weights=difference, minlength=slices * n).reshape(slices, n)
    counts = np.bincount(index, minlength=slices * n).reshape(slices, n).astype(np.float64)
    return [ToneMatrix(s[k], counts[k]) for k in range(slices)]


def describe(matrix: ToneMatrix) -> FeatureValues:
    n_valid = matrix.n.sum()
    if n_valid == 0:
        return {}
    p = matrix.n / n_valid
    present = p > 0
    i = np.arange(1, p.size + 1, dtype=np.float64)[present]
    p, s = p[present], matrix.s[present]
    n_present = p.size
    ps = p * s
    pi, pj = p[:, None], p[None, :]
    squared = (i[:, None] - i[None, :]) ** 2
    s_total = float(s.sum())
    busy = float(np.sum(np.abs(i[:, None] * pi - i[None, :] * pj)))
    coarseness = float(ps.sum())
    return {
        "coarseness": 1.0 / coarseness if coarseness > 0 else None,
        "contrast": float(np.sum(pi * pj * squared))
        / (n_present * (n_present - 1))
        * s_total
        / n_valid
        if n_present > 1
        else 0.0,
        "busyness": coarseness / busy if busy > 0 else 0.0,
        "complexity": float(
            np.sum(np.abs(i[:, None] - i[None, :]) * (ps[:, None] + ps[None, :]) / (pi + pj))
        )
        / n_valid,
        "strength": float(np.sum((pi + pj) * squared)) / s_total if s_total > 0 else 0.0,
    }


def compute(region, aggregations: Sequence[str], **_: object) -> dict[str, FeatureValues]:
    """NGTDM features of the region for each requested aggregation."""
    slices = roi_slices(region.intensity_mask)
    planar = tone_matrices(region, True)
    (volume,) = tone_matrices(region, False)
    return aggregate_zonal(
        [planar[k] for k in slices], volume, ToneMatrix.merge, describe, aggregations
    )


FAMILY = Family(
    "ngtdm", "ngtdm", "Neighbourhood grey tone difference matrix", FEATURES, True, compute
)
