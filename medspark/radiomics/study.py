"""One study's metadata rows -> roi_features rows and radiomics quarantine rows (no Spark):
every region `regions.placement` places on an image series is described, and with `otsu` among
the sources, every volume no region was placed on."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from medspark.dicom.deid import DeidPolicy
from medspark.radiomics.describe import describe_filtered, describe_region, settings_columns
from medspark.radiomics.family import WHOLE_REGION
from medspark.radiomics.filters.columns import filter_columns
from medspark.radiomics.options import RadiomicsSettings
from medspark.radiomics.overlay import outline_png
from medspark.radiomics.processing import prepare_region, rounds_intensities
from medspark.regions.grid import RegionMask, SeriesGrid
from medspark.regions.placement import (
    PlacedRegion,
    PlacementOptions,
    for_each_region,
    load_volume,
    quarantine_row,
    region_identity,
)
from medspark.regions.rejected import RegionRejected
from medspark.volume.build import Volume
from medspark.volume.describe import region_mask
from medspark.volume.series import VolumeOptions, plane_count

Row = dict[str, Any]


@dataclass(frozen=True)
class RadiomicsOptions:
    """What the per-study core needs besides its rows."""

    run_id: str
    settings: RadiomicsSettings
    volume: VolumeOptions
    deid: DeidPolicy | None = None
    stacks: bool = False
    """Whether a series that is no volume takes regions as a stack of 2D images."""

    @property
    def placement(self) -> PlacementOptions:
        """How the regions described are read and placed."""
        return PlacementOptions(
            self.run_id, tuple(self.settings.roi_sources), self.volume, self.deid, self.stacks
        )


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

    found = for_each_region(rows, options.placement, describe)
    series, with_regions, quarantined = found.series, found.with_regions, found.quarantined
    settings = options.settings
    if "otsu" in settings.roi_sources:
        for uid in sorted(set(series) - with_regions):
            if plane_count(series[uid].rows) < 2:
                continue
            try:
                volume, grid = load_volume(series[uid], options.placement)
                if grid.is_stack:
                    continue
                mask, _ = region_mask(volume.values, "otsu", True)
                identity = region_identity(series[uid], None, 0, "otsu", "otsu")
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
