"""The pipeline's first job: a PACS export tree to the metadata, quarantine and features tables,
reading each file once (`ingest` alone stays header-only; `features` alone re-reads OUT)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medspark import layout
from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.reasons import Stage
from medspark.run_summary import JobResult
from medspark.schemas import FEATURES, METADATA, QUARANTINE
from medspark.spark import catalog
from medspark.spark.concurrent_jobs import together
from medspark.spark.duplicates import later_copies
from medspark.spark.extraction import feature_counts, image_kinds, skipped_counts
from medspark.spark.inspection import ingest_counts
from medspark.spark.pass_counts import (
    PassTally,
    TallyParam,
    pass_counts,
    settled,
    tally_ledger,
)
from medspark.spark.progress import StageProgress
from medspark.spark.run import Run
from medspark.spark.single_pass import (
    PassTables,
    single_pass_options,
    single_pass_partition,
    single_pass_records,
    split_pass,
)
from medspark.spark.tables import write_table
from medspark.spark.task_tables import written_pass

log = logging.getLogger("medspark.pipeline")


def run_single_pass(run: Run) -> JobResult:
    """List INPUT; in workers read, hash, parse, de-identify, decode and describe every file once;
    write OUT/metadata, OUT/quarantine and OUT/features once each, and a run summary."""
    run = run.begin("pipeline")
    spark, settings = run.spark, run.settings
    listed = catalog.list_run_input(run)

    with run.stage("read_decode_write_and_count", files=listed.file_count):
        progress = StageProgress(spark, "pipeline", listed.file_count)
        single_pass = _Pass(
            listed.files, listed.file_count, settings, run.key, run.id, run.out_uri, progress
        )
        if settings.deid.encryption.enabled:
            counts = single_pass.spark_written()
        else:
            counts = single_pass.task_written(spark)

    run.count(listed_files=listed.file_count, listed_bytes=listed.byte_count, **counts)
    listed.files.unpersist()
    return run.finish()


@dataclass(frozen=True)
class _Pass:
    """One single pass to run: the listed files and what the tables are written with."""

    listed_files: DataFrame
    file_count: int
    settings: Settings
    key: PseudonymKey | None
    run_id: str
    out_uri: str
    progress: StageProgress

    def task_written(self, spark: SparkSession) -> dict[str, Any]:
        """Each task writes its metadata, quarantine and features files and tallies its ledger;
        the driver finds the later copies of repeated instances on the ledger and, when there
        are any, takes their rows out of the files and adds their quarantine rows; then it
        makes the staged files the tables. Returns the summary's counts."""
        options = single_pass_options(self.settings, self.key, self.run_id)
        tally = spark.sparkContext.accumulator(PassTally(), TallyParam())
        written = written_pass(
            self.listed_files,
            self.file_count,
            single_pass_partition(options, self.progress.counter),
            self.settings.ingest.files_per_task,
            layout.staging(self.out_uri, "pipeline", self.run_id),
            self.settings.deid.encryption,
            tally=tally,
        )
        with self.progress:
            later = later_copies(written.ledger.filter("outcome = 'metadata'"))
        counts = pass_counts(
            settled(tally, written.tasks), self.settings.deid.pixels == "hold_back"
        )
        if later is not None:
            keys = spark.createDataFrame(later.select(["path", "sop_instance_uid"]))
            counts.set_aside(tally_ledger(written.drop_rows_of(keys)))
            added = written.add_rows(later, QUARANTINE, "later")
            counts.parts.setdefault(QUARANTINE.name, set()).update(added)
        written.commit(spark, self.out_uri, counts.parts)
        written.ledger.unpersist()
        return counts.summary()

    def spark_written(self) -> dict[str, Any]:
        """Spark writes every table from the persisted records: its Parquet writer encrypts."""
        records = single_pass_records(
            self.listed_files,
            self.file_count,
            self.settings,
            self.key,
            self.run_id,
            self.progress.counter,
        )
        tables = split_pass(records, resolve_duplicates=True)
        encryption = self.settings.deid.encryption
        with self.progress:
            write_table(tables.metadata, self.out_uri, METADATA, encryption)
            write_table(tables.quarantine, self.out_uri, QUARANTINE, encryption)
            write_table(tables.features, self.out_uri, FEATURES, encryption)
        counts = _counts(tables, self.settings)
        tables.also_releasing(records).release()
        return counts


def _counts(tables: PassTables, settings: Settings) -> dict[str, Any]:
    """The run summary's counts of the rows the tables hold (the split records, each count
    query a concurrent job)."""
    metadata, quarantine, features = tables.metadata, tables.quarantine, tables.features
    failures = quarantine.filter(F.col("stage") == str(Stage.DECODE))
    (images, skipped), ingested, extracted = together(
        lambda: image_kinds(metadata, settings),
        lambda: ingest_counts(metadata, quarantine),
        lambda: feature_counts(features, failures),
    )
    return {**ingested, **skipped_counts(images, skipped), **extracted}
