"""The bins the intensity-volume histogram counts (IBSI 1, 3.5), apart from the texture
discretisation."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from medspark.radiomics.options import IvhDiscretisation


@dataclass(frozen=True)
class IvhBins:
    """Each region voxel's bin (0-based), every bin's intensity in increasing order (empty
    bins included), and the step to the intensity after the last bin."""

    index: np.ndarray
    intensities: np.ndarray
    step: float


def ivh_bins(
    intensities: np.ndarray,
    texture_levels: np.ndarray,
    kept_range: tuple[float | None, float | None],
    method: IvhDiscretisation,
) -> IvhBins:
    """The region's voxels binned as `method` says; the range is the re-segmentation's where it
    has one, else the region's."""
    if method.method == "texture":
        low_level = int(texture_levels.min())
        top_level = int(texture_levels.max())
        return IvhBins(
            texture_levels - low_level, np.arange(low_level, top_level + 1, dtype=np.float64), 1.0
        )
    low = kept_range[0] if kept_range[0] is not None else float(intensities.min())
    high = kept_range[1] if kept_range[1] is not None else float(intensities.max())
    if method.method == "none":
        low, high = math.ceil(low - 1e-9), math.floor(high + 1e-9)
        count = max(high - low + 1, 1)
        index = np.clip(np.rint(intensities - low).astype(np.int64), 0, count - 1)
        return IvhBins(index, low + np.arange(count, dtype=np.float64), 1.0)
    if method.method == "fixed_bin_width":
        assert method.bin_width is not None
        width = method.bin_width
        count = math.ceil((high - low) / width) + 1
        index = np.clip(np.floor((intensities - low) / width).astype(np.int64), 0, count - 1)
        centres = low + (np.arange(count, dtype=np.float64) + 0.5) * width
        return IvhBins(index, centres, width)
    low, high = float(intensities.min()), float(intensities.max())
    bins = method.bins
    if high > low:
        found = np.floor(bins * (intensities - low) / (high - low)).astype(np.int64)
        index = np.clip(found, 0, bins - 1)
    else:
        index = np.zeros(intensities.shape, dtype=np.int64)
    return IvhBins(index, np.arange(1, bins + 1, dtype=np.float64), 1.0)
