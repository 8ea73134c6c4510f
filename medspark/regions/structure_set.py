"""RT Structure Sets (PS3.3 A.19): closed planar contours rasterised on a series grid.

A voxel belongs to a contour when its centre lies inside the polygon; the contours of one ROI on
one plane combine by the even-odd rule, so a contour inside another is a hole, and a contour that
crosses itself (planning systems and hand contouring leave small loops) is filled by the same
rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from pydicom.dataset import Dataset
from skimage.draw import polygon

from medspark.dicom.reasons import Reason
from medspark.regions.grid import INDEX_TOLERANCE, RegionMask, SeriesGrid, nearest_index
from medspark.regions.rejected import RegionRejected

UNREADABLE = "UNREADABLE"
"""The geometric type given to a contour whose data are not numeric x, y, z triplets."""


@dataclass
class StructureRoi:
    """One ROI: number, name and contours as (geometric type, points (n, 3) in mm)."""

    number: int
    name: str
    contours: list[tuple[str, np.ndarray]] = field(default_factory=list)


@dataclass
class StructureSet:
    """The series the structure set was drawn on (raw UIDs) and its ROIs."""

    referenced_series: set[str]
    referenced_instances: set[str]
    frames_of_reference: set[str]
    rois: dict[int, StructureRoi]


def read_structure_set(dataset: Dataset) -> StructureSet:
    """Every ROI with its contours; references from the referenced frame of reference tree."""
    series, instances, frames = set(), set(), set()
    for frame in dataset.get("ReferencedFrameOfReferenceSequence") or []:
        if frame.get("FrameOfReferenceUID"):
            frames.add(str(frame.FrameOfReferenceUID))
        for study in frame.get("RTReferencedStudySequence") or []:
            for item in study.get("RTReferencedSeriesSequence") or []:
                if item.get("SeriesInstanceUID"):
                    series.add(str(item.SeriesInstanceUID))
                for image in item.get("ContourImageSequence") or []:
                    instances.add(str(image.get("ReferencedSOPInstanceUID", "")))
    rois = {
        int(item.ROINumber): StructureRoi(int(item.ROINumber), str(item.get("ROIName") or ""))
        for item in dataset.get("StructureSetROISequence") or []
        if "ROINumber" in item
    }
    for item in dataset.get("ROIContourSequence") or []:
        number = int(item.get("ReferencedROINumber", 0) or 0)
        roi = rois.setdefault(number, StructureRoi(number, ""))
        for contour in item.get("ContourSequence") or []:
            kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper()
            try:
                points = np.asarray([float(v) for v in contour.get("ContourData") or []])
            except (TypeError, ValueError):
                kind, points = UNREADABLE, np.empty(0)
            if points.size % 3:
                kind = UNREADABLE
            roi.contours.append((kind, points.reshape(-1, 3) if kind != UNREADABLE else points))
    return StructureSet(series, instances - {""}, frames, rois)


def crossing_note(points_mm: np.ndarray) -> str | None:
    """How a closed planar contour (n, 2) in mm crosses or touches itself, or None when it is a
    simple polygon: the loops it makes and the area of the smallest."""
    ring = shapely.LinearRing(points_mm)
    if ring.is_simple:
        return None
    loops = shapely.get_parts(shapely.polygonize(shapely.get_parts(shapely.node(ring))))
    areas = sorted(float(loop.area) for loop in loops)
    if len(areas) < 2:
        return "touches itself"
    return f"crosses itself ({len(areas)} loops, the smallest {areas[0]:.2f} mm²)"


def _contour_slice(number: int, points: np.ndarray, grid: SeriesGrid) -> tuple[int, np.ndarray]:
    """(slice, (row, column) points) of one closed planar contour, or why it has no place."""
    if len(points) < 3:
        raise RegionRejected(Reason.ROI_CONTOUR_INVALID, f"ROI {number}: fewer than 3 points")
    if not np.isfinite(points).all():
        raise RegionRejected(Reason.ROI_CONTOUR_INVALID, f"ROI {number}: non-finite coordinates")
    index = grid.indices(points)
    snapped = np.round(index)
    index = np.where(np.abs(index - snapped) < 1e-4, snapped, index)  # float noise off centres
    planes = index[:, 0]
    if float(planes.max() - planes.min()) > 2 * INDEX_TOLERANCE:
        raise RegionRejected(
            Reason.ROI_GEOMETRY_MISMATCH, f"ROI {number}: a contour is not in one image plane"
        )
    return nearest_index(float(planes.mean()), grid.shape[0], "plane"), index[:, 1:]


def rasterise(roi: StructureRoi, grid: SeriesGrid) -> RegionMask:
    """The ROI as a mask on the series grid.

    Contours that cross or touch themselves are rasterised by the even-odd rule like any other
    (a note says how they cross); a contour that cannot be rasterised (open, fewer than three
    points, non-finite, off every slice) is left out with a note, and only when none is left is
    the ROI rejected, for the first such contour's reason.
    """
    mask = np.zeros(grid.shape, dtype=bool)
    closed = [
        (n, kind, points) for n, (kind, points) in enumerate(roi.contours, 1) if kind != "POINT"
    ]
    if not closed:
        raise RegionRejected(Reason.ROI_EMPTY, f"ROI {roi.number} has no contour")
    problems: list[str] = []
    first_failure: RegionRejected | None = None
    placed = 0
    for position, kind, points in closed:
        try:
            if kind == UNREADABLE:
                raise RegionRejected(
                    Reason.ROI_CONTOUR_INVALID,
                    f"ROI {roi.number}: contour data are not x, y, z triplets",
                )
            if kind != "CLOSED_PLANAR":
                raise RegionRejected(
                    Reason.ROI_CONTOUR_OPEN, f"ROI {roi.number} has an {kind.lower()} contour"
                )
            slice_index, rows_columns = _contour_slice(roi.number, points, grid)
        except RegionRejected as exc:
            first_failure = first_failure or exc
            problems.append(
                f"{exc.reason}: ROI {roi.number} contour {position} left out: {exc.detail}"
            )
            continue
        note = crossing_note(rows_columns * np.asarray(grid.spacing[1:]))
        if note is not None:
            problems.append(f"contour_self_crossing: ROI {roi.number} contour {position} {note}")
        rows, columns = polygon(rows_columns[:, 0], rows_columns[:, 1], shape=grid.shape[1:])
        inside = np.zeros(grid.shape[1:], dtype=bool)
        inside[rows, columns] = True
        mask[slice_index] ^= inside
        placed += 1
    if not placed:
        assert first_failure is not None
        raise first_failure
    return RegionMask(mask, problems)
