"""IBSI 2 convolutional filters: response maps of an image, computed before intensity
statistics so that one region is described unfiltered and filtered."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from medspark.radiomics.filters.gabor import gabor_response, gabor_support
from medspark.radiomics.filters.laplacian_of_gaussian import log_response, log_support
from medspark.radiomics.filters.laws import laws_response, laws_support
from medspark.radiomics.filters.mean import mean_response, mean_support
from medspark.radiomics.filters.settings import ImageFilter
from medspark.radiomics.filters.wavelets import (
    separable_wavelet_response,
    separable_wavelet_support,
    simoncelli_response,
    simoncelli_support,
)

_BY_KIND: dict[str, tuple[Callable[..., np.ndarray], Callable[..., list[int]]]] = {
    "mean": (mean_response, mean_support),
    "log": (log_response, log_support),
    "laws": (laws_response, laws_support),
    "gabor": (gabor_response, gabor_support),
    "wavelet": (separable_wavelet_response, separable_wavelet_support),
    "simoncelli": (simoncelli_response, simoncelli_support),
}
GLOBAL = -1
"""A support of -1 voxels: the filter reads the whole image."""


def response_map(volume: np.ndarray, spacing: Sequence[float], spec: Any) -> np.ndarray:
    """The filter's response map of a (z, y, x) volume with `spacing` in mm (z, y, x)."""
    return _BY_KIND[spec.kind][0](volume, spacing, spec)


def support_voxels(spacing: Sequence[float], spec: Any) -> list[int]:
    """Voxels per (z, y, x) axis the response at one voxel reads on either side; GLOBAL where
    it reads the whole image."""
    return _BY_KIND[spec.kind][1](spacing, spec)


__all__ = ["GLOBAL", "ImageFilter", "response_map", "support_voxels"]
