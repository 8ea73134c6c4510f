"""Where each slice lies: ordering along the slice normal, spacing checks and gaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from medspark.dicom.functional_groups import functional_item


@dataclass(frozen=True)
class Plane:
    """One 2D slice of a volume: which frame of which instance, and where it lies."""

    instance: int
    frame: int
    position: tuple[float, ...] | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    rows: int
    columns: int


@dataclass
class SliceOrder:
    """Planes in order along the normal, with the spacing found and what was wrong with it."""

    planes: list[Plane]
    positions_mm: list[float]
    slice_spacing_mm: float | None
    normal: tuple[float, ...] | None
    missing_slices: int = 0
    gap_positions_mm: list[float] = field(default_factory=list)
    spacing_irregular: bool = False
    problems: list[str] = field(default_factory=list)


class NotAVolume(ValueError):
    """The planes cannot be stacked into one volume (sizes or orientations differ)."""


def floats_or_none(value, count: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def slice_normal(orientation: Sequence[float] | np.ndarray) -> np.ndarray:
    """The unit normal of a plane from ImageOrientationPatient (row cosines x column cosines)."""
    row, column = np.asarray(orientation[:3], float), np.asarray(orientation[3:6], float)
    normal = np.cross(row, column)
    length = np.linalg.norm(normal)
    if length < 1e-6:
        raise NotAVolume("ImageOrientationPatient has parallel row and column directions")
    return normal / length


def _item_value(dataset: Dataset, index: int, sequence: str, keyword: str, count: int):
    item = functional_item(dataset, index, sequence)
    return (
        floats_or_none(item.get(keyword), count) if item is not None and keyword in item else None
    )


def planes_of(dataset: Dataset, instance: int, frames: int) -> list[Plane]:
    """Every frame's plane: enhanced functional groups, an RT dose grid, or the top level."""
    rows, columns = int(dataset.get("Rows", 0) or 0), int(dataset.get("Columns", 0) or 0)
    top_position = floats_or_none(dataset.get("ImagePositionPatient"), 3)
    top_orientation = floats_or_none(dataset.get("ImageOrientationPatient"), 6)
    top_spacing = floats_or_none(dataset.get("PixelSpacing"), 2)
    offsets = floats_or_none(dataset.get("GridFrameOffsetVector"), frames) if frames > 1 else None
    planes = []
    for index in range(frames):
        position = _item_value(dataset, index, "PlanePositionSequence", "ImagePositionPatient", 3)
        orientation = (
            _item_value(dataset, index, "PlaneOrientationSequence", "ImageOrientationPatient", 6)
            or top_orientation
        )
        spacing = (
            _item_value(dataset, index, "PixelMeasuresSequence", "PixelSpacing", 2) or top_spacing
        )
        if position is None and top_position is not None:
            if offsets is not None and orientation is not None:
                # PS3.3 C.8.8.3.2: offsets along the normal, the first frame at the position
                step = (offsets[index] - offsets[0]) * slice_normal(orientation)
                position = tuple(float(v) for v in np.asarray(top_position) + step)
            elif frames == 1:
                position = top_position
        planes.append(Plane(instance, index, position, orientation, spacing, rows, columns))
    return planes


def order_planes(
    planes: Sequence[Plane],
    fallback_spacing: float | None = None,
    *,
    gap_factor: float = 1.5,
    tolerance: float = 0.01,
) -> SliceOrder:
    """Sort by position along the common normal; find spacing, gaps and irregularities.

    Without positions the planes stay in the order given (instances, then frames) and the
    spacing is `fallback_spacing` (SpacingBetweenSlices or SliceThickness).
    """
    if not planes:
        raise NotAVolume("no planes")
    if len({(p.rows, p.columns) for p in planes}) > 1:
        raise NotAVolume("slices differ in rows and columns")
    orientations = [p.orientation for p in planes if p.orientation is not None]
    positioned = all(p.position is not None for p in planes) and len(orientations) == len(planes)
    if not positioned:
        problem = "no_geometry: slices kept in file order" if len(planes) > 1 else None
        return SliceOrder(
            list(planes), [], fallback_spacing, None, problems=[problem] if problem else []
        )
    reference = np.asarray(orientations[0])
    if max(float(np.abs(np.asarray(o) - reference).max()) for o in orientations) > 1e-3:
        raise NotAVolume("slices have different orientations")
    normal = slice_normal(reference)
    along = np.array([float(np.dot(np.asarray(p.position), normal)) for p in planes])
    order = np.argsort(along, kind="stable")
    ordered, along = [planes[i] for i in order], along[order]
    result = SliceOrder(ordered, [float(v) for v in along], None, tuple(float(v) for v in normal))
    if len(ordered) == 1:
        result.slice_spacing_mm = fallback_spacing
        return result
    steps = np.diff(along)
    duplicates = steps < 1e-3
    if duplicates.any():
        result.problems.append(f"duplicate_positions: {int(duplicates.sum())} slices")
        keep = np.concatenate([[True], ~duplicates])
        result.planes = [p for p, k in zip(ordered, keep, strict=True) if k]
        along = along[keep]
        result.positions_mm = [float(v) for v in along]
        steps = np.diff(along)
        if steps.size == 0:
            return result
    spacing = float(np.median(steps))
    result.slice_spacing_mm = spacing
    gaps = steps > gap_factor * spacing
    if gaps.any():
        result.missing_slices = int(sum(round(s / spacing) - 1 for s in steps[gaps]))
        result.gap_positions_mm = [float(along[i]) for i in np.flatnonzero(gaps)]
        result.problems.append(f"missing_slices: {result.missing_slices}")
    regular = steps[~gaps]
    if regular.size and float(np.abs(regular - spacing).max()) > tolerance * spacing:
        result.spacing_irregular = True
        result.problems.append(
            f"irregular_spacing: {float(regular.min()):.3f}-{float(regular.max()):.3f} mm"
        )
    return result
