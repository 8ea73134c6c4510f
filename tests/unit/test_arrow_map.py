"""The partition mapper keeps a record of every input, even when the core fails part-way."""

import pyarrow as pa

from medspark.spark.records.arrow_map import record_batches

SCHEMA = pa.schema([pa.field("path", pa.string()), pa.field("outcome", pa.string())])


def per_row(row):
    yield {"path": row["path"] + "!/first", "outcome": "metadata"}
    if row["path"] == "bad.zip":
        raise RuntimeError("a bug halfway through an archive")
    yield {"path": row["path"] + "!/second", "outcome": "metadata"}


def fallback(row, exc):
    return {"path": row["path"], "outcome": f"quarantine ({type(exc).__name__})"}


def test_failures_after_partial_output_still_leave_a_record():
    run = record_batches(per_row, SCHEMA, fallback)
    batch = pa.RecordBatch.from_pylist([{"path": "good.zip"}, {"path": "bad.zip"}])
    rows = [r for out in run(iter([batch])) for r in out.to_pylist()]
    assert rows == [
        {"path": "good.zip!/first", "outcome": "metadata"},
        {"path": "good.zip!/second", "outcome": "metadata"},
        {"path": "bad.zip!/first", "outcome": "metadata"},
        {"path": "bad.zip", "outcome": "quarantine (RuntimeError)"},
    ]


def test_a_row_the_schema_cannot_hold_becomes_its_fallback_and_the_rest_survive():
    schema = pa.schema([pa.field("path", pa.string()), pa.field("frames", pa.int32())])

    def frames(row):
        yield {"path": row["path"] + "!/a", "frames": 2**31 if row["path"] == "bad" else 1}

    def record(row, exc):
        return {"path": row["path"], "frames": None}

    run = record_batches(frames, schema, record)
    batch = pa.RecordBatch.from_pylist([{"path": "good"}, {"path": "bad"}, {"path": "also"}])
    rows = [r for out in run(iter([batch])) for r in out.to_pylist()]
    assert rows == [
        {"path": "good!/a", "frames": 1},
        {"path": "bad!/a", "frames": None},
        {"path": "also!/a", "frames": 1},
    ]
