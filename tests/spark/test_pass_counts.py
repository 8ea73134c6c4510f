"""Task tallies: each task's ledger counted once however often the task ran, and later copies
moved out of the tables' counts into the duplicates'."""

from __future__ import annotations

import pyarrow as pa

from medspark.schemas import PASS_LEDGER
from medspark.spark.pass_counts import PassTally, TallyParam, pass_counts, tally_ledger


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


def summed(*tallies: PassTally) -> PassTally:
    param = TallyParam()
    total = param.zero(PassTally())
    for tally in tallies:
        total = param.addInPlace(total, tally)
    return total


def test_a_task_that_ran_twice_counts_once():
    once = summed(PassTally.of_task(0, TASK_0), PassTally.of_task(1, TASK_1))
    twice = summed(
        PassTally.of_task(0, TASK_0), PassTally.of_task(1, TASK_1), PassTally.of_task(0, TASK_0)
    )
    assert twice.groups == once.groups and twice.tasks == {0, 1}
    counts = pass_counts(twice, hold_back=False).summary()
    assert counts["metadata"] == 2 and counts["accounted_files"] == 3
    assert counts["feature_rows"] == 3 and counts["instances_with_features"] == 2
    assert (counts["frames_examined_for_text"], counts["frames_with_text"]) == (2, 1)
    assert counts["frames_redacted"] == 1
    assert counts["by_reason"] == {"not_dicom": 1}


def test_the_files_of_each_table_are_named():
    counts = pass_counts(summed(PassTally.of_task(0, TASK_0), PassTally.of_task(1, TASK_1)), False)
    assert counts.parts == {
        "metadata": {"part-00000-0.parquet", "part-00001-0.parquet"},
        "features": {"part-00000-0.parquet", "part-00001-0.parquet"},
        "quarantine": {"stage=header/part-00000-0.parquet"},
    }


def test_a_later_copy_is_counted_as_a_duplicate_not_as_an_image():
    counts = pass_counts(summed(PassTally.of_task(0, TASK_0), PassTally.of_task(1, TASK_1)), False)
    counts.set_aside(tally_ledger(TASK_1))
    summary = counts.summary()
    assert summary["metadata"] == 1 and summary["by_modality"] == {"CT": 1}
    assert summary["by_reason"] == {"not_dicom": 1, "duplicate_sop_instance": 1}
    assert summary["by_stage"] == {"header": 1, "deduplicate": 1}
    assert summary["accounted_files"] == 3  # the later copy's file is accounted, as a duplicate
    assert summary["feature_rows"] == 2 and summary["instances_with_features"] == 1
    assert summary["feature_rows_by_modality"] == {"CT": 2}
