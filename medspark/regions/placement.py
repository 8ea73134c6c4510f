"""A study's region objects (SEG, RTSTRUCT) placed on its image series, for whatever uses
regions (radiomics, the NIfTI export).

Each object is read again from the input, de-identified with the run's policy (so its
references carry the same pseudonymous UIDs as OUT/metadata, and its labels no more than the
metadata shows), matched to an image series by the references it holds, then placed on that
series' grid by geometry.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from medspark.dicom.deid import DeidPolicy, deidentify
from medspark.dicom.pixels import read_image_dataset
from medspark.dicom.reasons import Reason, Rejection, Stage
from medspark.dicom.sources import read_verified
from medspark.regions.grid import RegionMask, SeriesGrid, grid_of
from medspark.regions.rejected import RegionRejected
from medspark.regions.segmentation import place_segment, read_segmentation
from medspark.regions.structure_set import rasterise, read_structure_set
from medspark.volume.build import Volume, VolumeTooLarge
from medspark.volume.geometry import NotAVolume
from medspark.volume.series import INPUT_COLUMNS as SERIES_INPUT_COLUMNS
from medspark.volume.series import VolumeOptions, instance_order, load_series

REGION_MODALITIES = {"SEG": "seg", "RTSTRUCT": "rtstruct"}
SERIES_COLUMNS = (
    "series_instance_uid",
    "study_instance_uid",
    "patient_id",
    "modality",
)
INPUT_COLUMNS = (*SERIES_INPUT_COLUMNS, "has_pixel_data")
Row = dict[str, Any]


@dataclass(frozen=True)
class PlacementOptions:
    """How a study's region objects are read and placed."""

    run_id: str
    roi_sources: tuple[str, ...]
    volume: VolumeOptions
    deid: DeidPolicy | None = None
    stacks: bool = False
    """Whether a series that is no volume (sparse slices, projection images) takes regions as
    a stack of 2D images (radiomics) or is refused (exports that need a volume)."""


@dataclass
class ImageSeries:
    """An image series of a study: its metadata rows, and its volume once built."""

    rows: list[Row]
    grid: SeriesGrid | None = None
    volume: Volume | None = None
    failure: RegionRejected | None = None


def load_volume(series: ImageSeries, options: PlacementOptions) -> tuple[Volume, SeriesGrid]:
    """The volume of a series and its grid, built once; a failure is kept and raised again."""
    if series.failure is None and series.volume is None:
        try:
            volume = load_series(series.rows, options.volume, stack=options.stacks)
            uids = [str(r.get("sop_instance_uid") or "") for r in instance_order(series.rows)]
            series.grid, series.volume = grid_of(volume, uids), volume
        except RegionRejected as exc:
            series.failure = exc
        except Rejection as exc:
            series.failure = RegionRejected(exc.reason, f"the series: {exc.detail}")
        except VolumeTooLarge as exc:
            series.failure = RegionRejected(Reason.ROI_SERIES_TOO_LARGE, str(exc))
        except NotAVolume as exc:
            series.failure = RegionRejected(Reason.SERIES_NOT_A_VOLUME, f"the series: {exc}")
    if series.failure is not None:
        raise series.failure
    assert series.volume is not None and series.grid is not None
    return series.volume, series.grid


def _candidates(references, frame_of_reference, series: dict[str, ImageSeries]) -> list[str]:
    """Series the object references by series UID, else by instance, else by frame of
    reference (then geometry decides); never by file order."""
    by_series = [uid for uid in references[0] if uid in series]
    if by_series:
        return by_series
    by_instance = [
        uid
        for uid, s in series.items()
        if references[1] & {r.get("sop_instance_uid") for r in s.rows}
    ]
    if by_instance:
        return by_instance
    if references[0] or references[1]:
        return []
    return [
        uid
        for uid, s in series.items()
        if frame_of_reference and s.rows[0].get("frame_of_reference_uid") in frame_of_reference
    ]


def quarantine_row(row: Row, reason: str, detail: str, run_id: str, now) -> Row:
    """The quarantine row of a region object, or of a series, set aside."""
    return {
        "path": row.get("path"),
        "file_size": row.get("file_size"),
        "sha256": row.get("sha256"),
        "stage": str(Stage.RADIOMICS),
        "reason": reason,
        "detail": detail,
        "run_id": run_id,
        "processed_at": now,
    }


def region_identity(
    series: ImageSeries, segmentation: str | None, number: int, label: str, source: str
):
    """The key and identity columns of a region's rows."""
    return {name: series.rows[0].get(name) for name in SERIES_COLUMNS} | {
        "segmentation_sop_instance_uid": segmentation,
        "roi_number": number,
        "roi_label": label,
        "roi_source": source,
    }


