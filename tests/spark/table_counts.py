"""The run summary's counts as queries over the tables as written: what the counts a pass takes
from its ledger (`medspark.spark.output.pass_counts`) must equal."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


def ingest_counts(metadata: DataFrame, quarantine: DataFrame) -> dict[str, Any]:
    """Metadata and quarantine rows: by modality, reason and stage, instances without pixel
    data, and the input files (archive members counted as their archive) they account for."""
    modalities = metadata.groupBy("modality").agg(
        F.count("*").alias("rows"), F.count(F.when(~F.col("has_pixel_data"), 1)).alias("bare")
    )
    by_modality = {(r["modality"] or "unknown"): r["rows"] for r in modalities.collect()}
    by_reason = {r["reason"]: r["count"] for r in quarantine.groupBy("reason").count().collect()}
    by_stage = {r["stage"]: r["count"] for r in quarantine.groupBy("stage").count().collect()}
    roots = (
        metadata.select("path")
        .unionByName(quarantine.select("path"))
        .select(F.split("path", "!/").getItem(0))
        .distinct()
        .count()
    )
    return {
        "metadata": metadata.count(),
        "quarantine": quarantine.count(),
        "non_image_instances": metadata.filter(~F.col("has_pixel_data")).count(),
        "accounted_files": roots,
        "by_modality": by_modality,
        "by_reason": by_reason,
        "by_stage": by_stage,
    }


def feature_counts(frames: DataFrame, decode_failures: DataFrame) -> dict[str, Any]:
    """Feature rows by modality, instances decoded, frames examined for text, with text and
    redacted, and decode quarantine rows by reason (held back unchecked apart)."""
    by_modality = {
        (r["modality"] or "unknown"): r["count"]
        for r in frames.groupBy("modality").count().collect()
    }
    failures = {
        r["reason"]: r["count"] for r in decode_failures.groupBy("reason").count().collect()
    }
    held_back = failures.get("burned_in_text_unchecked", 0)
    return {
        "instances_with_features": frames.select("sop_instance_uid").distinct().count(),
        "feature_rows": frames.count(),
        "feature_rows_by_modality": by_modality,
        "frames_examined_for_text": frames.filter(F.col("pixels_examined")).count(),
        "frames_with_text": frames.filter(F.col("pixel_text_boxes") > 0).count(),
        "frames_redacted": frames.filter(F.col("pixel_phi_boxes") > 0).count(),
        "held_back_text_unchecked": held_back,
        "decode_quarantined": decode_failures.count() - held_back,
        "decode_quarantined_by_reason": failures,
    }
