"""Compaction of the incremental tables: many small per-batch files into a few large ones.

The current rows of every table (see `read_current`) are rewritten as one partition, that of
the newest committed batch, sized by `etl.compact_rows_per_file`; superseded versions are
dropped. Staged under OUT/_etl/compact, marked ready, then swapped in; a run that finds a ready
compaction finishes the swap first, and one that finds an unready one discards it.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from medspark.config import Settings
from medspark.spark.current import (
    BATCH_COLUMN,
    TABLES,
    committed_batches,
    newest_stored,
    state_uri,
)
from medspark.spark.encryption import write_options
from medspark.spark.tables import (
    count_parquet_files,
    delete_path,
    list_names,
    path_exists,
    rename_path,
)
from medspark.storage import join_uri, write_text

log = logging.getLogger("medspark.compaction")
_SEEN = "seen"


def finish_compaction(spark: SparkSession, out_uri: str) -> None:
    """Complete a compaction that was ready to swap; discard one that was not."""
    staging = state_uri(out_uri, "compact")
    if not path_exists(spark, staging):
        return
    if not path_exists(spark, join_uri(staging, "_READY")):
        delete_path(spark, staging)
        return
    targets = {spec.name: join_uri(out_uri, spec.name) for spec in TABLES}
    targets[_SEEN] = state_uri(out_uri, _SEEN)
    for name in list_names(spark, staging):
        if name in targets:
            delete_path(spark, targets[name])
            rename_path(spark, join_uri(staging, name), targets[name])
    delete_path(spark, staging)


def compact(spark: SparkSession, settings: Settings, out_uri: str) -> dict[str, Any]:
    """Rewrite every table's current rows into few files; returns files before and after."""
    finish_compaction(spark, out_uri)
    committed = committed_batches(spark, out_uri)
    if not committed:
        return {"tables": {}}
    newest = max(committed)
    staging = state_uri(out_uri, "compact")
    began = time.monotonic()
    report: dict[str, Any] = {"batch": newest, "tables": {}}
    per_file = settings.etl.compact_rows_per_file
    stored = newest_stored(spark, out_uri)
    for spec in TABLES:
        rows_df = stored[spec.name].drop(BATCH_COLUMN)
        rows = rows_df.count()
        files = max(1, math.ceil(rows / per_file))
        target = join_uri(staging, spec.name, f"{BATCH_COLUMN}={newest}")
        writer = (
            rows_df.repartition(files)
            .write.mode("overwrite")
            .options(**write_options(settings.deid.encryption, rows_df.columns))
        )
        if spec.name == "quarantine":
            writer = writer.partitionBy("stage")
        writer.parquet(target)
        report["tables"][spec.name] = {
            "rows": rows,
            "files_before": count_parquet_files(spark, join_uri(out_uri, spec.name)),
        }
    seen_files_before = count_parquet_files(spark, state_uri(out_uri, _SEEN))
    latest = stored[_SEEN].withColumnRenamed(BATCH_COLUMN, "batch")
    seen = (
        spark.read.parquet(state_uri(out_uri, _SEEN))
        .filter(F.col("batch").isin(committed))
        .join(latest, ["path", "batch"], "left_semi")
        .drop("batch")
    )
    seen.coalesce(1).write.mode("overwrite").parquet(join_uri(staging, _SEEN, f"batch={newest}"))
    report["tables"][_SEEN] = {"rows": seen.count(), "files_before": seen_files_before}
    write_text(join_uri(staging, "_READY"), "")
    finish_compaction(spark, out_uri)
    for spec in TABLES:
        report["tables"][spec.name]["files_after"] = count_parquet_files(
            spark, join_uri(out_uri, spec.name)
        )
    report["tables"][_SEEN]["files_after"] = count_parquet_files(spark, state_uri(out_uri, _SEEN))
    report["seconds"] = round(time.monotonic() - began, 2)
    log.info("compacted into batch %d in %.1f s", newest, report["seconds"])
    return report
