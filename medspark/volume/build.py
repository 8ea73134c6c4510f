"""Assemble one series (many files, or one multi-frame file) into a 3D array in its units."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from medspark.dicom.pixels import (
    DecodeLimits,
    check_decoded_size,
    frame_count,
    iter_frames,
    read_image_dataset,
)
from medspark.imaging.burned_in_text import redact
from medspark.imaging.intensity import physical, rescale, to_grey, window
from medspark.volume.geometry import NotAVolume, Plane, SliceOrder, order_planes, planes_of


@dataclass
class Volume:
    """Voxels as (slice, row, column), with the geometry that places them in the patient."""

    values: np.ndarray
    spacing_mm: tuple[float, float, float] | None
    order: SliceOrder
    unit: str
    window: tuple[float, float] | None
    modality: str
    interpolated_slices: int = 0
    problems: list[str] = field(default_factory=list)
    stack_reason: str | None = None
    """Why the planes are a stack of independent 2D images and not a volume; None: a volume."""

    @property
    def voxel_volume_mm3(self) -> float | None:
        return float(np.prod(self.spacing_mm)) if self.spacing_mm else None


class VolumeTooLarge(ValueError):
    """The series has more voxels than the configured limit."""


def _unit(dataset: Dataset, kind: str | None, slope: float, intercept: float) -> str:
    modality = str(dataset.get("Modality", "") or "")
    if modality == "RTDOSE":
        return str(dataset.get("DoseUnits", "") or "dose")
    if kind:
        return kind
    return "HU" if modality == "CT" and (slope, intercept) != (1.0, 0.0) else "stored"


def _physical(frame: np.ndarray, dataset: Dataset, index: int) -> tuple[np.ndarray, str]:
    slope, intercept, kind = rescale(dataset, index)
    if str(dataset.get("Modality", "")) == "RTDOSE":
        slope, intercept = float(dataset.get("DoseGridScaling", 1.0) or 1.0), 0.0
    values = physical(to_grey(frame, dataset).astype(np.float32), slope, intercept)
    return values, _unit(dataset, kind, slope, intercept)


def _fallback_spacing(dataset: Dataset) -> float | None:
    for keyword in ("SpacingBetweenSlices", "SliceThickness"):
        try:
            value = float(dataset.get(keyword) or 0)
        except (TypeError, ValueError):
            continue
        if value > 0:
            return value
    return None


def _imager_spacing(dataset: Dataset) -> tuple[float, ...] | None:
    """Imager Pixel Spacing (projection radiography: at the detector), when valid."""
    try:
        spacing = tuple(float(v) for v in dataset.get("ImagerPixelSpacing") or ())
    except (TypeError, ValueError):
        return None
    return spacing if len(spacing) == 2 and min(spacing) > 0 else None


def _stack_reason(order: SliceOrder) -> str | None:
    """Why planes in this order make no volume, or None when they do."""
    if order.missing_slices > len(order.planes):
        return f"{order.missing_slices} slices missing between {len(order.planes)}"
    if order.normal is None:
        if len(order.planes) == 1:
            return "a single image with no plane position"
        return f"{len(order.planes)} images with no plane position"
    return None


def _fill_gaps(values: np.ndarray, order: SliceOrder) -> tuple[np.ndarray, int]:
    """Interpolate missing slices linearly so the grid is regular along the normal."""
    spacing = order.slice_spacing_mm
    if not order.missing_slices or not spacing:
        return values, 0
    along = np.asarray(order.positions_mm)
    steps = np.maximum(1, np.round((along - along[0]) / spacing).astype(int))
    steps[0] = 0
    target = np.arange(steps[-1] + 1)
    filled = np.empty((len(target), *values.shape[1:]), dtype=np.float32)
    for k in target:
        upper = int(np.searchsorted(steps, k))
        if steps[upper] == k:
            filled[k] = values[upper]
            continue
        lower = upper - 1
        weight = (k - steps[lower]) / (steps[upper] - steps[lower])
        filled[k] = (1 - weight) * values[lower] + weight * values[upper]
    return filled, len(target) - len(values)


def build_volume(
    instances: Sequence[bytes | Callable[[], bytes]],
    transfer_syntaxes: Sequence[str | None],
    *,
    max_voxels: int = 200_000_000,
    gap_factor: float = 1.5,
    tolerance: float = 0.01,
    redactions: Sequence[Mapping[int, Sequence[Sequence[int]]]] | None = None,
    stack: bool = False,
) -> Volume:
    """The volume of a series from its instances' bytes (or callables that read them).

    Slices are ordered by ImagePositionPatient projected on the normal of
    ImageOrientationPatient (per frame for enhanced objects, along GridFrameOffsetVector for RT
    dose), never by instance number or file name. `redactions[i]` maps instance i's frames
    (1-based) to the burned-in text boxes to fill before anything is computed. With `stack`,
    planes that make no volume (too sparse, or without plane positions) come back as a stack of
    independent images (`Volume.stack_reason`) instead of raising NotAVolume.
    """
    datasets: list[Dataset] = []
    planes: list[Plane] = []
    for number, (source, syntax) in enumerate(zip(instances, transfer_syntaxes, strict=True)):
        data = source() if callable(source) else source
        dataset = read_image_dataset(data, syntax)
        check_decoded_size(dataset, DecodeLimits())
        datasets.append(dataset)
        planes += planes_of(dataset, number, frame_count(dataset))
    voxels = sum(p.rows * p.columns for p in planes)
    if voxels > max_voxels:
        raise VolumeTooLarge(f"{voxels} voxels, over the limit of {max_voxels}")
    order = order_planes(
        planes, _fallback_spacing(datasets[0]), gap_factor=gap_factor, tolerance=tolerance
    )
    stack_reason = _stack_reason(order) if stack else None
    if stack_reason is None and order.missing_slices > len(order.planes):
        raise NotAVolume(
            f"{order.missing_slices} slices missing between {len(order.planes)}: too sparse"
        )
    wanted: dict[int, list[int]] = {}
    for plane in order.planes:
        wanted.setdefault(plane.instance, []).append(plane.frame)
    slices: dict[tuple[int, int], np.ndarray] = {}
    units = set()
    for instance, frames in wanted.items():
        dataset = datasets[instance]
        for index, pixels in iter_frames(dataset, sorted(frames)):
            boxes = redactions[instance].get(index + 1) if redactions else None
            if boxes:
                pixels = redact(pixels, boxes)
            values, unit = _physical(pixels, dataset, index)
            if values.ndim != 2:
                raise NotAVolume("frames are not two-dimensional")
            slices[(instance, index)] = values
            units.add(unit)
    stacked = np.stack([slices[(p.instance, p.frame)] for p in order.planes])
    first = order.planes[len(order.planes) // 2]
    problems = list(order.problems)
    if stack_reason is None:
        values, interpolated = _fill_gaps(stacked, order)
        in_plane = first.pixel_spacing
        spacing = (
            (float(order.slice_spacing_mm), float(in_plane[0]), float(in_plane[1]))
            if in_plane and order.slice_spacing_mm
            else None
        )
    else:
        values, interpolated = stacked, 0
        in_plane = first.pixel_spacing or _imager_spacing(datasets[first.instance])
        if in_plane is None:
            problems.append("unknown_pixel_spacing: 1 mm assumed")
            in_plane = (1.0, 1.0)
        through = _fallback_spacing(datasets[0]) or order.slice_spacing_mm or 1.0
        spacing = (float(through), float(in_plane[0]), float(in_plane[1]))
    if len(units) > 1:
        problems.append("mixed_units: " + ", ".join(sorted(units)))
    if spacing is None:
        problems.append("unknown_spacing")
    if interpolated:
        problems.append(f"interpolated_slices: {interpolated}")
    return Volume(
        values,
        spacing,
        order,
        sorted(units)[0],
        window(datasets[first.instance], first.frame),
        str(datasets[0].get("Modality", "") or ""),
        interpolated,
        problems,
        stack_reason,
    )
