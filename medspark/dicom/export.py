"""Write one instance as a de-identified DICOM Part-10 file for sharing; pixels untouched."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

from medspark.dicom.deid import DeidPolicy, deidentify
from medspark.dicom.pixels import read_image_dataset
from medspark.dicom.reasons import Reason, Rejection, Stage
from medspark.dicom.sources import ArchiveLimits, read_bytes, readable_path


def _safe(part: str | None) -> str:
    """A path component made only of UID/pseudonym characters."""
    text = "".join(ch for ch in (part or "unknown") if ch.isalnum() or ch in ".-_")
    return text or "unknown"


def export_instance(
    row: dict[str, Any], policy: DeidPolicy, destination: str, limits: ArchiveLimits
) -> dict[str, Any]:
    """De-identify the file behind a metadata row and write it under `destination`.

    The file lands at PATIENT/STUDY/SERIES/SOP.dcm, all pseudonyms; returns a manifest row.
    """
    try:
        data = read_bytes(readable_path(row, policy.key), limits)
    except (OSError, KeyError, OverflowError, ValueError) as exc:
        raise Rejection(
            Stage.DECODE, Reason.UNREADABLE, f"cannot re-read for export ({type(exc).__name__})"
        ) from None
    dataset = read_image_dataset(data, row.get("transfer_syntax_uid"))
    meta = dataset.file_meta
    if not meta.get("MediaStorageSOPClassUID") and dataset.get("SOPClassUID"):
        meta.MediaStorageSOPClassUID = dataset.SOPClassUID
    if not meta.get("MediaStorageSOPInstanceUID") and dataset.get("SOPInstanceUID"):
        meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
    deidentify(dataset, policy)
    relative = "/".join(
        [
            _safe(row.get("patient_id")),
            _safe(row.get("study_instance_uid")),
            _safe(row.get("series_instance_uid")),
            f"{_safe(str(dataset.SOPInstanceUID))}.dcm",
        ]
    )
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    body = buffer.getvalue()
    target = Path(destination) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(body)
    return {
        "sop_instance_uid": row.get("sop_instance_uid"),
        "file": relative,
        "file_size": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
    }
