"""IBSI 2 Laplacian of Gaussian."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medspark.radiomics.filters.convolution import convolve_padded, filter_axes
from medspark.radiomics.filters.settings import LaplacianOfGaussianFilter


def _sigma_voxels(spacing: Sequence[float], spec: LaplacianOfGaussianFilter) -> float:
    axes = filter_axes(spec.dimensions)
    return spec.sigma_mm / max(float(spacing[a]) for a in axes)


def log_kernel(sigma: float, truncate: float, dimensions: int) -> np.ndarray:
    """The sampled Laplacian of a normalised Gaussian of scale `sigma` voxels, 1 + 2 floor(
    truncate sigma + 0.5) voxels wide on each axis (IBSI 2, eq. 2.3)."""
    half = math.floor(truncate * sigma + 0.5)
    axis = np.arange(-half, half + 1, dtype=np.float64)
    grids = np.meshgrid(*([axis] * dimensions), indexing="ij")
    norm_2 = sum(g**2 for g in grids)
    scale = -1.0 / sigma**2 * (2.0 * np.pi * sigma**2) ** (-dimensions / 2.0)
    return scale * (dimensions - norm_2 / sigma**2) * np.exp(-norm_2 / (2.0 * sigma**2))


def log_response(
    volume: np.ndarray, spacing: Sequence[float], spec: LaplacianOfGaussianFilter
) -> np.ndarray:
    """The volume convolved with the Laplacian of Gaussian."""
    axes = filter_axes(spec.dimensions)
    kernel = log_kernel(_sigma_voxels(spacing, spec), spec.truncate, len(axes))
    return convolve_padded(volume, kernel, spec.boundary, axes)


def log_support(spacing: Sequence[float], spec: LaplacianOfGaussianFilter) -> list[int]:
    """Voxels per axis the response at one voxel reads on either side."""
    half = math.floor(spec.truncate * _sigma_voxels(spacing, spec) + 0.5)
    return [half if a in filter_axes(spec.dimensions) else 0 for a in range(3)]
