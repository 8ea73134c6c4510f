"""Convolution under IBSI 2's boundary conditions, and pooling over the right-angle rotations
of a volume.

Volumes are (slice, row, column) = (z, y, x); a 2d filter works in the (y, x) plane of every
slice.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage, signal

from medspark.radiomics.filters.settings import Boundary, Dimensions, Pooling

NDIMAGE_MODE: dict[str, str] = {
    "constant": "constant",
    "nearest": "nearest",
    "periodic": "wrap",
    "mirror": "reflect",
}
PAD_MODE: dict[str, str] = {
    "constant": "constant",
    "nearest": "edge",
    "periodic": "wrap",
    "mirror": "symmetric",
}
IN_PLANE_AXES = (1, 2)
ALL_AXES = (0, 1, 2)
X_Y_Z_AXES = (2, 1, 0)
"""The volume axes of a kernel name's x, y and z parts (`E5L5S5`, `LHL`)."""


def filter_axes(dimensions: Dimensions) -> tuple[int, ...]:
    """The axes a filter of these dimensions convolves."""
    return IN_PLANE_AXES if dimensions == "2d" else ALL_AXES


def window_support(half: int, dimensions: Dimensions) -> list[int]:
    """Voxels per (z, y, x) axis a window of `half` voxels either side reads (none in z in 2d)."""
    return [0 if dimensions == "2d" else half, half, half]


def odd_length(kernel: np.ndarray) -> np.ndarray:
    """An even-length kernel with a zero appended, so that it has a centre voxel."""
    return np.append(kernel, 0.0) if len(kernel) % 2 == 0 else kernel


def convolve_separable(
    volume: np.ndarray, kernels: dict[int, np.ndarray], boundary: Boundary
) -> np.ndarray:
    """The volume convolved along each axis with that axis's 1D kernel."""
    result = volume.astype(np.float64)
    for axis in sorted(kernels):
        result = ndimage.convolve1d(
            result, odd_length(kernels[axis]), axis=axis, mode=NDIMAGE_MODE[boundary]
        )
    return result


def convolve_padded(
    volume: np.ndarray, kernel: np.ndarray, boundary: Boundary, axes: Sequence[int]
) -> np.ndarray:
    """The volume convolved with an odd-sized kernel over `axes` (by FFT), padded beforehand
    by half the kernel as the boundary condition says; the other axis is taken slice by slice."""
    pad = [(0, 0)] * volume.ndim
    for kernel_axis, axis in enumerate(axes):
        half = kernel.shape[kernel_axis] // 2
        pad[axis] = (half, half)
    padded = np.pad(volume.astype(np.float64), pad, mode=PAD_MODE[boundary])  # type: ignore[call-overload]
    shaped = kernel
    if len(axes) < volume.ndim:
        other = next(a for a in range(volume.ndim) if a not in axes)
        shaped = np.expand_dims(kernel, other)
    return signal.fftconvolve(padded, shaped, mode="valid", axes=list(axes))


def right_angle_rotations(dimensions: Dimensions) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """The proper right-angle rotations of the volume as (axis order, flipped axes): the 24 of
    the cube in 3d, the 4 of the slice plane in 2d (IBSI 2 rotation invariance)."""
    axes = filter_axes(dimensions)
    found = []
    for order in itertools.permutations(axes):
        parity = _permutation_sign([axes.index(a) for a in order])
        for flips in itertools.product((False, True), repeat=len(axes)):
            if parity * (-1) ** sum(flips) != 1:
                continue
            full_order = list(range(3))
            for position, axis in zip(axes, order, strict=True):
                full_order[position] = axis
            flipped = tuple(a for a, f in zip(axes, flips, strict=True) if f)
            found.append((tuple(full_order), flipped))
    return found


def _permutation_sign(order: list[int]) -> int:
    sign = 1
    order = list(order)
    for i in range(len(order)):
        while order[i] != i:
            j = order[i]
            order[i], order[j] = order[j], order[i]
            sign = -sign
    return sign


def pooled_over_rotations(
    volume: np.ndarray,
    response: Callable[[np.ndarray], np.ndarray],
    dimensions: Dimensions,
    pooling: Pooling,
) -> np.ndarray:
    """The response of every right-angle rotation of the volume, rotated back and pooled
    voxel by voxel (same as rotating the kernel, for the boundary conditions IBSI names)."""
    pooled: np.ndarray | None = None
    rotations = right_angle_rotations(dimensions)
    for order, flipped in rotations:
        turned = (
            np.flip(np.transpose(volume, order), flipped)
            if flipped
            else np.transpose(volume, order)
        )
        answer = response(np.ascontiguousarray(turned))
        if flipped:
            answer = np.flip(answer, flipped)
        answer = np.transpose(answer, np.argsort(order))
        pooled = answer if pooled is None else pool(pooled, answer, pooling)
    assert pooled is not None
    return pooled / len(rotations) if pooling == "mean" else pooled


def pool(a: np.ndarray, b: np.ndarray, pooling: Pooling) -> np.ndarray:
    """Two response maps pooled voxel by voxel (a running sum for `mean`)."""
    if pooling == "max":
        return np.maximum(a, b)
    if pooling == "min":
        return np.minimum(a, b)
    return a + b
