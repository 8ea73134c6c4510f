"""The ingest job: a PACS export tree to the `metadata` and `quarantine` Parquet tables."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from pyspark.sql import SparkSession

from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.run_summary import JobResult, RunSummary, new_run_id
from medspark.schemas import METADATA, QUARANTINE
from medspark.spark import catalog
from medspark.spark.inspection import ingest_counts, inspect_records, split_records
from medspark.spark.progress import StageProgress
from medspark.spark.tables import read_table, write_table

log = logging.getLogger("medspark.ingest")


@dataclass(frozen=True)
class IngestResult(JobResult):
    """What an ingest run wrote and counted."""

    @property
    def quarantined(self) -> int:
        return int(self.summary["counts"]["quarantine"])


def run_ingest(
    spark: SparkSession,
    settings: Settings,
    input_uri: str,
    out_uri: str,
    key: PseudonymKey | None,
    run_id: str | None = None,
) -> IngestResult:
    """List INPUT, inspect every file in workers, write OUT/metadata, OUT/quarantine, a summary."""
    run_id = run_id or new_run_id()
    summary = RunSummary.start("ingest", run_id, input_uri, out_uri, settings, key)
    began = time.monotonic()
    listed = catalog.list_input(spark, input_uri)
    listed_files = listed.files
    file_count, byte_count = listed.file_count, listed.byte_count
    summary.stage("catalog", began, files=file_count, bytes=byte_count)
    log.info(
        "catalog: %d files, %d bytes under %s in %.1f s",
        file_count,
        byte_count,
        summary.input_uri,
        summary.stages["catalog"]["seconds"],
    )

    began = time.monotonic()
    progress = StageProgress(spark, "ingest", file_count)
    inspected = inspect_records(listed_files, file_count, settings, key, run_id, progress)
    metadata, quarantine = split_records(inspected)
    with progress:
        write_table(metadata, out_uri, METADATA, settings.deid.encryption)
        write_table(quarantine, out_uri, QUARANTINE, settings.deid.encryption)
    summary.stage("inspect_and_write", began, files=file_count)
    log.info("inspect and write: %d files in %.1f s", file_count, time.monotonic() - began)

    began = time.monotonic()
    counts = ingest_counts(
        read_table(spark, out_uri, METADATA), read_table(spark, out_uri, QUARANTINE)
    )
    summary.counts(listed_files=file_count, listed_bytes=byte_count, **counts)
    summary.stage("summarise", began)
    inspected.unpersist()
    listed_files.unpersist()
    log.info(
        "ingest: %d metadata rows, %d quarantined (%s)",
        counts["metadata"],
        counts["quarantine"],
        ", ".join(f"{k}={v}" for k, v in sorted(counts["by_reason"].items())) or "none",
    )
    summary_uri = summary.finish(spark.version)
    return IngestResult(run_id, summary.as_dict(), summary_uri)
