"""One study's metadata rows -> roi_features rows and radiomics quarantine rows (no Spark).

Region objects (SEG, RTSTRUCT) are read again from the input, de-identified with the run's
policy (so their references carry the same pseudonymous UIDs as OUT/metadata, and their labels
no more than the metadata shows), matched to an image series by the references they hold, then
placed on that series' grid by geometry.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from medspark.dicom.deid import DeidPolicy, deidentify
from medspark.dicom.pixels import read_image_dataset
from medspark.dicom.reasons import Reason, Rejection, Stage
from medspark.dicom.sources import read_verified
from medspark.radiomics.describe import describe_filtered, describe_region, settings_columns
from medspark.radiomics.family import WHOLE_REGION
from medspark.radiomics.filters.columns import filter_columns
from medspark.radiomics.options import RadiomicsSettings
from medspark.radiomics.overlay import outline_png
from medspark.radiomics.processing import prepare_region, rounds_intensities
from medspark.regions.grid import RegionMask, SeriesGrid, grid_of
from medspark.regions.rejected import RegionRejected
from medspark.regions.segmentation import place_segment, read_segmentation
from medspark.regions.structure_set import rasterise, read_structure_set
from medspark.volume.build import Volume, VolumeTooLarge
from medspark.volume.describe import region_mask
from medspark.volume.geometry import NotAVolume
from medspark.volume.series import INPUT_COLUMNS as SERIES_INPUT_COLUMNS
from medspark.volume.series import VolumeOptions, instance_order, load_series, plane_count

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
class RadiomicsOptions:
    """What the per-study core needs besides its rows."""

    run_id: str
    settings: RadiomicsSettings
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


def load_volume(series: ImageSeries, options: RadiomicsOptions) -> tuple[Volume, SeriesGrid]:
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


def _identity(series: ImageSeries, segmentation: str | None, number: int, label: str, source: str):
    """The key and identity columns of a region's rows."""
    return {name: series.rows[0].get(name) for name in SERIES_COLUMNS} | {
        "segmentation_sop_instance_uid": segmentation,
        "roi_number": number,
        "roi_label": label,
        "roi_source": source,
    }


STACK_FAMILIES_LEFT_OUT = ("morphology", "local_intensity")
"""Families that need a volume: left empty for a region on a stack of 2D images."""
STACK_AGGREGATIONS = ("2d_averaged", "2d_slice_merged")


def stack_settings(settings: RadiomicsSettings) -> RadiomicsSettings:
    """The settings for a region on a stack: per-slice aggregations only, no family that needs
    a volume, resampling in-plane only."""
    update: dict[str, Any] = {
        "families": [f for f in settings.families if f not in STACK_FAMILIES_LEFT_OUT],
        "aggregation": list(STACK_AGGREGATIONS),
    }
    if settings.resample_mm is not None:
        update["resample_mm"] = (*settings.resample_mm[:2], None)
    return settings.model_copy(update=update)


def _feature_rows(
    volume: Volume,
    grid: SeriesGrid,
    region: RegionMask,
    identity: Row,
    options: RadiomicsOptions,
    now,
) -> list[Row]:
    settings = options.settings
    problems = [*volume.problems, *region.problems]
    if grid.is_stack:
        settings = stack_settings(settings)
        problems.append(
            f"not_a_volume: {grid.stack_reason}: described per slice (2D aggregations); "
            f"{', '.join(STACK_FAMILIES_LEFT_OUT)} and the 3D aggregations left empty"
        )
    prepared = prepare_region(
        volume.values, region.mask, grid.spacing, settings, identity.get("modality")
    )
    common = {
        **identity,
        **settings_columns(settings, rounds_intensities(settings, identity.get("modality"))),
        "voxel_count": int(prepared.morphology_mask.sum()),
        "volume_mm3": float(prepared.morphology_mask.sum()) * prepared.voxel_volume,
        "intensity_voxel_count": int(prepared.intensity_mask.sum()),
        "grey_levels": int(prepared.n_levels),
        "problems": problems,
        "run_id": options.run_id,
        "processed_at": now,
    }
    unfiltered = filter_columns(None)
    rows = [
        {**common, "aggregation": aggregation, **unfiltered, **values}
        for aggregation, values in describe_region(prepared, settings).items()
    ]
    picture = outline_png(volume.values, region.mask, grid.spacing)
    for row in rows:
        row["overlay_png"] = picture if row["aggregation"] == WHOLE_REGION else None
    rows += [{**common, **row} for row in describe_filtered(prepared, settings)]
    return rows


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
    rows: Sequence[Row], options: RadiomicsOptions, use: Callable[[PlacedRegion], None]
) -> StudyRegions:
    """Read, de-identify and match every region object of a study to its image series, place
    each region on that series' grid and hand it to `use`; when placing or `use` fails
    (RegionRejected), the next candidate series is tried, then the region is quarantined."""
    now = dt.datetime.now(dt.UTC)
    settings = options.settings
    by_series: dict[str, list[Row]] = defaultdict(list)
    region_rows: list[tuple[str, Row]] = []
    for row in rows:
        source = REGION_MODALITIES.get(str(row.get("modality") or ""))
        if source is not None:
            if source in settings.roi_sources:
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
                quarantine_row(row, "internal_error", type(exc).__name__, options.run_id, now)
            )
            continue
        candidates = _candidates(references, frames, series)
        if not candidates:
            quarantined.append(
                quarantine_row(
                    row,
                    "roi_reference_missing",
                    "the series the regions were drawn on is not in OUT/metadata",
                    options.run_id,
                    now,
                )
            )
            continue
        if not regions:
            quarantined.append(
                quarantine_row(row, "roi_empty", "the object holds no region", options.run_id, now)
            )
        for number, label, place in regions:
            failure: RegionRejected | None = None
            for uid in candidates:
                try:
                    volume, grid = load_volume(series[uid], options)
                    identity = _identity(
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


def describe_study(rows: Sequence[Row], options: RadiomicsOptions) -> tuple[list[Row], list[Row]]:
    """roi_features rows and quarantine rows of one study; problems are recorded, not raised.

    Every region that can be placed is described: on a series that is no volume, per slice.
    Otsu regions are drawn on volumes only."""
    options = replace(options, stacks=True)
    now = dt.datetime.now(dt.UTC)
    described: list[Row] = []

    def describe(region: PlacedRegion) -> None:
        described.extend(
            _feature_rows(region.volume, region.grid, region.region, region.identity, options, now)
        )

    found = for_each_region(rows, options, describe)
    series, with_regions, quarantined = found.series, found.with_regions, found.quarantined
    settings = options.settings
    if "otsu" in settings.roi_sources:
        for uid in sorted(set(series) - with_regions):
            if plane_count(series[uid].rows) < 2:
                continue
            try:
                volume, grid = load_volume(series[uid], options)
                if grid.is_stack:
                    continue
                mask, _ = region_mask(volume.values, "otsu", True)
                identity = _identity(series[uid], None, 0, "otsu", "otsu")
                described += _feature_rows(volume, grid, RegionMask(mask), identity, options, now)
            except RegionRejected as exc:
                quarantined.append(
                    quarantine_row(
                        series[uid].rows[0],
                        exc.reason,
                        f"otsu region: {exc.detail}",
                        options.run_id,
                        now,
                    )
                )
    return described, quarantined
