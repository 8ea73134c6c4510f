"""Neighbourhoods for texture families: in-plane (2D, 8 neighbours) or volumetric (3D, 26)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

PLANAR_OFFSETS = tuple((0, dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0))
VOLUMETRIC_OFFSETS = tuple(
    (dz, dy, dx)
    for dz in (-1, 0, 1)
    for dy in (-1, 0, 1)
    for dx in (-1, 0, 1)
    if (dz, dy, dx) != (0, 0, 0)
)


def offsets(planar: bool) -> tuple[tuple[int, int, int], ...]:
    return PLANAR_OFFSETS if planar else VOLUMETRIC_OFFSETS


def neighbour(array: np.ndarray, offset: tuple[int, int, int], fill=0) -> np.ndarray:
    """out[v] = array[v + offset], `fill` where v + offset is outside the array."""
    out = np.full_like(array, fill)
    target, source = [], []
    for step, size in zip(offset, array.shape, strict=True):
        target.append(slice(max(0, -step), min(size, size - step)))
        source.append(slice(max(0, step), min(size, size + step)))
    out[tuple(target)] = array[tuple(source)]
    return out


def connectivity(planar: bool) -> np.ndarray:
    """Full connectivity within a slice (8) or the volume (26), as a label structure."""
    structure = np.ones((3, 3, 3), dtype=bool)
    if planar:
        structure[0] = structure[2] = False
    return structure


def zones(levels: np.ndarray, mask: np.ndarray, n_levels: int, planar: bool):
    """Every zone of equal grey level: (level, voxel count, first slice, zone labels, count).

    Zones are connected within a slice (planar) or in the volume; the labels array numbers
    every zone from 1 across all levels.
    """
    structure = connectivity(planar)
    labels = np.zeros(levels.shape, dtype=np.int64)
    zone_levels: list[int] = []
    total = 0
    for level in range(1, n_levels + 1):
        component, found = ndimage.label(mask & (levels == level), structure)
        if found:
            labels[component > 0] = component[component > 0] + total
            zone_levels += [level] * found
            total += found
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, empty, labels, 0
    sizes = np.bincount(labels.ravel(), minlength=total + 1)[1:]
    z = np.broadcast_to(np.arange(levels.shape[0])[:, None, None], levels.shape)
    first_slice = np.asarray(
        ndimage.minimum(z, labels, np.arange(1, total + 1)), dtype=np.int64
    ).reshape(-1)
    return np.asarray(zone_levels), sizes, first_slice, labels, total
