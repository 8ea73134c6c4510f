"""The ingest job: a PACS export tree to the `metadata` and `quarantine` Parquet tables."""

from __future__ import annotations

import logging

from medspark import layout
from medspark.run_summary import JobResult
from medspark.schemas import METADATA, QUARANTINE
from medspark.spark.output.task_tables import written_pass
from medspark.spark.progress import StageProgress
from medspark.spark.records import catalog
from medspark.spark.records.inspection import inspect_options, inspect_partition
from medspark.spark.run import Run

log = logging.getLogger("medspark.ingest")


def run_ingest(run: Run) -> JobResult:
    """List INPUT; in workers inspect every file, each task writing its share of OUT/metadata
    and OUT/quarantine; the later copies of a repeated SOP instance are quarantined; then the
    staged files become the tables and the run summary is written."""
    run = run.begin("ingest")
    spark, settings = run.spark, run.settings
    listed = catalog.list_run_input(run)

    with run.stage("inspect_write_and_count", files=listed.file_count):
        progress = StageProgress(spark, "ingest", listed.file_count)
        options = inspect_options(settings, run.key, run.id)
        written = written_pass(
            listed.files,
            listed.file_count,
            inspect_partition(options, progress.counter),
            settings.ingest.files_per_task,
            layout.staging(run.out_uri, "ingest", run.id),
            settings.deid.encryption,
            (METADATA, QUARANTINE),
        )
        counts = written.finish(
            run.out_uri,
            progress,
            settings.deid.pixels == "hold_back",
            resolve_duplicates=True,
        ).ingest_summary()

    run.count(listed_files=listed.file_count, listed_bytes=listed.byte_count, **counts)
    listed.files.unpersist()
    log.info(
        "ingest: %d metadata rows, %d quarantined (%s)",
        counts["metadata"],
        counts["quarantine"],
        ", ".join(f"{k}={v}" for k, v in sorted(counts["by_reason"].items())) or "none",
    )
    return run.finish()
