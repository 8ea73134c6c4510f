"""Duplicate SOP instances: the first copy by path is kept, the others are quarantined naming it.

Shared by the one-shot ingest and the incremental run's current state, so both resolve
duplicates by the same rule."""

from __future__ import annotations

import pyarrow as pa
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from medspark.dicom.reasons import Reason, Stage


def _ranked(instances: DataFrame) -> DataFrame:
    """The rows with each one's place among the copies of its SOP instance by path (`_rank`)
    and the first copy's path and hash."""
    by_uid = Window.partitionBy("sop_instance_uid").orderBy("path")
    whole_uid = by_uid.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    return (
        instances.withColumn("_rank", F.row_number().over(by_uid))
        .withColumn("_first_path", F.first("path").over(whole_uid))
        .withColumn("_first_sha", F.first("sha256").over(whole_uid))
    )


def _quarantined(ranked: DataFrame, *keep: str) -> DataFrame:
    """Quarantine rows of ranked later copies, each naming the first copy (and the `keep`
    columns)."""
    same = F.col("sha256") == F.col("_first_sha")
    return ranked.select(
        "path",
        "file_size",
        "sha256",
        F.lit(str(Stage.DEDUPLICATE)).alias("stage"),
        F.lit(str(Reason.DUPLICATE_SOP_INSTANCE)).alias("reason"),
        F.concat(
            F.lit("another copy of the SOP instance first seen at "),
            F.col("_first_path"),
            F.when(same, F.lit(" (identical content).")).otherwise(
                F.lit(" (different content: a conflicting instance).")
            ),
        ).alias("detail"),
        "run_id",
        "processed_at",
        *keep,
    )


def split_duplicates(instances: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Keep the first copy of each SOP Instance UID (by path); quarantine the others, naming it.

    The kept rows have the input's columns; the duplicates are quarantine rows."""
    ranked = _ranked(instances)
    kept = ranked.filter("_rank = 1").drop("_rank", "_first_path", "_first_sha")
    return kept, _quarantined(ranked.filter("_rank > 1"))


def later_copies(instances: DataFrame) -> pa.Table | None:
    """The copies after the first of each repeated SOP instance among `instances` (rows with
    path, sop_instance_uid, file_size, sha256, run_id, processed_at) as their quarantine rows
    with their `sop_instance_uid`, or None when no SOP instance is repeated. One shuffle by SOP
    instance, in which only the repeated instances' rows are ranked; the driver holds the later
    copies only."""
    copies = F.count("*").over(Window.partitionBy("sop_instance_uid"))
    columns = ("path", "sop_instance_uid", "file_size", "sha256", "run_id", "processed_at")
    repeated = (
        instances.select(*columns)
        .withColumn("_copies", copies)
        .filter("_copies > 1")
        .drop("_copies")
    )
    later = _ranked(repeated).filter("_rank > 1")
    found = _quarantined(later, "sop_instance_uid").toArrow()
    return found if found.num_rows else None
