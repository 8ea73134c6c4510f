"""Tables whose files the tasks write: only the files a finished task named become the table, and
a later copy of an instance leaves its file without touching the first copy's rows beside it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medspark.schemas import FEATURES, METADATA, PASS_LEDGER
from medspark.spark.output.tables import commit_parts, read_table, write_part
from medspark.spark.output.task_tables import WrittenPass, staged_table

pytestmark = pytest.mark.spark
NOW = dt.datetime(2026, 11, 30, tzinfo=dt.UTC)


def feature_rows(*rows: tuple[str, float]) -> pa.Table:
    full = [
        {"sop_instance_uid": uid, "frame": 1, "fo_mean": mean, "run_id": "r", "processed_at": NOW}
        for uid, mean in rows
    ]
    return pa.Table.from_pylist(full, schema=FEATURES.schema)


def test_only_the_named_parts_become_the_table(spark, tmp_path):
    staged, out = str(tmp_path / "staged"), str(tmp_path / "out")
    write_part(staged, FEATURES, "part-00000-0.parquet", feature_rows(("1.2", 1.0)))
    write_part(staged, FEATURES, "part-00001-0.parquet", feature_rows(("1.9", 9.0)))  # a failed try
    commit_parts(spark, staged, out, FEATURES, {"part-00000-0.parquet"})
    table = read_table(spark, out, FEATURES).collect()
    assert [(r["sop_instance_uid"], r["fo_mean"]) for r in table] == [("1.2", 1.0)]
    assert not Path(staged).exists()
    assert sorted(p.name for p in (Path(out) / "features").iterdir()) == [
        "_medspark-table.json",
        "part-00000-0.parquet",
    ]


def test_a_table_no_task_wrote_to_is_an_empty_table(spark, tmp_path):
    commit_parts(spark, str(tmp_path / "nothing"), str(tmp_path / "out"), METADATA, set())
    assert read_table(spark, str(tmp_path / "out"), METADATA).count() == 0


def test_a_later_copy_leaves_the_file_it_shares_with_the_first(spark, tmp_path):
    """Both copies of instance 1.2 were written by one task into one features file: only the
    later copy's frame (by its place in the file) goes; 1.3's stays."""
    staged = str(tmp_path / "staged")
    name = "part-00000-0.parquet"
    write_part(
        staged_table(staged, FEATURES),
        FEATURES,
        name,
        feature_rows(("1.2", 1.0), ("1.2", 2.0), ("1.3", 3.0)),
    )
    ledger_rows = [
        {"path": path, "sop_instance_uid": uid, "outcome": "features", "part": name,
         "part_row": place, "stage": None, "reason": None, "run_id": "r", "processed_at": NOW,
         "accounts_file": False, "first_frame": True}
        for place, (path, uid) in enumerate([("/in/a", "1.2"), ("/in/b", "1.2"), ("/in/c", "1.3")])
    ]  # fmt: skip
    ledger = spark.createDataFrame(
        pa.Table.from_pylist(ledger_rows, schema=PASS_LEDGER).to_pandas()
    )
    later = spark.createDataFrame([("/in/b", "1.2")], "path string, sop_instance_uid string")
    records = WrittenPass(staged, ledger, None).drop_rows_of(later)
    assert [(r.path, r.part_row) for r in records.collect()] == [("/in/b", 1)]
    left = pq.read_table(Path(staged_table(staged, FEATURES)) / name)
    assert left.column("fo_mean").to_pylist() == [1.0, 3.0]


def test_a_partitioned_table_keeps_its_values_in_folder_names(spark, tmp_path):
    """A task's quarantine file goes under its stage folder without the stage column, as
    Spark's writer lays it out; a name outside the partition folders is refused."""
    from medspark.schemas import QUARANTINE
    from medspark.spark.output.tables import SchemaMismatchError

    staged, out = str(tmp_path / "staged"), str(tmp_path / "out")
    rows = pa.Table.from_pylist(
        [{"path": "/in/a", "stage": "decode", "reason": "pixel_data_short", "run_id": "r",
          "processed_at": NOW}],
        schema=QUARANTINE.schema,
    )  # fmt: skip
    name = "stage=decode/part-00000-0.parquet"
    write_part(staged, QUARANTINE, name, rows)
    assert "stage" not in pq.read_table(Path(staged) / name).column_names
    with pytest.raises(SchemaMismatchError):
        write_part(staged, QUARANTINE, "part-00000-1.parquet", rows)
    commit_parts(spark, staged, out, QUARANTINE, {name})
    table = read_table(spark, out, QUARANTINE).collect()
    assert [(r["path"], r["stage"], r["reason"]) for r in table] == [
        ("/in/a", "decode", "pixel_data_short")
    ]


def test_a_partitioned_table_no_task_wrote_to_is_empty(spark, tmp_path):
    from medspark.schemas import QUARANTINE

    commit_parts(spark, str(tmp_path / "nothing"), str(tmp_path / "out"), QUARANTINE, set())
    assert read_table(spark, str(tmp_path / "out"), QUARANTINE).count() == 0


def test_replacing_one_partition_keeps_the_others(spark, tmp_path):
    """The features job replaces stage=decode of OUT/quarantine; the header rows ingest wrote
    stay, and a part outside the replaced partition is refused rather than dropped."""
    from medspark.schemas import QUARANTINE
    from medspark.spark.output.tables import SchemaMismatchError, commit_partition

    def rows(path: str, stage: str) -> pa.Table:
        return pa.Table.from_pylist(
            [{"path": path, "stage": stage, "reason": "r", "run_id": "r", "processed_at": NOW}],
            schema=QUARANTINE.schema,
        )

    out, first, second = str(tmp_path / "out"), str(tmp_path / "s1"), str(tmp_path / "s2")
    for name, stage in (("stage=header/part-00000-0.parquet", "header"),
                        ("stage=decode/part-00000-0.parquet", "decode")):  # fmt: skip
        write_part(first, QUARANTINE, name, rows(f"/in/{stage}", stage))
    commit_parts(spark, first, out, QUARANTINE, {"stage=header/part-00000-0.parquet",
                                                 "stage=decode/part-00000-0.parquet"})  # fmt: skip
    write_part(second, QUARANTINE, "stage=decode/part-00001-0.parquet", rows("/in/new", "decode"))
    with pytest.raises(SchemaMismatchError):
        commit_partition(spark, second, out, QUARANTINE, "decode", {"stage=header/x.parquet"})
    commit_partition(
        spark, second, out, QUARANTINE, "decode", {"stage=decode/part-00001-0.parquet"}
    )
    table = read_table(spark, out, QUARANTINE).collect()
    assert sorted((r["path"], r["stage"]) for r in table) == [
        ("/in/header", "header"),
        ("/in/new", "decode"),
    ]
