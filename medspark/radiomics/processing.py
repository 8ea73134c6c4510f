"""IBSI image processing of one region (IBSI 1, chapter 2): resampling, intensity rounding,
re-segmentation and discretisation, giving the `RegionImage` every family reads."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from medspark.dicom.reasons import Reason
from medspark.radiomics.families.local_intensity import SPHERE_RADIUS_MM
from medspark.radiomics.filters import GLOBAL, support_voxels
from medspark.radiomics.intensity_volume_bins import ivh_bins
from medspark.radiomics.options import Discretisation, RadiomicsSettings
from medspark.radiomics.region import RegionImage
from medspark.regions.rejected import RegionRejected

MAX_GREY_LEVELS = 10_000
SPLINE_ORDER = {"nearest": 0, "linear": 1, "cubic": 3}
INTEGER_VALUED_MODALITIES = frozenset({"CT"})


def _axis_coordinates(size: int, spacing: float, new_spacing: float) -> np.ndarray:
    """Positions, in original voxel indices, of a new grid with the same centre (IBSI 2.4)."""
    new_size = max(1, math.ceil(size * spacing / new_spacing))
    return (np.arange(new_size) - (new_size - 1) / 2.0) * (new_spacing / spacing) + (size - 1) / 2.0


def crop_box(mask: np.ndarray, margin: Sequence[int]) -> tuple[slice, ...]:
    """The region's bounding box grown by `margin` voxels per axis (the whole axis where the
    margin is negative), inside the array."""
    found = np.argwhere(mask)
    boxes = []
    for axis, size in enumerate(mask.shape):
        if margin[axis] < 0:
            boxes.append(slice(0, size))
            continue
        low = max(int(found[:, axis].min()) - margin[axis], 0)
        high = min(int(found[:, axis].max()) + margin[axis] + 1, size)
        boxes.append(slice(low, high))
    return tuple(boxes)


def context_voxels(settings: RadiomicsSettings, spacing: Sequence[float]) -> list[int]:
    """Voxels around the region, per (z, y, x) axis of a grid with `spacing`, that the local
    intensity sphere and every filter read; -1 where a filter reads the whole image."""
    margin = [math.ceil(SPHERE_RADIUS_MM / float(s)) + 1 for s in spacing]
    for spec in settings.filters:
        reach = support_voxels(spacing, spec)
        margin = [
            GLOBAL if GLOBAL in (m, r) else max(m, r + 1)
            for m, r in zip(margin, reach, strict=True)
        ]
    return margin


def resample(
    values: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    new_spacing: Sequence[float],
    interpolation: str,
    mask_threshold: float = 0.5,
    margin: Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Image and mask on the new grid, evaluated only around the region (`margin` new voxels
    per axis beyond it; -1: the whole axis).

    The grid keeps the image's centre (IBSI 2.4) and spans the image's extent (voxels beyond the
    outermost centres take the nearest value); the image is interpolated by B-splines of the
    order `interpolation` names, the mask linearly and kept where >= `mask_threshold`.
    """
    if margin is None:
        margin = [math.ceil((SPHERE_RADIUS_MM + 2 * max(new_spacing)) / s) for s in new_spacing]
    order = SPLINE_ORDER[interpolation]
    reach = [
        -1 if m < 0 else math.ceil(m * new / old) + 1 + order
        for m, old, new in zip(margin, spacing, new_spacing, strict=True)
    ]
    box = crop_box(mask, reach)
    source, source_mask = values[box].astype(np.float64), mask[box].astype(np.float64)
    axes = []
    for axis, (size, old, new) in enumerate(zip(values.shape, spacing, new_spacing, strict=True)):
        coordinates = _axis_coordinates(size, old, new)
        low = -0.5 if box[axis].start == 0 else box[axis].start
        high = size - 0.5 if box[axis].stop == size else box[axis].stop - 1
        inside = (coordinates >= low) & (coordinates <= high)
        axes.append(coordinates[inside] - box[axis].start)
    grid = np.meshgrid(*axes, indexing="ij")
    new_values = ndimage.map_coordinates(source, grid, order=order, mode="nearest")
    new_mask = ndimage.map_coordinates(source_mask, grid, order=1, mode="constant")
    return new_values, new_mask >= mask_threshold


