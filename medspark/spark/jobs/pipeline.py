"""The pipeline's first job: a PACS export tree to the metadata, quarantine and features tables,
reading each file once (`ingest` alone stays header-only; `features` alone re-reads OUT)."""

from __future__ import annotations

import logging

from medspark import layout
from medspark.run_summary import JobResult
from medspark.spark.output.task_tables import written_pass
from medspark.spark.progress import StageProgress
from medspark.spark.records import catalog
from medspark.spark.records.single_pass import single_pass_options, single_pass_partition
from medspark.spark.run import Run

log = logging.getLogger("medspark.pipeline")


def run_single_pass(run: Run) -> JobResult:
    """List INPUT; in workers read, hash, parse, de-identify, decode and describe every file once,
    each task writing its share of OUT/metadata, OUT/quarantine and OUT/features; the later
    copies of a repeated SOP instance are quarantined; then the staged files become the tables
    and the run summary is written."""
    run = run.begin("pipeline")
    spark, settings = run.spark, run.settings
    listed = catalog.list_run_input(run)

    with run.stage("read_decode_write_and_count", files=listed.file_count):
        progress = StageProgress(spark, "pipeline", listed.file_count)
        options = single_pass_options(settings, run.key, run.id)
        written = written_pass(
            listed.files,
            listed.file_count,
            single_pass_partition(options, progress.counter),
            settings.ingest.files_per_task,
            layout.staging(run.out_uri, "pipeline", run.id),
            settings.deid.encryption,
        )
        counts = written.finish(
            run.out_uri,
            progress,
            settings.deid.pixels == "hold_back",
            resolve_duplicates=True,
        )

    run.count(listed_files=listed.file_count, listed_bytes=listed.byte_count, **counts.summary())
    listed.files.unpersist()
    return run.finish()
