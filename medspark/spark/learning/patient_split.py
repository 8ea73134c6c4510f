"""The patient-grouped split every consumer of labelled frames shares (the classifier, the
CNN, the training shards): a patient's frames are all held out or all used for training,
decided by the labels file's `split` column where it names one, else by a hash of the patient
and the seed, so runs and consumers agree without coordination."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from medspark.config import ModelSettings

GROUP = "_patient"
ASSIGNED_SPLIT = "_assigned_split"  # train / test from the labels file, null where it is silent


def patient_group() -> Column:
    """The patient a frame belongs to: its pseudonymous patient ID, else its study, else itself."""
    return F.coalesce("patient_id", "study_instance_uid", "sop_instance_uid")


def _bucket(settings: ModelSettings) -> Column:
    return F.pmod(F.xxhash64(F.col(GROUP), F.lit(settings.seed)), F.lit(10_000)) / 10_000.0


def _held_out(settings: ModelSettings) -> Column:
    return F.coalesce(F.col(ASSIGNED_SPLIT) == "test", _bucket(settings) < settings.test_fraction)


def _fold(settings: ModelSettings) -> Column:
    return F.pmod(F.xxhash64(F.col(GROUP), F.lit(settings.seed + 1)), F.lit(settings.folds))


def split_by_patient(frames: DataFrame, settings: ModelSettings) -> tuple[DataFrame, DataFrame]:
    """Training patients (with their cross-validation `fold`) and held-out patients; `frames`
    carries GROUP and ASSIGNED_SPLIT."""
    tagged = frames.withColumn("_held_out", _held_out(settings))
    test = tagged.filter(F.col("_held_out")).drop("_held_out")
    train = tagged.filter(~F.col("_held_out")).drop("_held_out")
    return train.withColumn("fold", _fold(settings).cast("int")), test


def split_name(settings: ModelSettings) -> Column:
    """test for the held-out patients, validation for the training patients of fold 0 (the
    first cross-validation fold), train for the others."""
    return (
        F.when(_held_out(settings), "test")
        .when(_fold(settings) == 0, "validation")
        .otherwise("train")
    )
