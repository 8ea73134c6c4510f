"""Training shards: the preprocessed arrays of OUT/features (with their keys and, given labels,
their labels) as Parquet files of about a target size, partitioned by the same patient-grouped
split `train` uses, so a patient never spans train, validation and test."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql import functions as F

from medspark.errors import DataError
from medspark.run_summary import JobResult
from medspark.schemas import FEATURES, SHARDS
from medspark.spark.learning.labels import with_labels
from medspark.spark.learning.patient_split import ASSIGNED_SPLIT, GROUP, patient_group, split_name
from medspark.spark.output.tables import read_table, write_table
from medspark.spark.run import Run
from medspark.storage import shared_folder

ROW_OVERHEAD_BYTES = 256  # keys and small columns of a row, compressed


def run_shard_export(
    run: Run, destination: str, labels: str | None = None, shard_mb: int = 256
) -> JobResult:
    """Write DEST/shards/split=<split>/part-*.parquet of about `shard_mb` each."""
    folder = shared_folder(destination)
    run = run.begin("export_shards")
    spark, settings, out_uri, key = run.spark, run.settings, run.out_uri, run.key
    with run.stage("export_shards") as stage:
        frames = read_table(spark, out_uri, FEATURES).filter(F.col("tensor_npz").isNotNull())
        if labels is not None:
            frames = with_labels(spark, frames, labels, key)
        else:
            frames = frames.withColumn("label", F.lit(None).cast("string")).withColumn(
                ASSIGNED_SPLIT, F.lit(None).cast("string")
            )
        frames = (
            frames.withColumn(GROUP, patient_group())
            .withColumn("split", split_name(settings.model))
            .drop(GROUP, ASSIGNED_SPLIT)
        )
        size = frames.agg(F.count("*").alias("rows"), F.avg(F.length("tensor_npz")).alias("bytes"))
        stats = size.collect()[0]
        if not stats["rows"]:
            raise DataError(
                "OUT/features holds no preprocessed arrays" + (" with a label" if labels else ""),
                hint="run the features job with --set features.tensor=true",
            )
        stage.update(rows=int(stats["rows"]))
        per_row = float(stats["bytes"]) + ROW_OVERHEAD_BYTES
        per_shard = max(1, int(shard_mb * (1 << 20) / per_row))
        target = str(Path(folder) / SHARDS.place)
        # DEST is for sharing: pseudonymous keys in clear, as in the DICOM export
        write_table(
            frames.repartition("split"),
            out_uri,
            SHARDS,
            None,
            to=target,
            records_per_file=per_shard,
        )
        by_split = {
            r["split"]: int(r["count"])
            for r in read_table(spark, out_uri, SHARDS, at=target)
            .groupBy("split")
            .count()
            .collect()
        }
    run.count(
        destination=destination,
        rows_per_shard=per_shard,
        **{f"{k}_frames": v for k, v in by_split.items()},
    )
    return run.finish()
