"""Ledger tallies: each writing task's records counted where they lie and summed, and later
copies moved out of the tables' counts into the duplicates'."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql.pandas.types import from_arrow_schema

from medspark.schemas import PASS_LEDGER
from medspark.spark.pass_counts import PassTally, ledger_tally, pass_counts, tally_ledger


def ledger(*records: dict) -> pa.Table:
    base = {"run_id": "r", "accounts_file": False, "first_frame": False}
    return pa.Table.from_pylist([{**base, **record} for record in records], schema=PASS_LEDGER)


CT = {"modality": "CT", "has_pixel_data": True, "burned_in_risk": False}
TASK_0 = ledger(
    {"path": "/a", "sop_instance_uid": "1", "outcome": "metadata", "accounts_file": True,
     "part": "part-00000-0.parquet", **CT},
    {"path": "/a", "sop_instance_uid": "1", "outcome": "features", "first_frame": True,
     "pixels_examined": True, "pixel_text_boxes": 2, "pixel_phi_boxes": 1,
     "part": "part-00000-0.parquet", **CT},
    {"path": "/a", "sop_instance_uid": "1", "outcome": "features", "pixels_examined": True,
     "pixel_text_boxes": 0, "pixel_phi_boxes": 0, "part": "part-00000-0.parquet", **CT},
    {"path": "/junk", "outcome": "quarantine", "stage": "header", "reason": "not_dicom",
     "accounts_file": True, "part": "stage=header/part-00000-0.parquet"},
)  # fmt: skip
TASK_1 = ledger(
    {"path": "/b", "sop_instance_uid": "1", "outcome": "metadata", "accounts_file": True,
     "part": "part-00001-0.parquet", **CT},
    {"path": "/b", "sop_instance_uid": "1", "outcome": "features", "first_frame": True,
     "pixels_examined": False, "part": "part-00001-0.parquet", **CT},
)  # fmt: skip


def summed(*ledgers: pa.Table) -> PassTally:
    tally = PassTally()
    for task_ledger in ledgers:
        tally.add_rows(tally_ledger(task_ledger))
    return tally


def test_the_counts_add_up_over_tasks():
    counts = pass_counts(summed(TASK_0, TASK_1), hold_back=False).summary()
    assert counts["metadata"] == 2 and counts["accounted_files"] == 3
    assert counts["feature_rows"] == 3 and counts["instances_with_features"] == 2
    assert (counts["frames_examined_for_text"], counts["frames_with_text"]) == (2, 1)
    assert counts["frames_redacted"] == 1
    assert counts["by_reason"] == {"not_dicom": 1}


@pytest.mark.spark
def test_the_ledger_aggregated_by_spark_is_tallied_as_on_the_driver(spark):
    """Spark's aggregation of the ledger (the writing tasks' records, in two partitions) gives
    what tallying each task's ledger on the driver gives."""
    both = pa.concat_tables([TASK_0, TASK_1])
    frame = spark.createDataFrame(both.to_pandas(), from_arrow_schema(PASS_LEDGER)).repartition(
        2, "path"
    )
    tallied = ledger_tally(frame)
    assert tallied.groups == summed(TASK_0, TASK_1).groups
    assert tallied.parts == summed(TASK_0, TASK_1).parts
    assert ledger_tally(frame.limit(0)).groups == {}


def test_the_files_of_each_table_are_named():
    counts = pass_counts(summed(TASK_0, TASK_1), False)
    assert counts.parts == {
        "metadata": {"part-00000-0.parquet", "part-00001-0.parquet"},
        "features": {"part-00000-0.parquet", "part-00001-0.parquet"},
        "quarantine": {"stage=header/part-00000-0.parquet"},
    }


def test_a_later_copy_is_counted_as_a_duplicate_not_as_an_image():
    counts = pass_counts(summed(TASK_0, TASK_1), False)
    counts.set_aside(tally_ledger(TASK_1))
    summary = counts.summary()
    assert summary["metadata"] == 1 and summary["by_modality"] == {"CT": 1}
    assert summary["by_reason"] == {"not_dicom": 1, "duplicate_sop_instance": 1}
    assert summary["by_stage"] == {"header": 1, "deduplicate": 1}
    assert summary["accounted_files"] == 3  # the later copy's file is accounted, as a duplicate
    assert summary["feature_rows"] == 2 and summary["instances_with_features"] == 1
    assert summary["feature_rows_by_modality"] == {"CT": 2}
