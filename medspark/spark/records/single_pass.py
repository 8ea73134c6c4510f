"""The single pass over listed files, as Arrow batches in the workers: each file read once into
metadata, quarantine and feature records (`imaging.single_pass`); shared by pipeline and etl,
whose tasks write them (`task_tables`)."""

from __future__ import annotations

from pyspark import Accumulator

from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.reasons import Stage
from medspark.imaging.single_pass import SinglePassOptions, inspect_and_extract
from medspark.schemas import SINGLE_PASS_RECORDS
from medspark.spark.records.arrow_map import internal_error, record_batches
from medspark.spark.records.extraction import feature_options
from medspark.spark.records.inspection import inspect_options


def single_pass_partition(options: SinglePassOptions, progress: Accumulator | None = None):
    """A `mapInArrow` function: listed files to their SINGLE_PASS_RECORDS batches."""
    return record_batches(
        lambda row: inspect_and_extract(
            row["path"], row["length"], options, row.get("problem"), row.get("detail")
        ),
        SINGLE_PASS_RECORDS,
        lambda row, exc: internal_error(row, exc, options.inspect.run_id, Stage.HEADER),
        progress,
    )


def single_pass_options(
    settings: Settings, key: PseudonymKey | None, run_id: str
) -> SinglePassOptions:
    """What the workers need from the profile to take a file all the way to its records."""
    return SinglePassOptions(
        inspect_options(settings, key, run_id),
        feature_options(settings, run_id, key),
        settings.deid.pixels,
        settings.deid.examine_pixels,
    )
