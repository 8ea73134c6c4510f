"""DICOM Segmentation objects (PS3.3 A.51): segments, their frames and where those lie.

Every shape the standard allows is read: BINARY, FRACTIONAL (probability or occupancy) and
LABELMAP segmentations; functional groups shared or per frame (a writer may put any of them in
either); frames in any order, placed by their plane position, or by the source image they were
derived from when they have none (a SEG on a radiograph).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from medspark.dicom.functional_groups import (
    PER_FRAME,
    functional_item,
    functional_items,
    functional_value,
)
from medspark.dicom.pixels import frame_count, iter_frames
from medspark.dicom.reasons import Reason
from medspark.regions.grid import INDEX_TOLERANCE, SeriesGrid, Source, nearest_index
from medspark.regions.rejected import RegionRejected
from medspark.volume.geometry import floats_or_none


@dataclass(frozen=True)
class SegmentFrame:
    """One frame of a segment: where it lies (None: not stated), the images it was derived
    from, and its mask."""

    number: int
    position: np.ndarray | None
    sources: tuple[Source, ...]
    mask: np.ndarray


@dataclass
class Segment:
    """One segment: its number, label and frames."""

    number: int
    label: str
    frames: list[SegmentFrame] = field(default_factory=list)


@dataclass
class Segmentation:
    """What a SEG says: the series and instances it references, its plane geometry, segments."""

    referenced_series: set[str]
    referenced_instances: set[str]
    frame_of_reference: str | None
    orientation: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    segments: dict[int, Segment]
    segmentation_type: str = "BINARY"


def _frame_numbers(value) -> list[int]:
    if value is None or value == "":
        return [0]
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    try:
        return [int(v) for v in values] or [0]
    except (TypeError, ValueError):
        return [0]


def _derivation_sources(dataset: Dataset, index: int) -> tuple[Source, ...]:
    """(SOP Instance UID, frame number; 0 when none is named) of a frame's source images."""
    found: list[Source] = []
    for derivation in functional_items(dataset, index, "DerivationImageSequence"):
        for source in derivation.get("SourceImageSequence") or []:
            uid = str(source.get("ReferencedSOPInstanceUID", "") or "")
            if uid:
                found += [(uid, n) for n in _frame_numbers(source.get("ReferencedFrameNumber"))]
    return tuple(found)


def _threshold(dataset: Dataset, kind: str) -> float:
    """Stored values above this are in the segment (FRACTIONAL: half the maximum value)."""
    if kind != "FRACTIONAL":
        return 0.0
    try:
        maximum = float(dataset.get("MaximumFractionalValue") or 255)
    except (TypeError, ValueError):
        maximum = 255.0
    return 0.5 * maximum


def read_segmentation(dataset: Dataset) -> Segmentation:
    """Every segment's frames; FRACTIONAL segments are thresholded at half the maximum value,
    LABELMAP frames split by their segment numbers."""
    count = frame_count(dataset)
    per_frame = dataset.get(PER_FRAME)
    if per_frame is not None and len(per_frame) != count:
        raise RegionRejected(
            Reason.ROI_OBJECT_INVALID, f"{len(per_frame)} per-frame groups for {count} frames"
        )
    series, instances = set(), set()
    for item in dataset.get("ReferencedSeriesSequence") or []:
        if item.get("SeriesInstanceUID"):
            series.add(str(item.SeriesInstanceUID))
        for reference in item.get("ReferencedInstanceSequence") or []:
            instances.add(str(reference.get("ReferencedSOPInstanceUID", "")))
    kind = str(dataset.get("SegmentationType", "BINARY") or "BINARY").upper()
    segments = {
        int(item.SegmentNumber): Segment(
            int(item.SegmentNumber), str(item.get("SegmentLabel") or "")
        )
        for item in dataset.get("SegmentSequence") or []
        if item.get("SegmentNumber") is not None
        and not (kind == "LABELMAP" and int(item.SegmentNumber) == 0)  # a label map's background
    }
    threshold = _threshold(dataset, kind)
    orientation = spacing = None
    for index, pixels in iter_frames(dataset, range(count)):
        orientation = orientation or floats_or_none(
            functional_value(dataset, index, "PlaneOrientationSequence", "ImageOrientationPatient"),
            6,
        )
        spacing = spacing or floats_or_none(
            functional_value(dataset, index, "PixelMeasuresSequence", "PixelSpacing"), 2
        )
        position = floats_or_none(
            functional_value(dataset, index, "PlanePositionSequence", "ImagePositionPatient"), 3
        )
        sources = _derivation_sources(dataset, index)
        instances.update(uid for uid, _ in sources)
        frame = np.asarray(pixels)
        where = None if position is None else np.asarray(position)
        if kind == "LABELMAP":
            for number in np.unique(frame[frame > 0]).tolist():
                segment = segments.setdefault(int(number), Segment(int(number), ""))
                segment.frames.append(SegmentFrame(index + 1, where, sources, frame == number))
            continue
        number = _segment_number(dataset, index, segments)
        segment = segments.setdefault(number, Segment(number, ""))
        segment.frames.append(SegmentFrame(index + 1, where, sources, frame > threshold))
    frame_of_reference = dataset.get("FrameOfReferenceUID")
    return Segmentation(
        series,
        instances - {""},
        str(frame_of_reference) if frame_of_reference else None,
        orientation,
        spacing,
        segments,
        kind,
    )


