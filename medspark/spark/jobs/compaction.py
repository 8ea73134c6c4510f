"""Compaction of an incremental output: the stored history's many small per-batch files into a
few large ones, and the tables' superseded Delta versions vacuumed.

The stored rows of the newest version of every input file are rewritten as one partition, that
of the newest committed batch, sized by `etl.compact_rows_per_file`; superseded versions are
dropped. Staged under OUT/_etl/compact, marked ready, then swapped in; a run that finds a ready
compaction finishes the swap first, and one that finds an unready one discards it. Each table's
files that no Delta version younger than `etl.vacuum_retention_hours` holds are deleted
(Delta's vacuum); the current version is written compact by every batch.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from medspark import layout
from medspark.schemas import PLAN, SEEN
from medspark.spark.output.current import (
    BATCH_COLUMN,
    TABLES,
    committed_batches,
    finish_compaction,
    newest_stored,
    seen_files,
    stored_extra,
)
from medspark.spark.output.delta_log import vacuum
from medspark.spark.output.filesystem import (
    count_parquet_files,
)
from medspark.spark.output.tables import write_table
from medspark.spark.run import Run
from medspark.storage import write_text

log = logging.getLogger("medspark.compaction")


def compact(run: Run) -> dict[str, Any]:
    """Rewrite every table's current rows into few files; returns files before and after."""
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    finish_compaction(spark, out_uri)
    committed = committed_batches(spark, out_uri)
    if not committed:
        return {"tables": {}}
    newest = max(committed)
    began = time.monotonic()
    report: dict[str, Any] = {"batch": newest, "tables": {}}
    stored = newest_stored(spark, out_uri)
    for spec in TABLES:
        rows_df = stored[spec.name].drop(BATCH_COLUMN)
        rows = rows_df.count()
        write_table(
            rows_df,
            out_uri,
            spec,
            settings.deid.encryption,
            to=layout.partition(layout.compaction(out_uri, spec.name), BATCH_COLUMN, newest),
            files=max(1, math.ceil(rows / settings.etl.compact_rows_per_file)),
            extra=stored_extra(spec),
        )
        report["tables"][spec.name] = {
            "rows": rows,
            "files_before": count_parquet_files(spark, layout.etl_stored(out_uri, spec)),
        }
    seen_files_before = count_parquet_files(spark, layout.table(out_uri, SEEN))
    latest = stored[SEEN.name].withColumnRenamed(BATCH_COLUMN, "batch")
    seen = seen_files(spark, out_uri, committed).join(latest, ["path", "batch"], "left_semi")
    write_table(
        seen.drop("batch"),
        out_uri,
        PLAN,
        settings.deid.encryption,
        to=layout.partition(layout.compaction(out_uri, SEEN.name), "batch", newest),
        files=1,
    )
    report["tables"][SEEN.name] = {"rows": seen.count(), "files_before": seen_files_before}
    write_text(layout.compaction_ready(out_uri), "")
    finish_compaction(spark, out_uri)
    for spec in TABLES:
        report["tables"][spec.name]["files_after"] = count_parquet_files(
            spark, layout.etl_stored(out_uri, spec)
        )
        report["tables"][spec.name]["vacuumed"] = len(
            vacuum(layout.table(out_uri, spec), settings.etl.vacuum_retention_hours)
        )
    report["tables"][SEEN.name]["files_after"] = count_parquet_files(
        spark, layout.table(out_uri, SEEN)
    )
    report["seconds"] = round(time.monotonic() - began, 2)
    log.info("compacted into batch %d in %.1f s", newest, report["seconds"])
    return report
