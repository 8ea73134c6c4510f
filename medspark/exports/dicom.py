"""Write one instance as a de-identified DICOM Part-10 file for sharing; pixels untouched unless
the features job found burned-in PHI, whose boxes are then filled."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medspark.dicom.deid import DeidPolicy, deidentify
from medspark.dicom.pixels import read_image_dataset
from medspark.dicom.reasons import Reason, Rejection, Stage
from medspark.dicom.redaction_boxes import boxes_by_frame
from medspark.dicom.sources import ArchiveLimits, read_verified
from medspark.exports.compression import Reencoded, file_bytes, reencode
from medspark.exports.pixel_redaction import apply_redactions
from medspark.storage import write_bytes

_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")
_PSEUDONYM = re.compile(r"^[0-9A-Za-z]+$")
_PREAMBLE = b"\0" * 128


def path_component(value: str | None, pattern: re.Pattern[str] = _UID) -> str:
    """A folder or file name from a data value: the value when it is a well-formed UID (or
    pseudonym), else a digest of it, so no value can climb out of the destination."""
    text = (value or "").strip()
    if text and len(text) <= 64 and pattern.match(text):
        return text
    return "x" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:32]


def series_folder(row: dict[str, Any]) -> str:
    """PATIENT/STUDY/SERIES under DEST for a row's series, every component a checked pseudonym
    or UID (else its digest)."""
    return "/".join(
        [
            path_component(row.get("patient_id"), _PSEUDONYM),
            path_component(row.get("study_instance_uid")),
            path_component(row.get("series_instance_uid")),
        ]
    )


def _inside(target: Path, root: Path) -> bool:
    return os.path.commonpath([os.path.realpath(target), os.path.realpath(root)]) == str(
        os.path.realpath(root)
    )


@dataclass(frozen=True)
class PreparedInstance:
    """One instance de-identified for sharing: where it goes under DEST, its Part 10 bytes,
    and what was done to its pixels."""

    sop_instance_uid: str | None
    uid_as_sent: str
    relative: str
    body: bytes
    transfer_syntax_uid: str
    pixels_cleaned: bool
    reencoded: Reencoded | None

    def manifest_row(self) -> dict[str, Any]:
        """The instance's row of the exports table (status and answer are the sender's)."""
        reencoded = self.reencoded
        return {
            "sop_instance_uid": self.sop_instance_uid,
            "file": self.relative,
            "file_size": len(self.body),
            "sha256": hashlib.sha256(self.body).hexdigest(),
            "pixels_cleaned": self.pixels_cleaned,
            "transfer_syntax_uid": self.transfer_syntax_uid,
            "pixel_bytes_before": reencoded.pixel_bytes_before if reencoded else None,
            "pixel_bytes_after": reencoded.pixel_bytes_after if reencoded else None,
            "reencode_note": reencoded.reason if reencoded else None,
        }


def prepare_instance(
    row: dict[str, Any],
    policy: DeidPolicy,
    limits: ArchiveLimits,
    syntax: str | None = None,
    lossy: bool = False,
) -> PreparedInstance:
    """De-identify the instance behind a metadata row, its pixel data re-encoded as `syntax`
    (a name of compression.SYNTAX_NAMES) when one is given.

    Its place is PATIENT/STUDY/SERIES/SOP.dcm, all pseudonyms. The bytes are checked against
    the row (size and SHA-256) before anything is done with them.
    """
    data = read_verified(row, policy.key, limits)
    dataset = read_image_dataset(data, row.get("transfer_syntax_uid"))
    del data
    deidentify(dataset, policy)
    written_syntax = None
    if row.get("pixels_cleared"):
        written_syntax = apply_redactions(dataset, boxes_by_frame(row.get("redactions")))
    dataset.preamble = _PREAMBLE
    reencoded = reencode(dataset, syntax, lossy) if syntax else None
    sop = path_component(str(dataset.get("SOPInstanceUID", "")))
    body = reencoded.file if reencoded and reencoded.file is not None else file_bytes(dataset)
    return PreparedInstance(
        sop_instance_uid=row.get("sop_instance_uid"),
        uid_as_sent=str(dataset.get("SOPInstanceUID", "")),
        relative=f"{series_folder(row)}/{sop}.dcm",
        body=body,
        transfer_syntax_uid=str(dataset.file_meta.TransferSyntaxUID),
        pixels_cleaned=written_syntax is not None,
        reencoded=reencoded,
    )


def export_instance(
    row: dict[str, Any],
    policy: DeidPolicy,
    destination: str,
    limits: ArchiveLimits,
    syntax: str | None = None,
    lossy: bool = False,
) -> dict[str, Any]:
    """Write the de-identified instance behind a metadata row under the folder `destination`;
    returns its manifest row."""
    prepared = prepare_instance(row, policy, limits, syntax, lossy)
    root = Path(destination)
    target = root / prepared.relative
    if not _inside(target.parent, root):
        raise Rejection(Stage.DECODE, Reason.INTERNAL_ERROR, "the file would land outside DEST.")
    write_bytes(str(target), prepared.body)
    return prepared.manifest_row()