def _segment_number(dataset: Dataset, index: int, segments: dict[int, Segment]) -> int:
    """The segment a BINARY or FRACTIONAL frame belongs to; a SEG of one segment may leave it
    unsaid."""
    item = functional_item(dataset, index, "SegmentIdentificationSequence")
    if item is not None and item.get("ReferencedSegmentNumber") is not None:
        return int(item.ReferencedSegmentNumber)
    if len(segments) == 1:
        return next(iter(segments))
    raise RegionRejected(Reason.ROI_OBJECT_INVALID, f"frame {index + 1} names no segment")


def place_segment(segment: Segment, segmentation: Segmentation, grid: SeriesGrid) -> np.ndarray:
    """The segment as a mask on the series grid; each frame placed by its plane position when
    it and the grid have one, else on the slice read from the image it was derived from."""
    mask = np.zeros(grid.shape, dtype=bool)
    by_position = [f for f in segment.frames if f.position is not None and grid.has_geometry]
    if by_position:
        grid.check_plane(segmentation.orientation, segmentation.pixel_spacing)
    for frame in segment.frames:
        if frame.position is not None and grid.has_geometry:
            _place_by_position(mask, frame, grid)
            continue
        k = grid.slice_of(list(frame.sources))
        if k is None:
            raise RegionRejected(
                Reason.ROI_GEOMETRY_MISMATCH,
                f"frame {frame.number} has no plane position and references no image of the series",
            )
        if frame.mask.shape != tuple(grid.shape[1:]):
            raise RegionRejected(
                Reason.ROI_GEOMETRY_MISMATCH,
                f"frame {frame.number} is {frame.mask.shape}, its source image {grid.shape[1:]}",
            )
        mask[k] |= frame.mask
    return mask


def _place_by_position(mask: np.ndarray, frame: SegmentFrame, grid: SeriesGrid) -> None:
    assert frame.position is not None
    k, r, c = grid.indices(frame.position[None, :])[0]
    slice_index = nearest_index(k, grid.shape[0], "plane")
    if abs(r - round(r)) > INDEX_TOLERANCE or abs(c - round(c)) > INDEX_TOLERANCE:
        raise RegionRejected(
            Reason.ROI_GEOMETRY_MISMATCH, "a frame's pixels fall between the series' pixels"
        )
    r0, c0 = round(r), round(c)
    rows, columns = frame.mask.shape
    top, left = max(r0, 0), max(c0, 0)
    bottom, right = min(r0 + rows, grid.shape[1]), min(c0 + columns, grid.shape[2])
    if bottom <= top or right <= left:
        raise RegionRejected(Reason.ROI_GEOMETRY_MISMATCH, "a frame lies outside the series")
    mask[slice_index, top:bottom, left:right] |= frame.mask[
        top - r0 : bottom - r0, left - c0 : right - c0
    ]
