"""The per-file inspection of listed files, as Arrow batches in the workers (the ingest job's
records), and the ingest counts of the metadata and quarantine tables."""

from __future__ import annotations

from pyspark import Accumulator

from medspark.config import Settings
from medspark.dicom.deid import policy_from_settings
from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.reasons import Stage
from medspark.schemas import INSPECTION
from medspark.spark.records.arrow_map import internal_error, record_batches


def inspect_options(settings: Settings, key: PseudonymKey | None, run_id: str) -> InspectOptions:
    """The per-file options a profile and key give."""
    ingest = settings.ingest
    deid = None
    if settings.deid.enabled:
        if key is None:
            raise ValueError("de-identification is enabled but no pseudonym key was given")
        deid = policy_from_settings(settings.deid, key)
    return InspectOptions(
        run_id=run_id,
        in_memory_limit_bytes=ingest.in_memory_limit_mb << 20,
        bulk_data_threshold=ingest.bulk_data_threshold_bytes,
        archive_member_limit_bytes=ingest.archive_member_limit_mb << 20,
        archive_inflated_limit_bytes=ingest.archive_inflated_limit_mb << 20,
        archive_max_depth=ingest.archive_max_depth,
        max_value_bytes=ingest.max_value_bytes,
        deid=deid,
        hash_paths=settings.deid.hash_paths,
    )


def inspect_partition(options: InspectOptions, progress: Accumulator | None = None):
    """A `mapInArrow` function: listed files to their INSPECTION records."""
    return record_batches(
        lambda row: inspect_file(
            row["path"], row["length"], options, row.get("problem"), row.get("detail")
        ),
        INSPECTION,
        lambda row, exc: internal_error(row, exc, options.run_id, Stage.HEADER),
        progress,
    )
