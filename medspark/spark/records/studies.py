"""Work one study at a time: the metadata rows of its image series and region objects, grouped
in one task (`groupBy(study).applyInPandas`), handed to a per-study core function. Shared by the
radiomics job and the NIfTI export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from medspark.config import Settings
from medspark.dicom.deid import policy_from_settings
from medspark.dicom.keys import PseudonymKey
from medspark.radiomics.study import RadiomicsOptions
from medspark.regions.placement import INPUT_COLUMNS, REGION_MODALITIES, PlacementOptions
from medspark.spark.records.arrow_map import prepare_worker
from medspark.spark.records.pixel_clearance import usable_pixels
from medspark.volume.series import VolumeOptions

Row = dict[str, Any]


def placement_options(
    settings: Settings, run_id: str, key: PseudonymKey | None, roi_sources: tuple[str, ...]
) -> PlacementOptions:
    """How a study's region objects are read, de-identified and placed."""
    deid = policy_from_settings(settings.deid, key) if settings.deid.enabled and key else None
    volume = VolumeOptions(run_id, settings.volumes, settings.ingest.archive_limits(), key)
    return PlacementOptions(run_id, roi_sources, volume, deid)


def region_options(settings: Settings, run_id: str, key: PseudonymKey | None) -> RadiomicsOptions:
    """How the radiomics core places and describes a study's regions."""
    placed = placement_options(settings, run_id, key, tuple(settings.radiomics.roi_sources))
    return RadiomicsOptions(run_id, settings.radiomics, placed.volume, placed.deid)


def map_studies(
    metadata: DataFrame,
    settings: Settings,
    per_study: Callable[[list[Row]], list[Row]],
    on_error: Callable[[list[Row], Exception], list[Row]],
    schema: pa.Schema,
) -> DataFrame:
    """`per_study` over every study's region objects and usable images (held-back images are
    left out); a study whose function raises gets `on_error`'s rows instead, the others go on."""
    is_region = F.col("modality").isin(*REGION_MODALITIES)
    rows = metadata.filter(
        F.col("study_instance_uid").isNotNull()
        & (is_region | (F.col("has_pixel_data") & usable_pixels(settings)))
    ).select(*INPUT_COLUMNS)
    names = schema.names

    def run(frame: pd.DataFrame) -> pd.DataFrame:
        prepare_worker()
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        try:
            out = per_study(records)
        except Exception as exc:  # a bug must not stop the other studies
            out = on_error(records, exc)
        return pd.DataFrame([{n: r.get(n) for n in names} for r in out], columns=names)

    return rows.groupBy("study_instance_uid").applyInPandas(run, from_arrow_schema(schema))
