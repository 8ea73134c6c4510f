"""Local intensity features (IBSI 1, 3.2): mean intensity in a 1 cm³ sphere around voxels.

The sphere (radius 6.2 mm) takes every image voxel whose centre lies inside it, in the region or
not; the local peak is centred on the region's maximum (the largest mean when several voxels
share it), the global peak on every region voxel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from medspark.radiomics.family import WHOLE_REGION, Family, FeatureValues, features

FEATURES = features(
    ("local_peak", "VJGA", "Local intensity peak"),
    ("global_peak", "0F91", "Global intensity peak"),
)
SPHERE_RADIUS_MM = (3.0 / (4.0 * np.pi)) ** (1.0 / 3.0) * 10.0


def sphere_kernel(spacing: Sequence[float]) -> np.ndarray:
    """Normalised weights of the voxels whose centres lie within the 1 cm³ sphere."""
    half = [int(np.floor(SPHERE_RADIUS_MM / s)) for s in spacing]
    grid = np.meshgrid(
        *[np.arange(-h, h + 1) * s for h, s in zip(half, spacing, strict=True)], indexing="ij"
    )
    inside = sum(g * g for g in grid) <= SPHERE_RADIUS_MM**2
    return inside / inside.sum()


def compute(region, aggregations: Sequence[str] = (), **_: object) -> dict[str, FeatureValues]:
    """Local and global intensity peaks."""
    kernel = sphere_kernel(region.spacing)
    values = region.values.astype(np.float64)
    mask = region.intensity_mask
    local_sum = ndimage.convolve(values, kernel, mode="constant", cval=0.0)
    weight = ndimage.convolve(np.ones(values.shape), kernel, mode="constant", cval=0.0)
    means = (local_sum / weight)[mask]
    intensities = values[mask]
    at_maximum = intensities == intensities.max()
    return {
        WHOLE_REGION: {
            "local_peak": float(means[at_maximum].max()),
            "global_peak": float(means.max()),
        }
    }


FAMILY = Family("local_intensity", "li", "Local intensity", FEATURES, False, compute)
