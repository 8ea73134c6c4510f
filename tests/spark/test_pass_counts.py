"""Ledger tallies: the writing tasks' records counted by one Spark aggregation, and later
copies moved out of the tables' counts into the duplicates'."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from medspark.schemas import PASS_LEDGER
from medspark.spark.output.pass_counts import PassTally, ledger_tally, pass_counts

pytestmark = pytest.mark.spark


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


def frame(spark: SparkSession, *ledgers: pa.Table) -> DataFrame:
    """The ledgers as one DataFrame, a partition a task's, as the writing tasks leave it."""
    both = pa.concat_tables(ledgers)
    schema = from_arrow_schema(PASS_LEDGER)
    return spark.createDataFrame(both.to_pandas(), schema).repartition(len(ledgers), "path")


def summed(spark: SparkSession, *ledgers: pa.Table) -> PassTally:
    return ledger_tally(frame(spark, *ledgers))


def test_the_counts_add_up_over_tasks(spark):
    counts = pass_counts(summed(spark, TASK_0, TASK_1), hold_back=False).summary()
    assert counts["metadata"] == 2 and counts["accounted_files"] == 3
    assert counts["feature_rows"] == 3 and counts["instances_with_features"] == 2
    assert (counts["frames_examined_for_text"], counts["frames_with_text"]) == (2, 1)
    assert counts["frames_redacted"] == 1
    assert counts["by_reason"] == {"not_dicom": 1}


def test_the_tally_does_not_depend_on_how_the_ledger_is_split(spark):
    """The same records in one partition or spread over two count the same; an empty ledger
    counts nothing."""
    one = ledger_tally(frame(spark, pa.concat_tables([TASK_0, TASK_1])))
    two = summed(spark, TASK_0, TASK_1)
    assert one.groups == two.groups and one.parts == two.parts
    metadata = {key: counts for key, counts in one.groups.items() if key[0] == "metadata"}
    assert metadata == {("metadata", "CT", None, None, True, False): [2, 2, 0, 0, 0, 0]}
    assert ledger_tally(frame(spark, TASK_0).limit(0)).groups == {}


def test_the_files_of_each_table_are_named(spark):
    counts = pass_counts(summed(spark, TASK_0, TASK_1), False)
    assert counts.parts == {
        "metadata": {"part-00000-0.parquet", "part-00001-0.parquet"},
        "features": {"part-00000-0.parquet", "part-00001-0.parquet"},
        "quarantine": {"stage=header/part-00000-0.parquet"},
    }


def test_a_later_copy_is_counted_as_a_duplicate_not_as_an_image(spark):
    counts = pass_counts(summed(spark, TASK_0, TASK_1), False)
    counts.set_aside(summed(spark, TASK_1).rows())
    summary = counts.summary()
    assert summary["metadata"] == 1 and summary["by_modality"] == {"CT": 1}
    assert summary["by_reason"] == {"not_dicom": 1, "duplicate_sop_instance": 1}
    assert summary["by_stage"] == {"header": 1, "deduplicate": 1}
    assert summary["accounted_files"] == 3  # the later copy's file is accounted, as a duplicate
    assert summary["feature_rows"] == 2 and summary["instances_with_features"] == 1
    assert summary["feature_rows_by_modality"] == {"CT": 2}
