"""Which images that may carry burned-in text were examined frame by frame, and their
redactions: read from OUT/features for every job that uses pixels after the features job."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from medspark import layout
from medspark.config import Settings
from medspark.schemas import FEATURES
from medspark.spark.output.filesystem import path_exists
from medspark.spark.output.tables import read_table
from medspark.spark.records.extraction import held_back


def with_pixel_clearance(
    spark: SparkSession, settings: Settings, out_uri: str, metadata: DataFrame
) -> DataFrame:
    """Metadata with `pixels_cleared` (every frame examined for burned-in text, its PHI boxes
    known) and `redactions` (frame, boxes) from OUT/features, when deid.pixels says so."""
    cleared = F.lit(False)
    empty = F.lit(None).cast("array<struct<frame:int,boxes:array<array<int>>>>")
    features_uri = layout.table(out_uri, FEATURES)
    if settings.deid.pixels != "detect_and_redact" or not path_exists(spark, features_uri):
        return metadata.withColumn("pixels_cleared", cleared).withColumn("redactions", empty)
    examined = (
        read_table(spark, out_uri, FEATURES)
        .filter(F.col("pixels_examined"))
        .groupBy("sop_instance_uid")
        .agg(
            F.countDistinct("frame").alias("_frames_examined"),
            F.collect_list(
                F.struct(F.col("frame"), F.col("pixel_redactions").alias("boxes"))
            ).alias("redactions"),
        )
    )
    frames = F.greatest(F.coalesce(F.col("number_of_frames"), F.lit(1)), F.lit(1))
    return (
        metadata.join(examined, "sop_instance_uid", "left")
        .withColumn("pixels_cleared", F.coalesce(F.col("_frames_examined") == frames, cleared))
        .drop("_frames_examined")
    )


def usable_pixels(settings: Settings) -> Column:
    """Rows whose pixels may be used: not at risk, or examined with their redactions known."""
    return ~held_back(settings) | F.col("pixels_cleared")
