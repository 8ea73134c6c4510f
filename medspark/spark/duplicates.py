"""Duplicate SOP instances: the first copy by path is kept, the others are quarantined naming it.

Shared by the one-shot ingest and the incremental run's current state, so both resolve
duplicates by the same rule."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from medspark.dicom.reasons import Reason, Stage


def split_duplicates(instances: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Keep the first copy of each SOP Instance UID (by path); quarantine the others, naming it.

    The kept rows have the input's columns; the duplicates are quarantine rows."""
    by_uid = Window.partitionBy("sop_instance_uid").orderBy("path")
    whole_uid = by_uid.rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    ranked = (
        instances.withColumn("_rank", F.row_number().over(by_uid))
        .withColumn("_first_path", F.first("path").over(whole_uid))
        .withColumn("_first_sha", F.first("sha256").over(whole_uid))
    )
    kept = ranked.filter("_rank = 1").drop("_rank", "_first_path", "_first_sha")
    same = F.col("sha256") == F.col("_first_sha")
    duplicates = ranked.filter("_rank > 1").select(
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
    return kept, duplicates


@dataclass(frozen=True)
class LaterCopies:
    """The copies after the first of each repeated SOP instance: their (path, SOP Instance UID)
    keys and their quarantine rows (persisted, with the repeated UIDs; `release` drops them)."""

    keys: DataFrame
    quarantine: DataFrame
    repeated: DataFrame  # the repeated UIDs

    def release(self) -> None:
        """Drop what was persisted."""
        for frame in (self.keys, self.quarantine, self.repeated):
            frame.unpersist()


def later_copies(instances: DataFrame) -> LaterCopies | None:
    """The later copies among `instances` (rows with path, sop_instance_uid, file_size, sha256,
    run_id, processed_at), or None when no SOP instance is repeated; only the repeated
    instances' rows are ranked, the rest are looked at once."""
    repeated = (
        instances.groupBy("sop_instance_uid")
        .count()
        .filter("count > 1")
        .select("sop_instance_uid")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    copies = instances.join(repeated, "sop_instance_uid", "left_semi")
    _, quarantine = split_duplicates(copies)
    quarantine = quarantine.persist(StorageLevel.MEMORY_AND_DISK)
    keys = (
        copies.join(quarantine.select("path"), "path", "left_semi")
        .select("path", "sop_instance_uid")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    later = LaterCopies(keys, quarantine, repeated)
    if not keys.count():  # measured now, the joins with the ledger broadcast it
        later.release()
        return None
    return later
