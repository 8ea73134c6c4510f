"""IBSI texture aggregation (IBSI 1, 3.1.3): how per-slice and per-direction matrices combine.

Direction-based families (GLCM, GLRLM) give one matrix per slice and 2D direction, and one per
3D direction; zone-based families (GLSZM, GLDZM, NGTDM, NGLDM) give one matrix per slice and one
for the volume. Matrices are merged by summing their counts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from medspark.radiomics.family import FeatureValues

DIRECTIONS_2D = ((0, 0, 1), (0, 1, 1), (0, 1, 0), (0, 1, -1))
DIRECTIONS_3D = tuple(
    (dz, dy, dx)
    for dz in (-1, 0, 1)
    for dy in (-1, 0, 1)
    for dx in (-1, 0, 1)
    if (dz, dy, dx) > (0, 0, 0)
)

Merge = Callable[[Sequence[Any]], Any]
Describe = Callable[[Any], FeatureValues]


def mean_features(values: Sequence[FeatureValues]) -> FeatureValues:
    """Feature-wise mean; a feature undefined in some matrices averages over the others."""
    values = [v for v in values if v]
    if not values:
        return {}
    averaged: FeatureValues = {}
    for name in values[0]:
        defined = [float(x) for v in values if (x := v.get(name)) is not None]
        averaged[name] = float(np.mean(defined)) if defined else None
    return averaged


def aggregate_directional(
    per_slice: Sequence[Sequence[Any]],
    per_direction_3d: Sequence[Any],
    merge: Merge,
    describe: Describe,
    aggregations: Sequence[str],
) -> dict[str, FeatureValues]:
    """The six IBSI aggregations of a direction-based family.

    `per_slice[s][d]` is slice s's matrix for 2D direction d; `per_direction_3d[d]` the volume's
    matrix for 3D direction d. Slices whose region is empty are left out by the caller.
    IBSI's "2D, slice-merged" merges a slice's directions; "2.5D, direction-merged" merges each
    direction over the slices.
    """
    out: dict[str, FeatureValues] = {}
    for method in aggregations:
        if method == "2d_averaged":
            out[method] = mean_features([describe(m) for s in per_slice for m in s])
        elif method == "2d_slice_merged":
            out[method] = mean_features([describe(merge(s)) for s in per_slice])
        elif method == "2.5d_direction_merged":
            directions = range(len(per_slice[0])) if per_slice else ()
            out[method] = mean_features(
                [describe(merge([s[d] for s in per_slice])) for d in directions]
            )
        elif method == "2.5d_merged":
            out[method] = describe(merge([m for s in per_slice for m in s])) if per_slice else {}
        elif method == "3d_averaged":
            out[method] = mean_features([describe(m) for m in per_direction_3d])
        elif method == "3d_merged":
            out[method] = describe(merge(per_direction_3d)) if per_direction_3d else {}
    return out


def aggregate_zonal(
    per_slice: Sequence[Any],
    volume: Any,
    merge: Merge,
    describe: Describe,
    aggregations: Sequence[str],
) -> dict[str, FeatureValues]:
    """The aggregations of a zone-based family, whose matrices already span all directions.

    Per-slice features averaged (IBSI "2D") fill `2d_averaged` and `2d_slice_merged`;
    slices merged ("2.5D") fill `2.5d_direction_merged` and `2.5d_merged`; the volume's matrix
    ("3D") fills both 3D aggregations.
    """
    out: dict[str, FeatureValues] = {}
    for method in aggregations:
        if method in ("2d_averaged", "2d_slice_merged"):
            out[method] = mean_features([describe(m) for m in per_slice])
        elif method in ("2.5d_direction_merged", "2.5d_merged"):
            out[method] = describe(merge(per_slice)) if per_slice else {}
        elif method in ("3d_averaged", "3d_merged"):
            out[method] = describe(volume) if volume is not None else {}
    return out


def roi_slices(mask: np.ndarray) -> list[int]:
    """Indices of the slices that hold part of the region."""
    return [int(k) for k in np.flatnonzero(mask.reshape(mask.shape[0], -1).any(axis=1))]


def shifted_pairs(
    levels: np.ndarray, mask: np.ndarray, offset: tuple[int, int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(first level, second level, slice of first) for voxel pairs both in the mask at `offset`."""
    slices_a, slices_b = [], []
    for step, size in zip(offset, levels.shape, strict=True):
        slices_a.append(slice(max(0, -step), min(size, size - step)))
        slices_b.append(slice(max(0, step), min(size, size + step)))
    a, b = tuple(slices_a), tuple(slices_b)
    both = mask[a] & mask[b]
    z = np.broadcast_to(np.arange(levels.shape[0])[a[0]][:, None, None], both.shape)
    return levels[a][both], levels[b][both], z[both]
