"""Grey level size zone matrix (IBSI 1, 3.8): 2D (per slice), 2.5D (slices merged) and 3D."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medspark.radiomics.aggregation import aggregate_zonal, roi_slices
from medspark.radiomics.family import Family, FeatureValues, features
from medspark.radiomics.neighbourhood import zones
from medspark.radiomics.zone_matrix import ZoneMatrix, describe_with

FEATURES = features(
    ("small_zone_emphasis", "5QRC", "Small zone emphasis"),
    ("large_zone_emphasis", "48P8", "Large zone emphasis"),
    ("low_grey_level_zone_emphasis", "XMSY", "Low grey level zone emphasis"),
    ("high_grey_level_zone_emphasis", "5GN9", "High grey level zone emphasis"),
    ("small_zone_low_grey_level_emphasis", "5RAI", "Small zone low grey level emphasis"),
    ("small_zone_high_grey_level_emphasis", "HW1V", "Small zone high grey level emphasis"),
    ("large_zone_low_grey_level_emphasis", "YH51", "Large zone low grey level emphasis"),
    ("large_zone_high_grey_level_emphasis", "J17V", "Large zone high grey level emphasis"),
    ("grey_level_non_uniformity", "JNSA", "Grey level non-uniformity"),
    ("grey_level_non_uniformity_normalised", "Y1RO", "Normalised grey level non-uniformity"),
    ("zone_size_non_uniformity", "4JP3", "Zone size non-uniformity"),
    ("zone_size_non_uniformity_normalised", "VB3A", "Normalised zone size non-uniformity"),
    ("zone_percentage", "P30P", "Zone percentage"),
    ("grey_level_variance", "BYLV", "Grey level variance"),
    ("zone_size_variance", "3NSA", "Zone size variance"),
    ("zone_size_entropy", "GU8N", "Zone size entropy"),
)


def zone_matrices(region, planar: bool, size_of) -> list[ZoneMatrix]:
    """Per slice (planar) or one for the volume: counts[level, size] with `size_of(zones)`."""
    mask = region.intensity_mask
    level, size, first_slice, labels, total = zones(region.levels, mask, region.n_levels, planar)
    measure = size_of(size, labels, total)
    longest = int(measure.max()) if total else 1
    per_slice = mask.reshape(mask.shape[0], -1).sum(axis=1)
    if not planar:
        counts = np.zeros((region.n_levels, longest))
        np.add.at(counts, (level - 1, measure - 1), 1)
        return [ZoneMatrix(counts, float(per_slice.sum()))]
    counts = np.zeros((mask.shape[0], region.n_levels, longest))
    np.add.at(counts, (first_slice, level - 1, measure - 1), 1)
    return [ZoneMatrix(counts[k], float(per_slice[k])) for k in range(mask.shape[0])]


def compute(region, aggregations: Sequence[str], **_: object) -> dict[str, FeatureValues]:
    """GLSZM features of the region for each requested aggregation."""
    sizes = lambda size, labels, total: size  # noqa: E731
    slices = roi_slices(region.intensity_mask)
    planar = zone_matrices(region, True, sizes)
    (volume,) = zone_matrices(region, False, sizes)
    return aggregate_zonal(
        [planar[k] for k in slices], volume, ZoneMatrix.merge, describe_with(FEATURES), aggregations
    )


FAMILY = Family("glszm", "glszm", "Grey level size zone matrix", FEATURES, True, compute)
