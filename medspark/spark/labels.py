"""Labels from a CSV or Parquet file joined to frames by the most specific identifier it has,
its raw identifiers pseudonymised with the run's key first (shared by train and the shards)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medspark.dicom.keys import PseudonymKey
from medspark.ml.labels import prepared_labels


def with_labels(
    spark: SparkSession, frames: DataFrame, labels_path: str, key: PseudonymKey | None
) -> DataFrame:
    """The frames a label names, with a `label` column."""
    column, rows = prepared_labels(labels_path, key)
    labels = spark.createDataFrame(rows, f"{column} string, label string").dropDuplicates([column])
    return frames.join(labels, on=column, how="inner")


def training_fingerprint(frames: DataFrame) -> dict[str, Any]:
    """An order-independent hash of labelled training data (keys and labels), and its rows."""
    row = frames.select(
        F.sum(F.xxhash64("sop_instance_uid", "frame", "label").cast("decimal(38,0)")).alias("h"),
        F.count("*").alias("n"),
    ).collect()[0]
    return {"rows": int(row["n"]), "xxhash64_sum": str(row["h"])}
