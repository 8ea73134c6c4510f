"""Labels from a CSV or Parquet file joined to frames by the most specific identifier it has,
its raw identifiers pseudonymised with the run's key first (shared by train, the CNN and the
shards)."""

from __future__ import annotations

from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medspark.dicom.keys import PseudonymKey
from medspark.errors import DataError
from medspark.ml.labels import prepared_labels
from medspark.spark.learning.patient_split import ASSIGNED_SPLIT, GROUP, patient_group

_MATCH_HINT = (
    "check that the labels file's key column holds the raw identifiers the images carry "
    "(medspark pseudonymises them with the run's key) and that both classes occur"
)


def with_labels(
    spark: SparkSession, frames: DataFrame, labels_path: str, key: PseudonymKey | None
) -> DataFrame:
    """The frames a label names, with a `label` column and the split the labels file assigns
    (ASSIGNED_SPLIT: train, test or null)."""
    column, rows = prepared_labels(labels_path, key)
    labels = spark.createDataFrame(
        rows, f"{column} string, label string, {ASSIGNED_SPLIT} string"
    ).dropDuplicates([column])
    return frames.join(labels, on=column, how="inner")


def training_fingerprint(frames: DataFrame) -> dict[str, Any]:
    """An order-independent hash of labelled training data (keys and labels), and its rows."""
    row = frames.select(
        F.sum(F.xxhash64("sop_instance_uid", "frame", "label").cast("decimal(38,0)")).alias("h"),
        F.count("*").alias("n"),
    ).collect()[0]
    return {"rows": int(row["n"]), "xxhash64_sum": str(row["h"])}


def labelled_frames(
    spark: SparkSession,
    features: DataFrame,
    labels_path: str,
    key: PseudonymKey | None,
    hint: str = _MATCH_HINT,
) -> tuple[DataFrame, list[str]]:
    """Frames joined with their label, with a class index (`label_index`) and a patient
    grouping key (GROUP), and the classes in index order; fewer than two classes is a data
    error saying `hint`."""
    joined = with_labels(spark, features, labels_path, key)
    classes = sorted(r["label"] for r in joined.select("label").distinct().collect())
    if len(classes) < 2:
        matched = joined.count()
        raise DataError(
            f"the labels match {matched} feature rows, with classes {classes}: training needs "
            "at least two classes",
            hint=hint,
        )
    index = F.create_map(*[item for k, c in enumerate(classes) for item in (F.lit(c), F.lit(k))])
    grouped = joined.withColumn("label_index", index[F.col("label")].cast("double")).withColumn(
        GROUP, patient_group()
    )
    return grouped, classes
