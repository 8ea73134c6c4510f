"""The per-file inspection of listed files, as Arrow batches in the workers (the ingest job's
records), and the ingest counts of the metadata and quarantine tables."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyspark import Accumulator
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from medspark.config import Settings
from medspark.dicom.deid import policy_from_settings
from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.reasons import Stage
from medspark.schemas import INSPECTION
from medspark.spark.arrow_map import internal_error, record_batches


def inspect_options(settings: Settings, key: PseudonymKey | None, run_id: str) -> InspectOptions:
    """The per-file options a profile and key give."""
    ingest = settings.ingest
    deid = None
    if settings.deid.enabled:
        if key is None:
            raise ValueError("de-identification is enabled but no pseudonym key was given")
        deid = policy_from_settings(settings.deid, key)
    return InspectOptions(
        run_id=run_id,
        in_memory_limit_bytes=ingest.in_memory_limit_mb << 20,
        bulk_data_threshold=ingest.bulk_data_threshold_bytes,
        archive_member_limit_bytes=ingest.archive_member_limit_mb << 20,
        archive_inflated_limit_bytes=ingest.archive_inflated_limit_mb << 20,
        archive_max_depth=ingest.archive_max_depth,
        max_value_bytes=ingest.max_value_bytes,
        deid=deid,
        hash_paths=settings.deid.hash_paths,
    )


def inspect_partition(options: InspectOptions, progress: Accumulator | None = None):
    """A `mapInArrow` function: listed files to their INSPECTION records."""
    return record_batches(
        lambda row: inspect_file(
            row["path"], row["length"], options, row.get("problem"), row.get("detail")
        ),
        INSPECTION,
        lambda row, exc: internal_error(row, exc, options.run_id, Stage.HEADER),
        progress,
    )


def ingest_counts(metadata: DataFrame, quarantine: DataFrame) -> dict[str, Any]:
    """Counts of metadata and quarantine rows: rows, by modality, by reason, accounted roots."""
    modalities = (
        metadata.groupBy("modality")
        .agg(F.count("*").alias("rows"), F.count(F.when(~F.col("has_pixel_data"), 1)).alias("bare"))
        .collect()
    )
    by_modality = {(row["modality"] or "unknown"): int(row["rows"]) for row in modalities}
    reasons = quarantine.groupBy("stage", "reason").count().collect()
    by_reason: dict[str, int] = {}
    by_stage: dict[str, int] = {}
    for row in reasons:
        by_reason[row["reason"]] = by_reason.get(row["reason"], 0) + int(row["count"])
        by_stage[row["stage"]] = by_stage.get(row["stage"], 0) + int(row["count"])
    roots = (
        metadata.select("path")
        .unionByName(quarantine.select("path"))
        .select(F.split("path", "!/").getItem(0).alias("root"))
        .distinct()
        .count()
    )
    non_image = sum(int(row["bare"]) for row in modalities)
    return ingest_summary(by_modality, by_reason, by_stage, non_image, int(roots))


def ingest_summary(
    by_modality: Mapping[str, int],
    by_reason: Mapping[str, int],
    by_stage: Mapping[str, int],
    non_image: int,
    accounted: int,
) -> dict[str, Any]:
    """The run summary's ingest counts, named as every job's summary names them."""
    return {
        "metadata": sum(by_modality.values()),
        "quarantine": sum(by_reason.values()),
        "non_image_instances": non_image,
        "accounted_files": accounted,
        "by_modality": dict(by_modality),
        "by_reason": dict(by_reason),
        "by_stage": dict(by_stage),
    }
