"""Neighbouring grey level dependence matrix (IBSI 1, 3.11): 2D, 2.5D and 3D.

Coarseness 0 and Chebyshev distance 1: a voxel's dependence is 1 plus the number of its region
neighbours (in its slice for 2D) with the same grey level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medspark.radiomics.aggregation import aggregate_zonal, roi_slices
from medspark.radiomics.family import Family, FeatureValues, features
from medspark.radiomics.neighbourhood import neighbour, offsets
from medspark.radiomics.zone_matrix import ZoneMatrix, describe_with

FEATURES = features(
    ("low_dependence_emphasis", "SODN", "Low dependence emphasis"),
    ("high_dependence_emphasis", "IMOQ", "High dependence emphasis"),
    ("low_grey_level_count_emphasis", "TL9H", "Low grey level count emphasis"),
    ("high_grey_level_count_emphasis", "OAE7", "High grey level count emphasis"),
    ("low_dependence_low_grey_level_emphasis", "EQ3F", "Low dependence low grey level emphasis"),
    ("low_dependence_high_grey_level_emphasis", "JA6D", "Low dependence high grey level emphasis"),
    ("high_dependence_low_grey_level_emphasis", "NBZI", "High dependence low grey level emphasis"),
    (
        "high_dependence_high_grey_level_emphasis",
        "9QMG",
        "High dependence high grey level emphasis",
    ),
    ("grey_level_non_uniformity", "FP8K", "Grey level non-uniformity"),
    ("grey_level_non_uniformity_normalised", "5SPA", "Normalised grey level non-uniformity"),
    ("dependence_count_non_uniformity", "Z87G", "Dependence count non-uniformity"),
    (
        "dependence_count_non_uniformity_normalised",
        "OKJI",
        "Normalised dependence count non-uniformity",
    ),
    ("dependence_count_percentage", "6XV8", "Dependence count percentage"),
    ("grey_level_variance", "1PFV", "Grey level variance"),
    ("dependence_count_variance", "DNX2", "Dependence count variance"),
    ("dependence_count_entropy", "FCBV", "Dependence count entropy"),
    ("dependence_count_energy", "CAS9", "Dependence count energy"),
)


def dependence_matrices(region, planar: bool) -> list[ZoneMatrix]:
    """Per slice (planar) or for the volume: counts[level, dependence]."""
    mask = region.intensity_mask
    levels = np.where(mask, region.levels, 0)
    dependence = np.ones(levels.shape, dtype=np.int64)
    neighbours = offsets(planar)
    for offset in neighbours:
        dependence += mask & neighbour(mask, offset, False) & (neighbour(levels, offset) == levels)
    n, widest = region.n_levels, len(neighbours) + 1
    slices = mask.shape[0] if planar else 1
    z = np.nonzero(mask)[0] if planar else np.zeros(int(mask.sum()), dtype=np.int64)
    index = (z * n + (levels[mask] - 1)) * widest + (dependence[mask] - 1)
    counts = np.bincount(index, minlength=slices * n * widest).reshape(slices, n, widest)
    voxels = counts.sum(axis=(1, 2))
    return [ZoneMatrix(counts[k].astype(np.float64), float(voxels[k])) for k in range(slices)]


def compute(region, aggregations: Sequence[str], **_: object) -> dict[str, FeatureValues]:
    """NGLDM features of the region for each requested aggregation."""
    slices = roi_slices(region.intensity_mask)
    planar = dependence_matrices(region, True)
    (volume,) = dependence_matrices(region, False)
    return aggregate_zonal(
        [planar[k] for k in slices], volume, ZoneMatrix.merge, describe_with(FEATURES), aggregations
    )


FAMILY = Family(
    "ngldm", "ngldm", "Neighbouring grey level dependence matrix", FEATURES, True, compute
)
