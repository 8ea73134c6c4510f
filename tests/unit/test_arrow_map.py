"""The partition mapper keeps a record of every input, even when the core fails part-way."""

import pyarrow as pa

from medspark.spark.arrow_map import record_batches

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