def _segment_mask(segment, segmentation, grid: SeriesGrid) -> RegionMask:
    return RegionMask(place_segment(segment, segmentation, grid))


def _regions_of(
    dataset, source: str
) -> tuple[tuple[set[str], set[str]], set[str], list[tuple[int, str, Callable]]]:
    """(references, frame of reference, [(number, label, mask on a grid)]) of a region object."""
    if source == "seg":
        seg = read_segmentation(dataset)
        regions = [
            (n, s.label or f"segment {n}", lambda g, s=s: _segment_mask(s, seg, g))
            for n, s in sorted(seg.segments.items())
        ]
        frames = {seg.frame_of_reference} if seg.frame_of_reference else set()
        return (seg.referenced_series, seg.referenced_instances), frames, regions
    structure = read_structure_set(dataset)
    regions = [
        (n, roi.name or f"ROI {n}", lambda g, roi=roi: rasterise(roi, g))
        for n, roi in sorted(structure.rois.items())
    ]
    return (
        (structure.referenced_series, structure.referenced_instances),
        structure.frames_of_reference,
        regions,
    )


@dataclass(frozen=True)
class PlacedRegion:
    """One region of a SEG or RTSTRUCT placed on the grid of the series it was drawn on."""

    series_uid: str
    volume: Volume
    grid: SeriesGrid
    region: RegionMask
    identity: Row

    @property
    def mask(self) -> np.ndarray:
        return self.region.mask


@dataclass
class StudyRegions:
    """What walking a study's region objects found: its image series, those a region was
    placed on, and the region objects set aside."""

    series: dict[str, ImageSeries]
    with_regions: set[str]
    quarantined: list[Row]


def for_each_region(
    rows: Sequence[Row], options: PlacementOptions, use: Callable[[PlacedRegion], None]
) -> StudyRegions:
    """Read, de-identify and match every region object of a study to its image series, place
    each region on that series' grid and hand it to `use`; when placing or `use` fails
    (RegionRejected), the next candidate series is tried, then the region is quarantined."""
    now = dt.datetime.now(dt.UTC)
    by_series: dict[str, list[Row]] = defaultdict(list)
    region_rows: list[tuple[str, Row]] = []
    for row in rows:
        source = REGION_MODALITIES.get(str(row.get("modality") or ""))
        if source is not None:
            if source in options.roi_sources:
                region_rows.append((source, row))
        elif row.get("has_pixel_data") and row.get("series_instance_uid"):
            by_series[row["series_instance_uid"]].append(row)
    series = {uid: ImageSeries(sorted(r, key=lambda x: x["path"])) for uid, r in by_series.items()}
    found = StudyRegions(series, set(), [])
    quarantined = found.quarantined
    for source, row in sorted(region_rows, key=lambda item: item[1]["path"]):
        try:
            dataset = read_image_dataset(
                read_verified(
                    row, options.volume.key, options.volume.archive_limits, Stage.RADIOMICS
                ),
                row.get("transfer_syntax_uid"),
            )
            if options.deid is not None:
                deidentify(dataset, options.deid)
            references, frames, regions = _regions_of(dataset, source)
        except (RegionRejected, Rejection) as exc:
            quarantined.append(
                quarantine_row(row, str(exc.reason), exc.detail, options.run_id, now)
            )
            continue
        except Exception as exc:  # one malformed object must not lose the study's others
            quarantined.append(
                quarantine_row(row, Reason.INTERNAL_ERROR, type(exc).__name__, options.run_id, now)
            )
            continue
        candidates = _candidates(references, frames, series)
        if not candidates:
            quarantined.append(
                quarantine_row(
                    row,
                    Reason.ROI_REFERENCE_MISSING,
                    "the series the regions were drawn on is not in OUT/metadata",
                    options.run_id,
                    now,
                )
            )
            continue
        if not regions:
            quarantined.append(
                quarantine_row(
                    row, Reason.ROI_EMPTY, "the object holds no region", options.run_id, now
                )
            )
        for number, label, place in regions:
            failure: RegionRejected | None = None
            for uid in candidates:
                try:
                    volume, grid = load_volume(series[uid], options)
                    identity = region_identity(
                        series[uid], row.get("sop_instance_uid"), number, label, source
                    )
                    use(PlacedRegion(uid, volume, grid, place(grid), identity))
                    found.with_regions.add(uid)
                    failure = None
                    break
                except RegionRejected as exc:
                    failure = failure or exc
                except Exception as exc:
                    failure = failure or RegionRejected(Reason.INTERNAL_ERROR, type(exc).__name__)
            if failure is not None:
                quarantined.append(
                    quarantine_row(
                        row,
                        failure.reason,
                        f"{source} region {number}: {failure.detail}",
                        options.run_id,
                        now,
                    )
                )
    return found
