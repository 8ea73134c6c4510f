"""Stable reason codes for input that is not a usable DICOM instance."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Stage(StrEnum):
    """Where in the pipeline a file was set aside."""

    CATALOG = "catalog"
    ARCHIVE = "archive"
    HEADER = "header"
    DEDUPLICATE = "deduplicate"
    DECODE = "decode"
    RADIOMICS = "radiomics"


class Reason(StrEnum):
    """Short codes that downstream tools can group and alert on; never renamed."""

    EMPTY_FILE = "empty_file"
    UNREADABLE = "unreadable"
    NOT_DICOM = "not_dicom"
    TRUNCATED = "truncated"
    HEADER_PARSE_ERROR = "header_parse_error"
    MISSING_SOP_INSTANCE_UID = "missing_sop_instance_uid"
    INVALID_SOP_INSTANCE_UID = "invalid_sop_instance_uid"
    DICOMDIR = "dicomdir"
    DUPLICATE_SOP_INSTANCE = "duplicate_sop_instance"
    ARCHIVE_CORRUPT = "archive_corrupt"
    ARCHIVE_EMPTY = "archive_empty"
    ARCHIVE_ENCRYPTED = "archive_encrypted"
    ARCHIVE_MEMBER_TOO_LARGE = "archive_member_too_large"
    ARCHIVE_TOO_DEEP = "archive_too_deep"
    UNSUPPORTED_TRANSFER_SYNTAX = "unsupported_transfer_syntax"
    PIXEL_DATA_SHORT = "pixel_data_short"
    DECODE_FAILED = "decode_failed"
    NOT_A_REGULAR_FILE = "not_a_regular_file"
    WADO_ADDRESS_SHARED = "wado_address_shared"
    SYMLINK_NOT_FOLLOWED = "symlink_not_followed"
    ARCHIVE_INFLATED_OVER_LIMIT = "archive_inflated_over_limit"
    SEQUENCE_NESTING_TOO_DEEP = "sequence_nesting_too_deep"
    CHANGED_SINCE_INGEST = "changed_since_ingest"
    DECODED_SIZE_OVER_LIMIT = "decoded_size_over_limit"
    INVALID_PIXEL_ATTRIBUTE = "invalid_pixel_attribute"
    BURNED_IN_TEXT_UNCHECKED = "burned_in_text_unchecked"
    INTERNAL_ERROR = "internal_error"


@dataclass(eq=False)
class Rejection(Exception):
    """A file set aside, with a stable reason and a sentence for people."""

    stage: Stage
    reason: Reason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
