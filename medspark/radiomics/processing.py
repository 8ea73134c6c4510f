"""IBSI image processing of one region (IBSI 1, chapter 2): resampling, re-segmentation and
discretisation, giving the `RegionImage` every family reads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from medspark.dicom.reasons import Reason
from medspark.radiomics.families.local_intensity import SPHERE_RADIUS_MM
from medspark.radiomics.options import Discretisation, RadiomicsSettings
from medspark.radiomics.region import RegionImage
from medspark.regions.rejected import RegionRejected

MAX_GREY_LEVELS = 10_000


def _axis_coordinates(size: int, spacing: float, new_spacing: float) -> np.ndarray:
    """Positions, in original voxel indices, of a new grid with the same centre (IBSI 2.4)."""
    new_size = max(1, math.ceil(size * spacing / new_spacing))
    return (np.arange(new_size) - (new_size - 1) / 2.0) * (new_spacing / spacing) + (size - 1) / 2.0


def crop_box(mask: np.ndarray, margin: Sequence[int]) -> tuple[slice, ...]:
    """The region's bounding box grown by `margin` voxels per axis, inside the array."""
    found = np.argwhere(mask)
    low = np.maximum(found.min(axis=0) - margin, 0)
    high = np.minimum(found.max(axis=0) + np.asarray(margin) + 1, mask.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))


def resample(
    values: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    new_spacing: Sequence[float],
    interpolation: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Image and mask on the new grid, evaluated only around the region.

    The grid keeps the image's centre; the mask is interpolated linearly and kept where >= 0.5.
    """
    margin_mm = SPHERE_RADIUS_MM + 2 * max(new_spacing)
    box = crop_box(mask, [math.ceil(margin_mm / s) + 1 for s in spacing])
    axes = []
    for axis, (size, old, new) in enumerate(zip(values.shape, spacing, new_spacing, strict=True)):
        coordinates = _axis_coordinates(size, old, new)
        inside = (coordinates >= box[axis].start) & (coordinates <= box[axis].stop - 1)
        axes.append(coordinates[inside])
    grid = np.meshgrid(*axes, indexing="ij")
    order = 1 if interpolation == "linear" else 0
    new_values = ndimage.map_coordinates(
        values.astype(np.float64), grid, order=order, mode="nearest"
    )
    new_mask = ndimage.map_coordinates(mask.astype(np.float64), grid, order=1, mode="constant")
    return new_values, new_mask >= 0.5


def discretise_region(
    values: np.ndarray, mask: np.ndarray, method: Discretisation, resegment_low: float | None
) -> tuple[np.ndarray, int]:
    """Levels (0 outside the mask) and their number, by fixed bin number or width (IBSI 2.7)."""
    inside = values[mask].astype(np.float64)
    levels = np.zeros(values.shape, dtype=np.int64)
    if method.method == "fixed_bin_number":
        low, high = float(inside.min()), float(inside.max())
        if high > low:
            found = np.floor(method.bins * (inside - low) / (high - low)).astype(np.int64) + 1
            levels[mask] = np.minimum(found, method.bins)
        else:
            levels[mask] = 1
        return levels, method.bins
    lower = method.lower_bound
    if lower is None:
        lower = resegment_low if resegment_low is not None else float(inside.min())
    found = np.maximum(np.floor((inside - lower) / method.bin_width).astype(np.int64) + 1, 1)
    n_levels = int(found.max())
    if n_levels > MAX_GREY_LEVELS:
        raise RegionRejected(
            Reason.TOO_MANY_GREY_LEVELS, f"{n_levels} bins of width {method.bin_width}"
        )
    levels[mask] = found
    return levels, n_levels


def prepare_region(
    values: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    settings: RadiomicsSettings,
) -> RegionImage:
    """The region ready for the families: resampled, cropped, re-segmented and discretised.

    `values`, `mask` and `spacing` are (slice, row, column); `settings.resample_mm` is [x, y, z].
    """
    if not mask.any():
        raise RegionRejected(Reason.ROI_EMPTY, "the region has no voxel on the image grid")
    if int(mask.sum()) > settings.max_region_voxels:
        raise RegionRejected(Reason.ROI_TOO_LARGE, f"{int(mask.sum())} voxels")
    spacing = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    if settings.resample_mm is not None:
        x, y, z = settings.resample_mm
        new_spacing = (float(z), float(y), float(x))
        values, mask = resample(values, mask, spacing, new_spacing, settings.interpolation)
        spacing = new_spacing
        if not mask.any():
            raise RegionRejected(Reason.ROI_EMPTY, "no voxel left after resampling")
    else:
        box = crop_box(mask, [math.ceil(SPHERE_RADIUS_MM / s) + 1 for s in spacing])
        values, mask = values[box], mask[box]
    values = values.astype(np.float64)
    intensity_mask = mask.copy()
    if settings.resegment is not None:
        low, high = settings.resegment
        intensity_mask &= (values >= low) & (values <= high)
        if not intensity_mask.any():
            raise RegionRejected(Reason.ROI_EMPTY, "no voxel inside the re-segmentation range")
    lower = settings.resegment[0] if settings.resegment is not None else None
    levels, n_levels = discretise_region(values, intensity_mask, settings.discretisation, lower)
    return RegionImage(values, mask, intensity_mask, levels, n_levels, spacing)
