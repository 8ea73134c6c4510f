"""Run a per-row core function over whole partitions as Arrow record batches (`mapInArrow`)."""

from __future__ import annotations

import datetime as dt
import logging
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
from pyspark import Accumulator

from medspark.dicom.reasons import Reason, Stage
from medspark.sources import reading_ahead

OUTPUT_BATCH_ROWS = 256
Row = dict[str, Any]


def prepare_worker() -> None:
    """Per-process settings for Python workers: quiet libraries, one OpenCV thread per task."""
    logging.getLogger("pydicom").setLevel(logging.CRITICAL + 1)  # it logs element values
    warnings.simplefilter("ignore")  # and warns with them; ingest counts its own warnings
    import cv2

    cv2.setNumThreads(1)


def internal_error(row: Row, exc: Exception, run_id: str, stage: Stage) -> Row:
    """The quarantine row for an input the core itself failed on."""
    return {
        "path": row.get("path"),
        "file_size": row.get("file_size", row.get("length")),
        "sha256": row.get("sha256"),
        "outcome": "quarantine",
        "stage": str(stage),
        "reason": str(Reason.INTERNAL_ERROR),
        "detail": f"medspark failed on this file ({type(exc).__name__}); please report.",
        "run_id": run_id,
        "processed_at": dt.datetime.now(dt.UTC),
    }


def _safe(per_row: Callable[[Row], Iterator[Row]], row: Row, fallback) -> Iterator[Row]:
    try:
        yield from per_row(row)
    except Exception as exc:  # a bug or an exotic file must never stop a whole job
        # also after some records (an archive's first members, a file's first frames): the
        # rest would otherwise vanish without a trace
        yield fallback(row, exc)


def record_batches(
    per_row: Callable[[Row], Iterator[Row]],
    schema: pa.Schema,
    fallback: Callable[[Row, Exception], Row],
    progress: Accumulator | None = None,
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A `mapInArrow` function: each input row through `per_row`, output batched by `schema`.

    If `per_row` raises, `fallback` supplies a row recording that, after whatever it yielded.
    Rows whose `path` is a DICOMweb instance have it retrieved a few rows ahead.
    `progress`, when given, is an accumulator counting input rows done.
    """

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        prepare_worker()
        pending: list[tuple[Row, Row]] = []
        with reading_ahead() as ahead:
            for batch in batches:
                for row in ahead(batch.to_pylist()):
                    pending += [(row, out) for out in _safe(per_row, row, fallback)]
                    if progress is not None:
                        progress.add(1)
                    if len(pending) >= OUTPUT_BATCH_ROWS:
                        yield to_record_batch(pending, schema, fallback)
                        pending = []
        if pending:
            yield to_record_batch(pending, schema, fallback)

    return run


def to_record_batch(
    pending: list[tuple[Row, Row]],
    schema: pa.Schema,
    fallback: Callable[[Row, Exception], Row],
) -> pa.RecordBatch:
    """The output rows as one batch; a row the schema cannot hold becomes its fallback row."""
    try:
        return pa.RecordBatch.from_pylist([out for _, out in pending], schema=schema)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        kept = []
        for row, out in pending:
            try:
                pa.RecordBatch.from_pylist([out], schema=schema)
                kept.append(out)
            except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
                own = {k: out[k] for k in ("path", "file_size", "sha256") if out.get(k) is not None}
                kept.append(fallback({**row, **own}, exc))
        return pa.RecordBatch.from_pylist(kept, schema=schema)
