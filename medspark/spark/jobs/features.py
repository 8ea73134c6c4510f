"""The features job: OUT/metadata to OUT/features, decoding pixels in workers."""

from __future__ import annotations

import logging
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from medspark import layout
from medspark.config import EncryptionSettings, Settings
from medspark.dicom.reasons import Stage
from medspark.run_summary import JobResult
from medspark.schemas import FEATURES, METADATA, QUARANTINE
from medspark.spark.extraction import FeatureWork, feature_counts, feature_work, skipped_counts
from medspark.spark.pass_counts import PassTally, TallyParam, pass_counts, settled
from medspark.spark.progress import StageProgress
from medspark.spark.run import Run
from medspark.spark.tables import read_table, write_table
from medspark.spark.task_tables import written_pass

log = logging.getLogger("medspark.features")


def _spark_written(
    work: FeatureWork, settings: Settings, out_uri: str, progress: StageProgress
) -> DataFrame:
    """Decode once, persisting the records, then replace OUT/features and the decode partition
    of OUT/quarantine from them with Spark's writer (it encrypts). Returns the records."""
    encryption = settings.deid.encryption
    staged = work.records(settings.features.files_per_task).persist(StorageLevel.MEMORY_AND_DISK)
    with progress:
        write_table(staged.filter("outcome = 'features'"), out_uri, FEATURES, encryption)
        _write_decode_quarantine(staged, out_uri, encryption)
    return staged


def _task_written(
    spark: SparkSession,
    work: FeatureWork,
    settings: Settings,
    out_uri: str,
    run_id: str,
    progress: StageProgress,
) -> dict[str, Any]:
    """Each task writes its features files and decode quarantine files and tallies them; the
    staged files become OUT/features and the decode partition of OUT/quarantine. Returns the
    summary's feature counts."""
    tally = spark.sparkContext.accumulator(PassTally(), TallyParam())
    written = written_pass(
        work.images,
        work.count,
        work.extract,
        settings.features.files_per_task,
        layout.staging(out_uri, "features", run_id),
        settings.deid.encryption,
        (FEATURES, QUARANTINE),
        tally,
    )
    with progress:
        written.ledger.count()
    counts = pass_counts(settled(tally, written.tasks), settings.deid.pixels == "hold_back")
    written.commit(spark, out_uri, counts.parts, {QUARANTINE.name: str(Stage.DECODE)})
    written.ledger.unpersist()
    return counts.feature_summary()


def _write_decode_quarantine(
    records: DataFrame, out_uri: str, encryption: EncryptionSettings | None
) -> None:
    write_table(
        records.filter("outcome = 'quarantine'"),
        out_uri,
        QUARANTINE,
        encryption,
        replace_partition=Stage.DECODE,
        files=1,
    )


def run_features(run: Run) -> JobResult:
    """Decode every image in OUT/metadata and write OUT/features and decode quarantine rows."""
    run = run.begin("features")
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    with run.stage("decode_and_write") as stage:
        metadata = read_table(spark, out_uri, METADATA)
        progress = StageProgress(spark, "features")
        work = feature_work(settings, metadata, run.id, run.key, progress.counter)
        progress.total = work.count
        stage.update(images=work.count)
        if settings.deid.encryption.enabled:
            records = _spark_written(work, settings, out_uri, progress)
            counts = feature_counts(
                records.filter("outcome = 'features'"), records.filter("outcome = 'quarantine'")
            )
            records.unpersist()
        else:
            counts = _task_written(spark, work, settings, out_uri, run.id, progress)
    run.count(**skipped_counts(work.count, work.skipped), **counts)
    return run.finish()
