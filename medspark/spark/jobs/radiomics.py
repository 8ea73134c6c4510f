"""The radiomics job: OUT/metadata grouped by study -> OUT/roi_features and radiomics quarantine.

One task describes one study: its image series and the SEG / RTSTRUCT objects drawn on them.
"""

from __future__ import annotations

import logging

import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medspark import layout
from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.reasons import Reason, Stage
from medspark.radiomics.study import describe_study
from medspark.regions.placement import REGION_MODALITIES, quarantine_row
from medspark.run_summary import JobResult
from medspark.schemas import METADATA, QUARANTINE, ROI_FEATURES
from medspark.spark.output.tables import read_table
from medspark.spark.output.task_tables import written_records
from medspark.spark.records.pixel_clearance import with_pixel_clearance
from medspark.spark.records.studies import map_studies, region_options
from medspark.spark.run import Run

log = logging.getLogger("medspark.radiomics")

_QUARANTINE_ONLY = ("stage", "reason", "detail", "path", "file_size", "sha256")
RECORDS = pa.schema(
    [
        *(f.with_nullable(True) for f in ROI_FEATURES.schema),
        *(f.with_nullable(True) for f in QUARANTINE.schema if f.name in _QUARANTINE_ONLY),
        pa.field("outcome", pa.string(), nullable=False),
    ]
)


def radiomics_records(
    metadata: DataFrame, settings: Settings, run_id: str, key: PseudonymKey | None
) -> DataFrame:
    """Every study's roi_features and quarantine records; nothing computed yet."""
    options = region_options(settings, run_id, key)

    def describe(records: list[dict]) -> list[dict]:
        described, quarantined = describe_study(records, options)
        return [{**r, "outcome": "roi_features"} for r in described] + [
            {**r, "outcome": "quarantine"} for r in quarantined
        ]

    def failed(records: list[dict], exc: Exception) -> list[dict]:
        now = pd.Timestamp.now(tz="UTC")
        return [
            {**quarantine_row(r, Reason.INTERNAL_ERROR, type(exc).__name__, run_id, now),
             "outcome": "quarantine"}
            for r in records
            if r.get("modality") in REGION_MODALITIES
        ]  # fmt: skip

    return map_studies(metadata, settings, describe, failed, RECORDS)


def holds_regions(spark: SparkSession, out_uri: str) -> bool:
    """Whether OUT/metadata lists any segmentation or structure set."""
    metadata = read_table(spark, out_uri, METADATA)
    return bool(metadata.filter(F.col("modality").isin(*REGION_MODALITIES)).limit(1).count())


def run_radiomics(run: Run) -> JobResult:
    """Describe every region in OUT/metadata, one task per study, each writing its share of
    OUT/roi_features and radiomics quarantine rows, which replace OUT/roi_features and the
    radiomics partition of OUT/quarantine."""
    run = run.begin("radiomics")
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    if settings.deid.enabled and run.key is None:
        raise ValueError("de-identification is enabled but no pseudonym key was given")
    with run.stage("describe_and_write") as stage:
        metadata = with_pixel_clearance(
            spark, settings, out_uri, read_table(spark, out_uri, METADATA)
        )
        written = written_records(
            radiomics_records(metadata, settings, run.id, run.key),
            layout.staging(out_uri, "radiomics", run.id),
            settings.deid.encryption,
            (ROI_FEATURES, QUARANTINE),
        )
        counts = written.finish(
            out_uri,
            None,
            settings.deid.pixels == "hold_back",
            replacing={QUARANTINE.name: str(Stage.RADIOMICS)},
        )
        by_source = {
            (r["roi_source"] or "unknown"): int(r["count"])
            for r in read_table(spark, out_uri, ROI_FEATURES)
            .select(
                "segmentation_sop_instance_uid", "series_instance_uid", "roi_number", "roi_source"
            )
            .distinct()
            .groupBy("roi_source")
            .count()
            .collect()
        }
        by_reason = dict(+counts.by_reason)
        stage.update(regions=sum(by_source.values()), set_aside=sum(by_reason.values()))
    run.count(
        regions=sum(by_source.values()),
        regions_by_source=by_source,
        quarantined=sum(by_reason.values()),
        quarantined_by_reason=by_reason,
    )
    return run.finish()
