"""Read one DICOM instance's header from a stream, with integrity checks pydicom leaves out."""

from __future__ import annotations

import io
import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import pydicom
from pydicom.dataset import Dataset, FileDataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.uid import UID, ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from medspark.dicom.integrity import PixelDataInfo, check_header_complete, inspect_pixel_data
from medspark.dicom.reasons import Reason, Rejection, Stage
from medspark.dicom.sniff import PREAMBLE_LENGTH, ContentKind

DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
_EOF_MARKERS = ("end of file", "eof", "before delimiter", "unexpected end")


@dataclass
class ParsedHeader:
    """A header read from one file, with what was learnt about its encoding and pixels."""

    dataset: FileDataset
    transfer_syntax_uid: str
    transfer_syntax_inferred: bool
    pixel_data: PixelDataInfo | None


def _encoding_uid(dataset: Dataset) -> str:
    implicit, little = dataset.original_encoding
    if implicit:
        return ImplicitVRLittleEndian
    return ExplicitVRLittleEndian if little else ExplicitVRBigEndian


def read_header(stream: BinaryIO, size: int, kind: ContentKind) -> ParsedHeader:
    """Parse the header (everything before pixel data) of one DICOM stream, or reject it.

    `stream` must be seekable and positioned at the start of the file. Files whose "DICM"
    magic stands at offset 0 (no preamble) and datasets with no file meta are read too.
    """
    if kind == ContentKind.DICOM_PART10 and _magic_at_start(stream):
        stream = io.BytesIO(b"\0" * PREAMBLE_LENGTH + stream.read())
        size += PREAMBLE_LENGTH
    force = kind == ContentKind.DICOM_RAW
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            dataset = pydicom.dcmread(stream, stop_before_pixels=True, force=force)
            pixel_position = stream.tell()
        except InvalidDicomError:
            raise Rejection(
                Stage.HEADER, Reason.NOT_DICOM, "no DICOM file meta and no readable dataset."
            ) from None
        except (EOFError, struct.error) as exc:
            raise Rejection(
                Stage.HEADER, Reason.TRUNCATED, f"header ends early ({type(exc).__name__})."
            ) from None
        except RecursionError:
            raise Rejection(
                Stage.HEADER,
                Reason.SEQUENCE_NESTING_TOO_DEEP,
                "sequences nest too deep to parse.",
            ) from None
        except Exception as exc:  # pydicom raises many kinds on malformed input
            raise Rejection(
                Stage.HEADER,
                Reason.HEADER_PARSE_ERROR,
                f"pydicom cannot parse the header ({type(exc).__name__}).",
            ) from None
    for warning in caught:
        message = str(warning.message).lower()
        if any(marker in message for marker in _EOF_MARKERS):
            raise Rejection(Stage.HEADER, Reason.TRUNCATED, "header ends before an element does.")

    if len(dataset) == 0:
        raise Rejection(Stage.HEADER, Reason.NOT_DICOM, "no data elements could be read.")
    check_header_complete(dataset)

    meta_uid = dataset.file_meta.get("TransferSyntaxUID") if dataset.file_meta else None
    inferred = not meta_uid
    transfer_syntax = str(meta_uid) if meta_uid else _encoding_uid(dataset)
    if inferred:
        dataset.file_meta.TransferSyntaxUID = UID(transfer_syntax)

    pixel_data = inspect_pixel_data(stream, pixel_position, size, dataset, transfer_syntax)
    return ParsedHeader(dataset, transfer_syntax, inferred, pixel_data)


def reject_if_not_instance(dataset: Dataset) -> None:
    """Reject media directories and datasets without a SOP Instance UID."""
    sop_class = str(dataset.get("SOPClassUID", "") or "")
    meta = getattr(dataset, "file_meta", None)
    media_class = str(meta.get("MediaStorageSOPClassUID", "") or "") if meta else ""
    if DICOMDIR_SOP_CLASS in (sop_class, media_class) or "DirectoryRecordSequence" in dataset:
        raise Rejection(
            Stage.HEADER,
            Reason.DICOMDIR,
            "DICOMDIR media directory: an index of other files, which are ingested on their own.",
        )
    uid = dataset.get("SOPInstanceUID", "")
    if isinstance(uid, MultiValue | list | tuple):
        raise Rejection(
            Stage.HEADER,
            Reason.INVALID_SOP_INSTANCE_UID,
            f"the SOP Instance UID has {len(uid)} values; it must have exactly one.",
        )
    if not str(uid or "").strip():
        in_meta = bool(meta and meta.get("MediaStorageSOPInstanceUID"))
        hint = " (the file meta names one, but the dataset does not)" if in_meta else ""
        raise Rejection(
            Stage.HEADER,
            Reason.MISSING_SOP_INSTANCE_UID,
            f"the dataset has no SOP Instance UID{hint}.",
        )


def _magic_at_start(stream: BinaryIO) -> bool:
    position = stream.tell()
    head = stream.read(PREAMBLE_LENGTH + 4)
    stream.seek(position)
    return head[:4] == b"DICM" and head[PREAMBLE_LENGTH : PREAMBLE_LENGTH + 4] != b"DICM"
