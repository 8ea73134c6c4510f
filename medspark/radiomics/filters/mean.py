"""IBSI 2 mean filter."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from medspark.radiomics.filters.convolution import NDIMAGE_MODE, window_support
from medspark.radiomics.filters.settings import MeanFilter


def mean_response(volume: np.ndarray, spacing: Sequence[float], spec: MeanFilter) -> np.ndarray:
    """The mean over a window of `spec.size` voxels along each filtered axis."""
    size = (1, spec.size, spec.size) if spec.dimensions == "2d" else (spec.size,) * 3
    return ndimage.uniform_filter(
        volume.astype(np.float64), size=size, mode=NDIMAGE_MODE[spec.boundary]
    )


def mean_support(spacing: Sequence[float], spec: MeanFilter) -> list[int]:
    """Voxels per axis the response at one voxel reads on either side."""
    return window_support(spec.size // 2, spec.dimensions)
