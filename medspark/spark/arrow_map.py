"""Run the per-file core over whole partitions as Arrow record batches (`mapInArrow`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicom.reasons import Reason, Stage
from medspark.schemas import INSPECTION

OUTPUT_BATCH_ROWS = 256


def quiet_dicom_logging() -> None:
    """pydicom logs element values on malformed input; those can be patient data."""
    logging.getLogger("pydicom").setLevel(logging.CRITICAL + 1)


def _safe_inspect(path: str, size: int, options: InspectOptions) -> Iterator[dict[str, Any]]:
    """The core's records, or one `internal_error` quarantine row if the core itself fails."""
    emitted = 0
    try:
        for record in inspect_file(path, size, options):
            emitted += 1
            yield record
    except Exception as exc:  # a bug or an exotic file must never stop a whole job
        if emitted == 0:
            yield {
                "path": path,
                "file_size": size,
                "outcome": "quarantine",
                "stage": str(Stage.HEADER),
                "reason": str(Reason.INTERNAL_ERROR),
                "detail": f"medspark failed on this file ({type(exc).__name__}); please report.",
                "run_id": options.run_id,
            }


def inspect_batches(
    options: InspectOptions,
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A `mapInArrow` function: batches of (path, length) in, batches of INSPECTION rows out."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        quiet_dicom_logging()
        pending: list[dict[str, Any]] = []
        for batch in batches:
            paths = batch.column("path").to_pylist()
            sizes = batch.column("length").to_pylist()
            for path, size in zip(paths, sizes, strict=True):
                pending.extend(_safe_inspect(path, size, options))
                if len(pending) >= OUTPUT_BATCH_ROWS:
                    yield pa.RecordBatch.from_pylist(pending, schema=INSPECTION)
                    pending = []
        if pending:
            yield pa.RecordBatch.from_pylist(pending, schema=INSPECTION)

    return run
