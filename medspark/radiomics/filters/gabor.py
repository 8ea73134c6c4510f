"""IBSI 2 Gabor filter, in the slice plane or pooled over the three orthogonal planes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from medspark.radiomics.filters.convolution import convolve_padded, pool
from medspark.radiomics.filters.settings import GaborFilter


def gabor_kernel(size: int, sigma: float, lambda_: float, gamma: float, theta: float) -> np.ndarray:
    """The complex 2D Gabor kernel (rows y, columns x), `size` voxels square, scales in voxels
    and `theta` in radians (IBSI 2, eq. 2.5)."""
    centre = (size - 1) / 2.0
    y, x = np.mgrid[:size, :size].astype(np.float64) - centre
    along = math.sin(theta) * y + math.cos(theta) * x
    across = -math.cos(theta) * y + math.sin(theta) * x
    envelope = -(along**2 + gamma**2 * across**2) / (2.0 * sigma**2)
    return np.exp(envelope + 1j * 2.0 * np.pi * along / lambda_)


def _orientations(spec: GaborFilter) -> list[float]:
    if spec.theta_step_deg is None:
        return [math.radians(spec.theta_deg)]
    steps = round(360.0 / spec.theta_step_deg)
    return [math.radians(spec.theta_deg + k * spec.theta_step_deg) for k in range(steps)]


def _plane_response(
    volume: np.ndarray, spacing: Sequence[float], spec: GaborFilter, normal: int, theta: float
) -> np.ndarray:
    plane = tuple(a for a in range(3) if a != normal)
    step = max(float(spacing[a]) for a in plane)
    size = 1 + 2 * (max(volume.shape[a] for a in plane) // 2)
    kernel = gabor_kernel(size, spec.sigma_mm / step, spec.lambda_mm / step, spec.gamma, theta)
    return np.abs(convolve_padded(volume, kernel, spec.boundary, plane))


def gabor_response(volume: np.ndarray, spacing: Sequence[float], spec: GaborFilter) -> np.ndarray:
    """The modulus of the Gabor response, pooled over the orientations and planes asked for."""
    normals = (0, 1, 2) if spec.orthogonal_planes else (0,)
    pooled: np.ndarray | None = None
    count = 0
    for normal in normals:
        for theta in _orientations(spec):
            answer = _plane_response(volume, spacing, spec, normal, theta)
            pooled = answer if pooled is None else pool(pooled, answer, spec.pooling)
            count += 1
    assert pooled is not None
    return pooled / count if spec.pooling == "mean" else pooled


def gabor_support(spacing: Sequence[float], spec: GaborFilter) -> list[int]:
    """Voxels per axis beyond which the Gaussian envelope is below exp(-8) of its peak."""
    reach_mm = 4.0 * spec.sigma_mm / min(spec.gamma, 1.0)
    in_plane = [math.ceil(reach_mm / float(s)) for s in spacing]
    return in_plane if spec.orthogonal_planes else [0, in_plane[1], in_plane[2]]
