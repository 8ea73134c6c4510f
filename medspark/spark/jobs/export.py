"""The export job: de-identified DICOM Part-10 files for sharing, written by the workers."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from medspark.config import Settings
from medspark.dicom.deid import DeidPolicy, policy_from_settings
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.reasons import Rejection
from medspark.dicom.sources import ArchiveLimits
from medspark.errors import ConfigurationError, UsageError
from medspark.exports.compression import LOSSY
from medspark.exports.dicom import PreparedInstance, export_instance, prepare_instance
from medspark.exports.senders import sender_for
from medspark.run_summary import JobResult
from medspark.schemas import EXPORTS, METADATA
from medspark.spark import placement
from medspark.spark.output.tables import read_table, write_table
from medspark.spark.records.arrow_map import (
    OUTPUT_BATCH_ROWS,
    prepare_worker,
    record_batches,
    to_record_batch,
)
from medspark.spark.records.pixel_clearance import usable_pixels, with_pixel_clearance
from medspark.spark.run import Run
from medspark.storage import shared_folder

_COLUMNS = ("path", "path_token", "file_size", "sha256", "sop_instance_uid", "study_instance_uid",
            "series_instance_uid", "patient_id", "transfer_syntax_uid")  # fmt: skip
SHARED_MANIFEST = "manifest.csv"
_SHARED_COLUMNS = ("sop_instance_uid", "file", "file_size", "sha256")


def _export_rows(
    policy: DeidPolicy,
    destination: str,
    limits: ArchiveLimits,
    run_id: str,
    syntax: str | None,
    lossy: bool,
):
    def per_row(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
        stamp = {"run_id": run_id, "exported_at": dt.datetime.now(dt.UTC)}
        try:
            yield {
                **export_instance(row, policy, destination, limits, syntax, lossy),
                "status": "exported",
                **stamp,
            }
        except Rejection as rejection:
            yield _failed_row(row, str(rejection.reason), run_id)

    return record_batches(per_row, EXPORTS.schema, _fallback(run_id))


def _write_shared_manifest(manifest: DataFrame, target: Path) -> None:
    """DEST/manifest.csv: pseudonymous keys, file names, sizes and digests of what was shared."""
    exported = manifest.filter("status = 'exported'").select(*_SHARED_COLUMNS).orderBy("file")
    temporary = target.with_name(f".{target.name}.tmp")
    with open(temporary, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_SHARED_COLUMNS)
        for row in exported.toLocalIterator():
            writer.writerow([row[name] for name in _SHARED_COLUMNS])
    temporary.replace(target)


def _compression_counts(written: DataFrame) -> dict[str, Any]:
    """Pixel bytes before and after re-encoding, their ratio, and instances kept as they were."""
    row = written.agg(
        F.sum("pixel_bytes_before").alias("before"),
        F.sum("pixel_bytes_after").alias("after"),
        F.count(F.col("reencode_note")).alias("kept"),
    ).collect()[0]
    before, after = int(row["before"] or 0), int(row["after"] or 0)
    return {
        "pixel_bytes_before": before,
        "pixel_bytes_after": after,
        "compression_ratio": round(before / after, 3) if after else None,
        "kept_original_encoding": int(row["kept"]),
    }


def _exportable(
    spark: SparkSession, settings: Settings, out_uri: str
) -> tuple[DataFrame, int, int]:
    """(the metadata rows to export, how many, how many are held back for burned-in text)."""
    metadata = with_pixel_clearance(spark, settings, out_uri, read_table(spark, out_uri, METADATA))
    held = ~usable_pixels(settings)
    counts = {
        bool(r["held"]): int(r["count"])
        for r in metadata.groupBy(held.alias("held")).count().collect()
    }
    rows = metadata.filter(~held).select(*_COLUMNS, "pixels_cleared", "redactions")
    return rows, counts.get(False, 0), counts.get(True, 0)


def _policy(settings: Settings, key: PseudonymKey | None) -> DeidPolicy:
    if key is None:
        raise ConfigurationError(
            "export writes de-identified files and needs the pseudonym key",
            hint="deid.enabled is false in this profile",
        )
    return policy_from_settings(settings.deid, key)


def _check_lossy(syntax: str | None, lossy: bool) -> None:
    if syntax in LOSSY and not lossy:
        raise UsageError(f"--transfer-syntax {syntax} is lossy: add --lossy to mean it")


def run_export(
    run: Run, destination: str, syntax: str | None = None, lossy: bool = False
) -> JobResult:
    """Export every instance in OUT/metadata (held-back images excepted) to `destination`,
    pixel data re-encoded as `syntax` when one is given (checked frame by frame)."""
    folder = shared_folder(destination)
    _check_lossy(syntax, lossy)

    def per_partition(policy: DeidPolicy, run_id: str):
        return _export_rows(
            policy, folder, run.settings.ingest.archive_limits(), run_id, syntax, lossy
        )

    def counts(written: DataFrame, by_status: dict[str, int]) -> dict[str, Any]:
        _write_shared_manifest(written, Path(folder) / SHARED_MANIFEST)
        return {
            **{f"{k}_files": v for k, v in by_status.items()},
            **(_compression_counts(written) if syntax else {}),
        }

    return _run(run, destination, per_partition, counts)


def _run(
    run: Run,
    destination: str,
    per_partition: Callable[[DeidPolicy, str], Callable],
    counts: Callable[[DataFrame, dict[str, int]], dict[str, Any]],
) -> JobResult:
    """The export job around one per-partition function: the exportable rows in, the exports
    table out, and the run summary with `counts` of what was written."""
    run = run.begin("export")
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    with run.stage("export") as stage:
        rows, count, held_count = _exportable(spark, settings, out_uri)
        stage.update(instances=count)
        manifest = placement.balanced(rows, count, settings.features.files_per_task).mapInArrow(
            per_partition(_policy(settings, run.key), run.id), from_arrow_schema(EXPORTS.schema)
        )
        write_table(manifest, out_uri, EXPORTS, settings.deid.encryption)
        written = read_table(spark, out_uri, EXPORTS)
        by_status = {
            r["status"]: int(r["count"]) for r in written.groupBy("status").count().collect()
        }
    run.count(destination=destination, held_back_burned_in=held_count, **counts(written, by_status))
    return run.finish()


def _sent_rows(
    policy: DeidPolicy,
    limits: ArchiveLimits,
    run_id: str,
    syntax: str | None,
    lossy: bool,
    destination: str,
    ae_title: str,
):
    """A `mapInArrow` function: de-identify each row's instance, send them in the sender's
    batches, one manifest row per instance with the destination's answer."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        prepare_worker()
        sender = sender_for(destination, ae_title)
        pending: list[tuple[dict[str, Any], PreparedInstance]] = []
        done: list[tuple[dict[str, Any], dict[str, Any]]] = []

        def flush() -> None:
            try:
                deliveries = sender.send([prepared for _, prepared in pending])
            except Exception as exc:  # a sender bug fails its batch, never the job
                reason = f"internal_error ({type(exc).__name__})"
                done.extend((row, _failed_row(row, reason, run_id)) for row, _ in pending)
            else:
                stamp = {"run_id": run_id, "exported_at": dt.datetime.now(dt.UTC)}
                for (row, prepared), delivery in zip(pending, deliveries, strict=True):
                    status = "exported" if delivery.stored else "failed"
                    done.append((row, {**prepared.manifest_row(), "status": status,
                                       "reason": delivery.reason, "answer": delivery.answer,
                                       **stamp}))  # fmt: skip
            pending.clear()

        for batch in batches:
            for row in batch.to_pylist():
                try:
                    pending.append((row, prepare_instance(row, policy, limits, syntax, lossy)))
                except Rejection as rejection:
                    done.append((row, _failed_row(row, str(rejection.reason), run_id)))
                except Exception as exc:
                    reason = f"internal_error ({type(exc).__name__})"
                    done.append((row, _failed_row(row, reason, run_id)))
                if len(pending) >= sender.batch_size:
                    flush()
                if len(done) >= OUTPUT_BATCH_ROWS:
                    yield to_record_batch(done, EXPORTS.schema, _fallback(run_id))
                    done.clear()
        if pending:
            flush()
        if done:
            yield to_record_batch(done, EXPORTS.schema, _fallback(run_id))

    return run


