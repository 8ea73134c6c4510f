"""What a volume table row says of a volume: first-order features, a region, four pictures."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from scipy import ndimage

from medspark.imaging.first_order import first_order
from medspark.imaging.intensity import WINDOW_PRESETS, linear_window
from medspark.imaging.render import png_thumbnail
from medspark.volume.build import Volume


def otsu_threshold(values: np.ndarray, bins: int = 1024) -> float:
    """Otsu's threshold of any float array, from a `bins`-bin histogram."""
    finite = values[np.isfinite(values)]
    low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return low
    counts, edges = np.histogram(finite, bins=bins, range=(low, high))
    centres = (edges[:-1] + edges[1:]) / 2
    weight = np.cumsum(counts).astype(np.float64)
    total = weight[-1]
    mean = np.cumsum(counts * centres)
    between = (mean[-1] * weight / total - mean) ** 2 / np.maximum(weight * (total - weight), 1e-12)
    return float(edges[int(np.argmax(between[:-1])) + 1])


def region_mask(
    values: np.ndarray, rule: str | list[float], largest_component: bool = True
) -> tuple[np.ndarray, float]:
    """The segmented region and its lower threshold: Otsu, or an explicit [low, high] range."""
    if isinstance(rule, list | tuple):
        low, high = float(rule[0]), float(rule[1])
        mask = (values >= low) & (values <= high)
    else:
        low = otsu_threshold(values)
        mask = values > low
    if largest_component and mask.any():
        labels, count = ndimage.label(mask)
        if count > 1:
            sizes = np.bincount(labels.ravel())
            sizes[0] = 0
            mask = labels == int(np.argmax(sizes))
    return mask, low


def _display(values: np.ndarray, volume: Volume, setting: str | list[float]) -> np.ndarray:
    if isinstance(setting, list | tuple):
        centre, width = float(setting[0]), float(setting[1])
    elif setting in WINDOW_PRESETS:
        centre, width = WINDOW_PRESETS[setting]
    elif setting == "header" and volume.window is not None:
        centre, width = volume.window
    else:
        low, high = np.percentile(volume.values, [0.5, 99.5])
        centre, width = (low + high) / 2, max(high - low, 1e-6)
    return (linear_window(values, centre, width) * 255).astype(np.uint8)


def _physical_aspect(image: np.ndarray, row_mm: float, column_mm: float) -> np.ndarray:
    """Resample so a pixel is square in millimetres (the finer spacing kept)."""
    if row_mm <= 0 or column_mm <= 0 or abs(row_mm - column_mm) < 1e-6:
        return image
    finest = min(row_mm, column_mm)
    height = max(1, round(image.shape[0] * row_mm / finest))
    width = max(1, round(image.shape[1] * column_mm / finest))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR)


def planes_png(volume: Volume, setting: str | list[float], size: int) -> dict[str, bytes]:
    """Axial, coronal and sagittal mid-planes and the axial maximum-intensity projection.

    Coronal and sagittal views put the last slice (furthest along the normal; superior for
    a standard axial series) at the top.
    """
    values = volume.values
    slices, rows, columns = values.shape
    spacing = volume.spacing_mm or (1.0, 1.0, 1.0)
    views = {
        "axial": (values[slices // 2], spacing[1], spacing[2]),
        "coronal": (values[::-1, rows // 2, :], spacing[0], spacing[2]),
        "sagittal": (values[::-1, :, columns // 2], spacing[0], spacing[1]),
        "mip": (values.max(axis=0), spacing[1], spacing[2]),
    }
    return {
        name: png_thumbnail(_physical_aspect(_display(image, volume, setting), r, c), size)
        for name, (image, r, c) in views.items()
    }


def describe_volume(
    volume: Volume,
    *,
    region: str | list[float] = "otsu",
    largest_component: bool = True,
    window: str | list[float] = "header",
    thumbnail_size: int = 192,
    bins: int = 32,
) -> dict[str, Any]:
    """Geometry, first-order features, region volume and PNG views, as volume table columns."""
    order = volume.order
    mask, threshold = region_mask(volume.values, region, largest_component)
    voxels = int(mask.sum())
    pictures = planes_png(volume, window, thumbnail_size)
    return {
        "n_slices": int(volume.values.shape[0]),
        "dimensions": [int(v) for v in volume.values.shape],
        "spacing_mm": list(volume.spacing_mm) if volume.spacing_mm else None,
        "orientation": list(order.planes[0].orientation or ()) if order.normal else None,
        "slice_normal": list(order.normal) if order.normal else None,
        "origin_mm": list(order.planes[0].position or ()) if order.normal else None,
        "missing_slices": order.missing_slices,
        "gap_positions_mm": order.gap_positions_mm,
        "spacing_irregular": order.spacing_irregular,
        "interpolated_slices": volume.interpolated_slices,
        "intensity_unit": volume.unit,
        **first_order(volume.values, None, bins=bins),
        "region_rule": "otsu" if isinstance(region, str) else f"range {region[0]}..{region[1]}",
        "region_threshold": threshold,
        "region_voxels": voxels,
        "region_volume_mm3": (
            voxels * volume.voxel_volume_mm3 if volume.voxel_volume_mm3 else None
        ),
        "axial_png": pictures["axial"],
        "coronal_png": pictures["coronal"],
        "sagittal_png": pictures["sagittal"],
        "mip_png": pictures["mip"],
        "problems": volume.problems,
    }
