"""The features job: OUT/metadata to OUT/features, decoding pixels in workers."""

from __future__ import annotations

import logging

from medspark import layout
from medspark.dicom.reasons import Stage
from medspark.run_summary import JobResult
from medspark.schemas import FEATURES, METADATA, QUARANTINE
from medspark.spark.output.pass_counts import skipped_counts
from medspark.spark.output.tables import read_table
from medspark.spark.output.task_tables import written_pass
from medspark.spark.progress import StageProgress
from medspark.spark.records.extraction import feature_work
from medspark.spark.run import Run

log = logging.getLogger("medspark.features")


def run_features(run: Run) -> JobResult:
    """Decode every image in OUT/metadata; each task writes its OUT/features files and decode
    quarantine rows, which replace OUT/features and the decode partition of OUT/quarantine."""
    run = run.begin("features")
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    with run.stage("decode_and_write") as stage:
        metadata = read_table(spark, out_uri, METADATA)
        progress = StageProgress(spark, "features")
        work = feature_work(settings, metadata, run.id, run.key, progress.counter)
        progress.total = work.count
        stage.update(images=work.count)
        written = written_pass(
            work.images,
            work.count,
            work.extract,
            settings.features.files_per_task,
            layout.staging(out_uri, "features", run.id),
            settings.deid.encryption,
            (FEATURES, QUARANTINE),
        )
        counts = written.finish(
            out_uri,
            progress,
            settings.deid.pixels == "hold_back",
            replacing={QUARANTINE.name: str(Stage.DECODE)},
        )
    run.count(**skipped_counts(work.count, work.skipped), **counts.feature_summary())
    return run.finish()