def _failed_row(row: dict[str, Any], reason: str, run_id: str) -> dict[str, Any]:
    """The exports row of an instance that was not exported, and why."""
    return {"sop_instance_uid": row["sop_instance_uid"], "status": "failed", "reason": reason,
            "run_id": run_id, "exported_at": dt.datetime.now(dt.UTC)}  # fmt: skip


def _fallback(run_id: str):
    def fallback(row: dict[str, Any], exc: Exception) -> dict[str, Any]:
        return {"sop_instance_uid": row["sop_instance_uid"], "status": "failed",
                "reason": f"internal_error ({type(exc).__name__})", "run_id": run_id}  # fmt: skip

    return fallback


def run_pacs_export(
    run: Run,
    destination: str,
    syntax: str | None = None,
    lossy: bool = False,
    ae_title: str = "MEDSPARK",
) -> JobResult:
    """Send every exportable instance, de-identified, to a PACS: STOW-RS for
    `dicomweb+http(s)://…`, C-STORE for `dimse://AE@host:port`; the exports table records each
    instance with the destination's answer."""
    _check_lossy(syntax, lossy)
    sender_for(destination, ae_title).check()

    def per_partition(policy: DeidPolicy, run_id: str):
        limits = run.settings.ingest.archive_limits()
        return _sent_rows(policy, limits, run_id, syntax, lossy, destination, ae_title)

    def counts(_: DataFrame, by_status: dict[str, int]) -> dict[str, Any]:
        return {f"{k}_instances": v for k, v in by_status.items()}

    return _run(run, destination, per_partition, counts)
