"""A region ready for feature extraction: intensities, its masks and its discretised levels.

Arrays are (slice, row, column) with spacing in mm in the same order. The morphological mask is
the region as drawn; the intensity mask is that region after re-segmentation (IBSI 1, 2.6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from medspark.radiomics.intensity_volume_bins import IvhBins


@dataclass(frozen=True)
class RegionImage:
    """One region on one image grid, after resampling, re-segmentation and discretisation."""

    values: np.ndarray
    morphology_mask: np.ndarray
    intensity_mask: np.ndarray
    levels: np.ndarray
    n_levels: int
    spacing: tuple[float, float, float]
    ivh: IvhBins | None = None
    """The intensity-volume histogram's bins; the texture levels when unset."""

    @property
    def voxel_volume(self) -> float:
        return float(np.prod(self.spacing))

    @property
    def intensities(self) -> np.ndarray:
        """The intensities inside the intensity mask, as float64."""
        return self.values[self.intensity_mask].astype(np.float64)

    @property
    def grey_levels(self) -> np.ndarray:
        """The discretised levels (1..n_levels) inside the intensity mask."""
        return self.levels[self.intensity_mask]
