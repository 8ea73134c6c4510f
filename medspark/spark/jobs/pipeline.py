"""The pipeline's first job: a PACS export tree to the metadata, quarantine and features tables,
reading each file once (`ingest` alone stays header-only; `features` alone re-reads OUT)."""

from __future__ import annotations

import logging
import time

from pyspark.sql import SparkSession

from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.run_summary import JobResult, RunSummary, new_run_id
from medspark.schemas import FEATURES, METADATA, QUARANTINE
from medspark.spark import catalog
from medspark.spark.extraction import feature_counts, image_kinds
from medspark.spark.inspection import ingest_counts
from medspark.spark.progress import StageProgress
from medspark.spark.single_pass import single_pass_records, split_pass
from medspark.spark.tables import read_table, write_table

log = logging.getLogger("medspark.pipeline")


def run_single_pass(
    spark: SparkSession,
    settings: Settings,
    input_uri: str,
    out_uri: str,
    key: PseudonymKey | None,
    run_id: str | None = None,
) -> JobResult:
    """List INPUT; in workers read, hash, parse, de-identify, decode and describe every file once;
    write OUT/metadata, OUT/quarantine and OUT/features once each, and a run summary."""
    run_id = run_id or new_run_id()
    summary = RunSummary.start("pipeline", run_id, input_uri, out_uri, settings, key)
    began = time.monotonic()
    listed = catalog.list_input(spark, input_uri)
    listed_files = listed.files
    file_count, byte_count = listed.file_count, listed.byte_count
    summary.stage("catalog", began, files=file_count, bytes=byte_count)
    log.info("catalog: %d files, %d bytes under %s", file_count, byte_count, summary.input_uri)

    began = time.monotonic()
    progress = StageProgress(spark, "pipeline", file_count)
    records = single_pass_records(listed_files, file_count, settings, key, run_id, progress.counter)
    tables = split_pass(records, resolve_duplicates=True)
    encryption = settings.deid.encryption
    with progress:
        write_table(tables.metadata, out_uri, METADATA, encryption)
        write_table(tables.quarantine, out_uri, QUARANTINE, encryption)
        write_table(tables.features, out_uri, FEATURES, encryption)
    summary.stage("read_decode_and_write", began, files=file_count)
    log.info("read, decode and write: %d files in %.1f s", file_count, time.monotonic() - began)

    began = time.monotonic()
    images, skipped = image_kinds(read_table(spark, out_uri, METADATA), settings)
    summary.counts(
        listed_files=file_count,
        listed_bytes=byte_count,
        **ingest_counts(spark, out_uri),
        **feature_counts(tables.feature_records, images, skipped),
    )
    summary.stage("summarise", began)
    tables.release()
    records.unpersist()
    listed_files.unpersist()
    summary_uri = summary.finish(spark.version)
    return JobResult(run_id, summary.as_dict(), summary_uri)
