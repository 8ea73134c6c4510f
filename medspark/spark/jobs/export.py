"""The export job: de-identified DICOM Part-10 files for sharing, written by the workers."""

from __future__ import annotations

import csv
import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
from medspark.exports.dicom import export_instance
from medspark.run_summary import RunSummary, new_run_id
from medspark.schemas import EXPORTS, METADATA
from medspark.spark import catalog
from medspark.spark.arrow_map import record_batches
from medspark.spark.extraction import archive_limits
from medspark.spark.pixel_clearance import usable_pixels, with_pixel_clearance
from medspark.spark.tables import read_table, write_table
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
            yield {"sop_instance_uid": row["sop_instance_uid"], "status": "failed",
                   "reason": str(rejection.reason), **stamp}  # fmt: skip

    def fallback(row: dict[str, Any], exc: Exception) -> dict[str, Any]:
        return {"sop_instance_uid": row["sop_instance_uid"], "status": "failed",
                "reason": f"internal_error ({type(exc).__name__})", "run_id": run_id}  # fmt: skip

    return record_batches(per_row, EXPORTS.schema, fallback)


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


def run_export(
    spark: SparkSession,
    settings: Settings,
    out_uri: str,
    destination: str,
    key: PseudonymKey | None,
    syntax: str | None = None,
    lossy: bool = False,
) -> dict[str, Any]:
    """Export every instance in OUT/metadata (held-back images excepted) to `destination`,
    pixel data re-encoded as `syntax` when one is given (checked frame by frame)."""
    folder = shared_folder(destination)
    if syntax in LOSSY and not lossy:
        raise UsageError(f"--transfer-syntax {syntax} is lossy: add --lossy to mean it")
    run_id = new_run_id()
    summary = RunSummary.start("export", run_id, out_uri, out_uri, settings, key)
    began = time.monotonic()
    metadata = with_pixel_clearance(spark, settings, out_uri, read_table(spark, out_uri, METADATA))
    held = ~usable_pixels(settings)
    counts = {
        bool(r["held"]): int(r["count"])
        for r in metadata.groupBy(held.alias("held")).count().collect()
    }
    held_count, count = counts.get(True, 0), counts.get(False, 0)
    rows = metadata.filter(~held).select(*_COLUMNS, "pixels_cleared", "redactions")
    limits = archive_limits(settings)
    if key is None:
        raise ConfigurationError(
            "export writes de-identified files and needs the pseudonym key",
            hint="deid.enabled is false in this profile",
        )
    policy = policy_from_settings(settings.deid, key)
    manifest = catalog.balanced(rows, count, settings.features.files_per_task).mapInArrow(
        _export_rows(policy, folder, limits, run_id, syntax, lossy),
        from_arrow_schema(EXPORTS.schema),
    )
    write_table(manifest, out_uri, EXPORTS, settings.deid.encryption)
    written = read_table(spark, out_uri, EXPORTS)
    by_status = {r["status"]: int(r["count"]) for r in written.groupBy("status").count().collect()}
    _write_shared_manifest(written, Path(folder) / SHARED_MANIFEST)
    summary.stage("export", began, instances=count)
    summary.counts(
        destination=destination,
        held_back_burned_in=held_count,
        **{f"{k}_files": v for k, v in by_status.items()},
        **(_compression_counts(written) if syntax else {}),
    )
    summary.finish(spark.version)
    return summary.as_dict()["counts"]
