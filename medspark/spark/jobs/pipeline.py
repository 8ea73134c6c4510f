"""The pipeline's first job: a PACS export tree to the metadata, quarantine and features tables,
reading each file once (`ingest` alone stays header-only; `features` alone re-reads OUT)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medspark import layout
from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.reasons import Stage
from medspark.run_summary import JobResult, RunSummary, new_run_id
from medspark.schemas import FEATURES, METADATA, PASS_LEDGER, QUARANTINE
from medspark.spark import catalog
from medspark.spark.concurrent_jobs import together
from medspark.spark.extraction import feature_counts, image_kinds, skipped_counts
from medspark.spark.filesystem import delete_path
from medspark.spark.inspection import ingest_counts
from medspark.spark.progress import StageProgress
from medspark.spark.single_pass import (
    PassTables,
    single_pass_options,
    single_pass_records,
    split_pass,
)
from medspark.spark.tables import read_table, write_table
from medspark.spark.task_tables import written_pass

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
    if settings.deid.encryption.enabled:
        tables = _spark_written(listed_files, file_count, settings, key, run_id, out_uri, progress)
    else:
        tables = _task_written(
            spark, listed_files, file_count, settings, key, run_id, out_uri, progress
        )
    summary.stage("read_decode_and_write", began, files=file_count)
    log.info("read, decode and write: %d files in %.1f s", file_count, time.monotonic() - began)

    tables.release()
    began = time.monotonic()
    summary.counts(
        listed_files=file_count,
        listed_bytes=byte_count,
        **_written_counts(spark, out_uri, settings),
    )
    summary.stage("summarise", began)
    listed_files.unpersist()
    summary_uri = summary.finish(spark.version)
    return JobResult(run_id, summary.as_dict(), summary_uri)


def _task_written(
    spark: SparkSession,
    listed_files: DataFrame,
    file_count: int,
    settings: Settings,
    key: PseudonymKey | None,
    run_id: str,
    out_uri: str,
    progress: StageProgress,
) -> PassTables:
    """Each task writes its metadata and features files; Spark writes the quarantine table from
    the ledger and the driver makes the staged files the tables."""
    staged = layout.staging(out_uri, "pipeline", run_id)
    options = single_pass_options(settings, key, run_id)
    written = written_pass(
        listed_files,
        file_count,
        options,
        settings.ingest.files_per_task,
        staged,
        settings.deid.encryption,
        progress.counter,
    )
    with progress:
        parts = written.parts()
    tables = split_pass(written.ledger, True, PASS_LEDGER.names)
    actions: list[Callable[[], object]] = [
        lambda: write_table(tables.quarantine, out_uri, QUARANTINE, None)
    ]
    if tables.duplicates_dropped:
        actions.append(lambda: written.drop_rows_except(tables.metadata))
    together(*actions)
    written.commit(spark, out_uri, parts)
    delete_path(spark, staged)
    return tables.also_releasing(written.ledger)


def _spark_written(
    listed_files: DataFrame,
    file_count: int,
    settings: Settings,
    key: PseudonymKey | None,
    run_id: str,
    out_uri: str,
    progress: StageProgress,
) -> PassTables:
    """Spark writes every table from the persisted records: its Parquet writer encrypts."""
    records = single_pass_records(listed_files, file_count, settings, key, run_id, progress.counter)
    tables = split_pass(records, resolve_duplicates=True)
    encryption = settings.deid.encryption
    with progress:
        write_table(tables.metadata, out_uri, METADATA, encryption)
        write_table(tables.quarantine, out_uri, QUARANTINE, encryption)
        write_table(tables.features, out_uri, FEATURES, encryption)
    return tables.also_releasing(records)


def _written_counts(spark: SparkSession, out_uri: str, settings: Settings) -> dict[str, Any]:
    """The run summary's counts, read back from the three tables as written."""
    metadata = read_table(spark, out_uri, METADATA)
    quarantine = read_table(spark, out_uri, QUARANTINE)
    features = read_table(spark, out_uri, FEATURES)
    failures = quarantine.filter(F.col("stage") == str(Stage.DECODE))
    (images, skipped), ingested, extracted = together(
        lambda: image_kinds(metadata, settings),
        lambda: ingest_counts(metadata, quarantine),
        lambda: feature_counts(features, failures),
    )
    return {**ingested, **skipped_counts(images, skipped), **extracted}
