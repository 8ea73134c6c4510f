"""DICOM Segmentation objects (PS3.3 A.51): segments, their frames and where those lie."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from medspark.dicom.pixels import frame_count, iter_frames
from medspark.radiomics.processing import RegionRejected
from medspark.radiomics.series_grid import INDEX_TOLERANCE, SeriesGrid, nearest_index
from medspark.volume.geometry import floats_or_none


@dataclass
class Segment:
    """One segment: its number, label and frames as (plane position, 2D mask)."""

    number: int
    label: str
    frames: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)


@dataclass
class Segmentation:
    """What a SEG says: the series and instances it references, its plane geometry, segments."""

    referenced_series: set[str]
    referenced_instances: set[str]
    frame_of_reference: str | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    segments: dict[int, Segment]


def _first(item: Dataset | None, sequence: str) -> Dataset | None:
    if item is None or sequence not in item or not item[sequence].value:
        return None
    return item[sequence].value[0]


def read_segmentation(dataset: Dataset) -> Segmentation:
    """Every segment's frames, thresholded at half the maximum for fractional segmentations."""
    shared = _first(dataset, "SharedFunctionalGroupsSequence")
    per_frame = list(dataset.get("PerFrameFunctionalGroupsSequence") or [])
    count = frame_count(dataset)
    if len(per_frame) != count:
        raise RegionRejected(
            "roi_object_invalid", f"{len(per_frame)} per-frame groups for {count} frames"
        )
    series, instances = set(), set()
    for item in dataset.get("ReferencedSeriesSequence") or []:
        if item.get("SeriesInstanceUID"):
            series.add(str(item.SeriesInstanceUID))
        for reference in item.get("ReferencedInstanceSequence") or []:
            instances.add(str(reference.get("ReferencedSOPInstanceUID", "")))
    segments = {
        int(item.SegmentNumber): Segment(
            int(item.SegmentNumber), str(item.get("SegmentLabel") or "")
        )
        for item in dataset.get("SegmentSequence") or []
    }
    fractional = str(dataset.get("SegmentationType", "BINARY")).upper() == "FRACTIONAL"
    threshold = 0.5 * float(dataset.get("MaximumFractionalValue") or 255) if fractional else 0
    orientation = floats_or_none(
        (_first(shared, "PlaneOrientationSequence") or Dataset()).get("ImageOrientationPatient"), 6
    )
    spacing = floats_or_none(
        (_first(shared, "PixelMeasuresSequence") or Dataset()).get("PixelSpacing"), 2
    )
    for index, pixels in iter_frames(dataset, range(count)):
        item = per_frame[index]
        number = _first(item, "SegmentIdentificationSequence")
        position = floats_or_none(
            (_first(item, "PlanePositionSequence") or Dataset()).get("ImagePositionPatient"), 3
        )
        if number is None or position is None:
            raise RegionRejected(
                "roi_geometry_mismatch", f"frame {index + 1} has no segment number or position"
            )
        orientation = orientation or floats_or_none(
            (_first(item, "PlaneOrientationSequence") or Dataset()).get("ImageOrientationPatient"),
            6,
        )
        spacing = spacing or floats_or_none(
            (_first(item, "PixelMeasuresSequence") or Dataset()).get("PixelSpacing"), 2
        )
        for derivation in item.get("DerivationImageSequence") or []:
            for source in derivation.get("SourceImageSequence") or []:
                instances.add(str(source.get("ReferencedSOPInstanceUID", "")))
        segment = segments.setdefault(
            int(number.ReferencedSegmentNumber),
            Segment(int(number.ReferencedSegmentNumber), ""),
        )
        segment.frames.append((np.asarray(position), np.asarray(pixels) > threshold))
    frame_of_reference = dataset.get("FrameOfReferenceUID")
    return Segmentation(
        series,
        instances - {""},
        str(frame_of_reference) if frame_of_reference else None,
        orientation,
        spacing,
        segments,
    )


def place_segment(segment: Segment, segmentation: Segmentation, grid: SeriesGrid) -> np.ndarray:
    """The segment as a mask on the series grid, frames matched by position, not order."""
    grid.check_plane(segmentation.orientation, segmentation.pixel_spacing)
    mask = np.zeros(grid.shape, dtype=bool)
    for position, frame in segment.frames:
        k, r, c = grid.indices(position[None, :])[0]
        slice_index = nearest_index(k, grid.shape[0], "plane")
        if abs(r - round(r)) > INDEX_TOLERANCE or abs(c - round(c)) > INDEX_TOLERANCE:
            raise RegionRejected(
                "roi_geometry_mismatch", "a frame's pixels fall between the series' pixels"
            )
        r0, c0 = round(r), round(c)
        rows, columns = frame.shape
        top, left = max(r0, 0), max(c0, 0)
        bottom, right = min(r0 + rows, grid.shape[1]), min(c0 + columns, grid.shape[2])
        if bottom <= top or right <= left:
            raise RegionRejected("roi_geometry_mismatch", "a frame lies outside the series")
        mask[slice_index, top:bottom, left:right] |= frame[
            top - r0 : bottom - r0, left - c0 : right - c0
        ]
    return mask
