"""Grey level run length matrix (IBSI 1, 3.7), in every IBSI aggregation."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medspark.radiomics.aggregation import (
    DIRECTIONS_2D,
    DIRECTIONS_3D,
    aggregate_directional,
    roi_slices,
)
from medspark.radiomics.family import Family, FeatureValues, features
from medspark.radiomics.neighbourhood import neighbour
from medspark.radiomics.zone_matrix import ZoneMatrix, describe_with

FEATURES = features(
    ("short_runs_emphasis", "22OV", "Short runs emphasis"),
    ("long_runs_emphasis", "W4KF", "Long runs emphasis"),
    ("low_grey_level_run_emphasis", "V3SW", "Low grey level run emphasis"),
    ("high_grey_level_run_emphasis", "G3QZ", "High grey level run emphasis"),
    ("short_run_low_grey_level_emphasis", "HTZT", "Short run low grey level emphasis"),
    ("short_run_high_grey_level_emphasis", "GD3A", "Short run high grey level emphasis"),
    ("long_run_low_grey_level_emphasis", "IVPO", "Long run low grey level emphasis"),
    ("long_run_high_grey_level_emphasis", "3KUM", "Long run high grey level emphasis"),
    ("grey_level_non_uniformity", "R5YN", "Grey level non-uniformity"),
    ("grey_level_non_uniformity_normalised", "OVBL", "Normalised grey level non-uniformity"),
    ("run_length_non_uniformity", "W92Y", "Run length non-uniformity"),
    ("run_length_non_uniformity_normalised", "IC23", "Normalised run length non-uniformity"),
    ("run_percentage", "9ZK5", "Run percentage"),
    ("grey_level_variance", "8CE5", "Grey level variance"),
    ("run_length_variance", "SXLW", "Run length variance"),
    ("run_entropy", "HJ9O", "Run entropy"),
)


def runs(
    levels: np.ndarray, mask: np.ndarray, step: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(level, length, slice of its first voxel) of every run along `step` inside the mask."""
    back = (-step[0], -step[1], -step[2])  # each voxel's predecessor along the run
    continues = mask & neighbour(mask, back, False) & (levels == neighbour(levels, back, 0))
    starts = np.argwhere(mask & ~continues)
    lengths = np.ones(len(starts), dtype=np.int64)
    position, alive = starts.copy(), np.arange(len(starts))
    shape = np.asarray(levels.shape)
    while alive.size:
        position = position + np.asarray(step)
        inside = np.all((position >= 0) & (position < shape), axis=1)
        position, alive = position[inside], alive[inside]
        going = continues[tuple(position.T)]
        position, alive = position[going], alive[going]
        lengths[alive] += 1
    found = tuple(starts.T)
    return levels[found], lengths, starts[:, 0]


def _matrices(region, step, longest: int) -> list[ZoneMatrix]:
    """One run length matrix per slice (2D steps) or for the volume, with its voxel count."""
    level, length, z = runs(region.levels, region.intensity_mask, step)
    n = region.n_levels
    counts = np.zeros((region.levels.shape[0], n, longest))
    np.add.at(counts, (z, level - 1, length - 1), 1)
    voxels = region.intensity_mask.reshape(region.levels.shape[0], -1).sum(axis=1)
    return [ZoneMatrix(counts[k], float(voxels[k])) for k in range(counts.shape[0])]


def compute(region, aggregations: Sequence[str], **_: object) -> dict[str, FeatureValues]:
    """GLRLM features of the region for each requested aggregation."""
    longest = max(region.levels.shape)
    slices = roi_slices(region.intensity_mask)
    planar = [_matrices(region, d, longest) for d in DIRECTIONS_2D]
    per_slice = [[direction[k] for direction in planar] for k in slices]
    per_direction_3d = [ZoneMatrix.merge(_matrices(region, d, longest)) for d in DIRECTIONS_3D]
    return aggregate_directional(
        per_slice, per_direction_3d, ZoneMatrix.merge, describe_with(FEATURES), aggregations
    )


FAMILY = Family("glrlm", "glrlm", "Grey level run length matrix", FEATURES, True, compute)
