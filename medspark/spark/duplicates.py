"""Duplicate SOP instances: the first copy by path is kept, the others are quarantined naming it.

Shared by the one-shot ingest and the incremental run's current state, so both resolve
duplicates by the same rule."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
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


def _quarantined(ranked: DataFrame) -> DataFrame:
    """Quarantine rows of ranked later copies, each naming the first copy."""
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
    )


def split_duplicates(instances: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Keep the first copy of each SOP Instance UID (by path); quarantine the others, naming it.

    The kept rows have the input's columns; the duplicates are quarantine rows."""
    ranked = _ranked(instances)
    kept = ranked.filter("_rank = 1").drop("_rank", "_first_path", "_first_sha")
    return kept, _quarantined(ranked.filter("_rank > 1"))


@dataclass(frozen=True)
class LaterCopies:
    """The copies after the first of each repeated SOP instance (persisted, ranked): their
    (path, SOP Instance UID) keys and their quarantine rows; `release` drops them."""

    ranked: DataFrame

    @property
    def keys(self) -> DataFrame:
        return self.ranked.select("path", "sop_instance_uid")

    @property
    def quarantine(self) -> DataFrame:
        return _quarantined(self.ranked)

    def release(self) -> None:
        """Drop what was persisted."""
        self.ranked.unpersist()


def later_copies(instances: DataFrame) -> LaterCopies | None:
    """The later copies among `instances` (rows with path, sop_instance_uid, file_size, sha256,
    run_id, processed_at), or None when no SOP instance is repeated: one shuffle by SOP
    instance, in which only the repeated instances' rows are ranked."""
    copies = F.count("*").over(Window.partitionBy("sop_instance_uid"))
    columns = ("path", "sop_instance_uid", "file_size", "sha256", "run_id", "processed_at")
    repeated = (
        instances.select(*columns)
        .withColumn("_copies", copies)
        .filter("_copies > 1")
        .drop("_copies")
    )
    ranked = _ranked(repeated).filter("_rank > 1").persist(StorageLevel.MEMORY_AND_DISK)
    later = LaterCopies(ranked)
    if not ranked.count():  # measured now, the joins with the ledger broadcast it
        later.release()
        return None
    return later
