"""RT Structure Sets (PS3.3 A.19): closed planar contours rasterised on a series grid.

A voxel belongs to a contour when its centre lies inside the polygon; the contours of one ROI on
one plane combine by the even-odd rule, so a contour inside another is a hole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from skimage.draw import polygon

from medspark.radiomics.processing import RegionRejected
from medspark.radiomics.series_grid import INDEX_TOLERANCE, SeriesGrid, nearest_index

MAX_INTERSECTION_CHECK_POINTS = 2000


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
            points = np.asarray([float(v) for v in contour.get("ContourData") or []])
            if points.size % 3:
                raise RegionRejected(
                    "roi_contour_invalid", f"ROI {number}: contour data is not x, y, z triplets"
                )
            kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR")).upper()
            roi.contours.append((kind, points.reshape(-1, 3)))
    return StructureSet(series, instances - {""}, frames, rois)


def _segments_cross(points: np.ndarray) -> bool:
    """Whether any two non-adjacent edges of the closed polygon (n, 2) properly intersect."""
    n = len(points)
    if n < 4 or n > MAX_INTERSECTION_CHECK_POINTS:
        return False
    a, b = points, np.roll(points, -1, axis=0)

    def side(p, q, r):
        return np.sign(
            (q[..., 0] - p[..., 0]) * (r[..., 1] - p[..., 1])
            - (q[..., 1] - p[..., 1]) * (r[..., 0] - p[..., 0])
        )

    i, j = np.triu_indices(n, k=2)
    adjacent = (i == 0) & (j == n - 1)
    i, j = i[~adjacent], j[~adjacent]
    d1 = side(a[i], b[i], a[j])
    d2 = side(a[i], b[i], b[j])
    d3 = side(a[j], b[j], a[i])
    d4 = side(a[j], b[j], b[i])
    return bool(np.any((d1 * d2 < 0) & (d3 * d4 < 0)))


def rasterise(roi: StructureRoi, grid: SeriesGrid) -> np.ndarray:
    """The ROI as a mask on the series grid."""
    mask = np.zeros(grid.shape, dtype=bool)
    closed = [(kind, points) for kind, points in roi.contours if kind != "POINT"]
    if not closed:
        raise RegionRejected("roi_empty", f"ROI {roi.number} has no contour")
    for kind, points in closed:
        if kind != "CLOSED_PLANAR":
            raise RegionRejected(
                "roi_contour_open", f"ROI {roi.number} has an {kind.lower()} contour"
            )
        if len(points) < 3:
            raise RegionRejected("roi_contour_invalid", f"ROI {roi.number}: fewer than 3 points")
        index = grid.indices(points)
        snapped = np.round(index)
        index = np.where(np.abs(index - snapped) < 1e-4, snapped, index)  # float noise off centres
        planes = index[:, 0]
        if float(planes.max() - planes.min()) > 2 * INDEX_TOLERANCE:
            raise RegionRejected(
                "roi_geometry_mismatch", f"ROI {roi.number}: a contour is not in one image plane"
            )
        slice_index = nearest_index(float(planes.mean()), grid.shape[0], "plane")
        if _segments_cross(index[:, 1:]):
            raise RegionRejected(
                "roi_contour_self_intersecting", f"ROI {roi.number}: a contour crosses itself"
            )
        rows, columns = polygon(index[:, 1], index[:, 2], shape=grid.shape[1:])
        inside = np.zeros(grid.shape[1:], dtype=bool)
        inside[rows, columns] = True
        mask[slice_index] ^= inside
    return mask
