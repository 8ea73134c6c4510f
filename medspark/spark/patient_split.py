"""The patient-grouped split every consumer of labelled frames shares (the classifier, the
training shards): a patient's frames are all held out or all used for training, decided by a
hash of the patient and the seed, so runs and consumers agree without coordination."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from medspark.config import ModelSettings

GROUP = "_patient"


def patient_group() -> Column:
    """The patient a frame belongs to: its pseudonymous patient ID, else its study, else itself."""
    return F.coalesce("patient_id", "study_instance_uid", "sop_instance_uid")


def _bucket(settings: ModelSettings) -> Column:
    return F.pmod(F.xxhash64(F.col(GROUP), F.lit(settings.seed)), F.lit(10_000)) / 10_000.0


def _fold(settings: ModelSettings) -> Column:
    return F.pmod(F.xxhash64(F.col(GROUP), F.lit(settings.seed + 1)), F.lit(settings.folds))


def split_by_patient(frames: DataFrame, settings: ModelSettings) -> tuple[DataFrame, DataFrame]:
    """Training patients (with their cross-validation `fold`) and held-out patients; `frames`
    carries GROUP."""
    tagged = frames.withColumn("_bucket", _bucket(settings))
    test = tagged.filter(F.col("_bucket") < settings.test_fraction).drop("_bucket")
    train = tagged.filter(F.col("_bucket") >= settings.test_fraction).drop("_bucket")
    return train.withColumn("fold", _fold(settings).cast("int")), test


def split_name(settings: ModelSettings) -> Column:
    """test for the held-out patients, validation for the training patients of fold 0 (the
    first cross-validation fold), train for the others."""
    return (
        F.when(_bucket(settings) < settings.test_fraction, "test")
        .when(_fold(settings) == 0, "validation")
        .otherwise("train")
    )