def rounds_intensities(settings: RadiomicsSettings, modality: str | None) -> bool:
    """Whether intensities are rounded to integers after resampling (IBSI 2.4: for images of
    integer values such as CT in HU)."""
    if settings.intensity_rounding == "auto":
        return (modality or "").upper() in INTEGER_VALUED_MODALITIES
    return settings.intensity_rounding == "on"


def resegmented(
    values: np.ndarray, mask: np.ndarray, settings: RadiomicsSettings
) -> tuple[np.ndarray, tuple[float | None, float | None]]:
    """The intensity mask after re-segmentation (IBSI 2.5) and the intensity range it kept:
    the range, narrowed to the mean +- k SD of the region as drawn when outliers are filtered
    too (MIRP's reading, which reproduces IBSI configuration E)."""
    low: float | None = None
    high: float | None = None
    if settings.resegment is not None:
        low, high = settings.resegment
    if settings.resegment_outliers_sd is not None:
        inside = values[mask]
        centre, spread = float(inside.mean()), float(inside.std())
        k = settings.resegment_outliers_sd
        low = centre - k * spread if low is None else max(low, centre - k * spread)
        high = centre + k * spread if high is None else min(high, centre + k * spread)
    kept = mask.copy()
    if low is not None:
        kept &= values >= low
    if high is not None:
        kept &= values <= high
    return kept, (low, high)


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


def new_spacing_of(settings: RadiomicsSettings, spacing: Sequence[float]) -> tuple[float, ...]:
    """The (z, y, x) spacing after resampling: `resample_mm` is [x, y, z], a null axis kept."""
    assert settings.resample_mm is not None
    x, y, z = settings.resample_mm
    return tuple(
        float(old if new is None else new) for new, old in zip((z, y, x), spacing, strict=True)
    )


def prepare_region(
    values: np.ndarray,
    mask: np.ndarray,
    spacing: Sequence[float],
    settings: RadiomicsSettings,
    modality: str | None = None,
) -> RegionImage:
    """The region ready for the families: resampled, rounded, cropped, re-segmented and
    discretised, with the context around it that its filters read.

    `values`, `mask` and `spacing` are (slice, row, column); `settings.resample_mm` is [x, y, z].
    """
    if not mask.any():
        raise RegionRejected(Reason.ROI_EMPTY, "the region has no voxel on the image grid")
    if int(mask.sum()) > settings.max_region_voxels:
        raise RegionRejected(Reason.ROI_TOO_LARGE, f"{int(mask.sum())} voxels")
    spacing = (float(spacing[0]), float(spacing[1]), float(spacing[2]))
    if settings.resample_mm is not None:
        new_spacing = new_spacing_of(settings, spacing)
        values, mask = resample(
            values,
            mask,
            spacing,
            new_spacing,
            settings.interpolation,
            settings.mask_threshold,
            context_voxels(settings, new_spacing),
        )
        spacing = (new_spacing[0], new_spacing[1], new_spacing[2])
        if not mask.any():
            raise RegionRejected(Reason.ROI_EMPTY, "no voxel left after resampling")
    box = crop_box(mask, context_voxels(settings, spacing))
    values, mask = values[box].astype(np.float64), mask[box]
    if rounds_intensities(settings, modality):
        values = np.round(values)
    intensity_mask, kept_range = resegmented(values, mask, settings)
    if not intensity_mask.any():
        raise RegionRejected(Reason.ROI_EMPTY, "no voxel inside the re-segmentation range")
    levels, n_levels = discretise_region(
        values, intensity_mask, settings.discretisation, kept_range[0]
    )
    return RegionImage(
        values,
        mask,
        intensity_mask,
        levels,
        n_levels,
        spacing,
        ivh=ivh_bins(values[intensity_mask], levels[intensity_mask], kept_range, settings.ivh),
    )
