"""The ingest job: a PACS export tree to the `metadata` and `quarantine` Parquet tables."""

from __future__ import annotations

import logging

from medspark.run_summary import JobResult
from medspark.schemas import METADATA, QUARANTINE
from medspark.spark import catalog
from medspark.spark.inspection import ingest_counts, inspect_records, split_records
from medspark.spark.progress import StageProgress
from medspark.spark.run import Run
from medspark.spark.tables import read_table, write_table

log = logging.getLogger("medspark.ingest")


def run_ingest(run: Run) -> JobResult:
    """List INPUT, inspect every file in workers, write OUT/metadata, OUT/quarantine, a summary."""
    run = run.begin("ingest")
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    listed = catalog.list_run_input(run)

    with run.stage("inspect_and_write", files=listed.file_count):
        progress = StageProgress(spark, "ingest", listed.file_count)
        inspected = inspect_records(
            listed.files, listed.file_count, settings, run.key, run.id, progress
        )
        metadata, quarantine = split_records(inspected)
        with progress:
            write_table(metadata, out_uri, METADATA, settings.deid.encryption)
            write_table(quarantine, out_uri, QUARANTINE, settings.deid.encryption)

    with run.stage("summarise"):
        counts = ingest_counts(
            read_table(spark, out_uri, METADATA), read_table(spark, out_uri, QUARANTINE)
        )
        run.count(listed_files=listed.file_count, listed_bytes=listed.byte_count, **counts)
    inspected.unpersist()
    listed.files.unpersist()
    log.info(
        "ingest: %d metadata rows, %d quarantined (%s)",
        counts["metadata"],
        counts["quarantine"],
        ", ".join(f"{k}={v}" for k, v in sorted(counts["by_reason"].items())) or "none",
    )
    return run.finish()
