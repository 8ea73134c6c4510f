"""Grey level distance zone matrix (IBSI 1, 3.9): 2D (per slice), 2.5D and 3D.

A zone's distance is the smallest, over its voxels, of the taxicab distance to the edge of the
region (4-connected in a slice, 6-connected in the volume); voxels on the edge are at 1. The
edge is that of the morphological mask, so re-segmentation holes do not create new edges.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from medspark.radiomics.aggregation import aggregate_zonal, roi_slices
from medspark.radiomics.families.size_zone import zone_matrices
from medspark.radiomics.family import Family, FeatureValues, features
from medspark.radiomics.zone_matrix import ZoneMatrix, describe_with

FEATURES = features(
    ("small_distance_emphasis", "0GBI", "Small distance emphasis"),
    ("large_distance_emphasis", "MB4I", "Large distance emphasis"),
    ("low_grey_level_zone_emphasis", "S1RA", "Low grey level zone emphasis"),
    ("high_grey_level_zone_emphasis", "K26C", "High grey level zone emphasis"),
    ("small_distance_low_grey_level_emphasis", "RUVG", "Small distance low grey level emphasis"),
    ("small_distance_high_grey_level_emphasis", "DKNJ", "Small distance high grey level emphasis"),
    ("large_distance_low_grey_level_emphasis", "A7WM", "Large distance low grey level emphasis"),
    ("large_distance_high_grey_level_emphasis", "KLTH", "Large distance high grey level emphasis"),
    ("grey_level_non_uniformity", "VFT7", "Grey level non-uniformity"),
    ("grey_level_non_uniformity_normalised", "7HP3", "Normalised grey level non-uniformity"),
    ("zone_distance_non_uniformity", "V294", "Zone distance non-uniformity"),
    ("zone_distance_non_uniformity_normalised", "IATH", "Normalised zone distance non-uniformity"),
    ("zone_percentage", "VIWW", "Zone percentage"),
    ("grey_level_variance", "QK93", "Grey level variance"),
    ("zone_distance_variance", "7WT1", "Zone distance variance"),
    ("zone_distance_entropy", "GBDU", "Zone distance entropy"),
)


def edge_distance(mask: np.ndarray, planar: bool) -> np.ndarray:
    """Taxicab distance of every region voxel to the nearest voxel outside it (edge = 1)."""
    padded = np.pad(mask, ((0, 0), (1, 1), (1, 1)) if planar else 1)
    if planar:
        distance = np.stack([ndimage.distance_transform_cdt(s, metric="taxicab") for s in padded])
        return distance[:, 1:-1, 1:-1]
    return ndimage.distance_transform_cdt(padded, metric="taxicab")[1:-1, 1:-1, 1:-1]


def _distances(region, planar: bool):
    distance = edge_distance(region.morphology_mask, planar)

    def measure(size, labels, total):
        if not total:
            return np.zeros(0, dtype=np.int64)
        found = ndimage.minimum(distance, labels, np.arange(1, total + 1))
        return np.asarray(found, dtype=np.int64).reshape(-1)

    return measure


def compute(region, aggregations: Sequence[str], **_: object) -> dict[str, FeatureValues]:
    """GLDZM features of the region for each requested aggregation."""
    slices = roi_slices(region.intensity_mask)
    planar = zone_matrices(region, True, _distances(region, True))
    (volume,) = zone_matrices(region, False, _distances(region, False))
    return aggregate_zonal(
        [planar[k] for k in slices], volume, ZoneMatrix.merge, describe_with(FEATURES), aggregations
    )


FAMILY = Family("gldzm", "gldzm", "Grey level distance zone matrix", FEATURES, True, compute)
