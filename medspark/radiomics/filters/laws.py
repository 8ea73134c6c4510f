"""IBSI 2 Laws kernels and their energy maps."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from medspark.radiomics.filters.convolution import (
    NDIMAGE_MODE,
    X_Y_Z_AXES,
    convolve_separable,
    pooled_over_rotations,
    window_support,
)
from medspark.radiomics.filters.settings import LawsFilter

KERNELS: dict[str, tuple[float, ...]] = {
    "L3": (1, 2, 1),
    "E3": (-1, 0, 1),
    "S3": (-1, 2, -1),
    "L5": (1, 4, 6, 4, 1),
    "E5": (-1, -2, 0, 2, 1),
    "S5": (-1, 0, 2, 0, -1),
    "W5": (-1, 2, 0, -2, 1),
    "R5": (1, -4, 6, -4, 1),
}


def laws_kernel(name: str) -> np.ndarray:
    """One Laws kernel with unit L2 norm (IBSI 2, table 2.1)."""
    kernel = np.asarray(KERNELS[name], dtype=np.float64)
    return kernel / np.sqrt(np.sum(kernel**2))


def laws_response(volume: np.ndarray, spacing: Sequence[float], spec: LawsFilter) -> np.ndarray:
    """The separable Laws response, pooled over rotations when asked, then its energy map."""
    names = [spec.kernels[i : i + 2] for i in range(0, len(spec.kernels), 2)]
    kernels = {axis: laws_kernel(name) for axis, name in zip(X_Y_Z_AXES, names, strict=False)}

    def respond(image: np.ndarray) -> np.ndarray:
        return convolve_separable(image, kernels, spec.boundary)

    if spec.rotation_invariant:
        response = pooled_over_rotations(volume, respond, spec.dimensions, spec.pooling)
    else:
        response = respond(volume)
    if spec.energy_delta is None:
        return response
    window = 2 * spec.energy_delta + 1
    size = (1, window, window) if spec.dimensions == "2d" else (window,) * 3
    return ndimage.uniform_filter(np.abs(response), size=size, mode=NDIMAGE_MODE[spec.boundary])


def laws_support(spacing: Sequence[float], spec: LawsFilter) -> list[int]:
    """Voxels per axis the response at one voxel reads on either side."""
    half = max(len(KERNELS[spec.kernels[i : i + 2]]) for i in range(0, len(spec.kernels), 2)) // 2
    half += spec.energy_delta or 0
    return window_support(half, spec.dimensions)
