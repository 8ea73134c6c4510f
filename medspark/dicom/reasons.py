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
    ROI_REFERENCE_MISSING = "roi_reference_missing"
    ROI_GEOMETRY_MISMATCH = "roi_geometry_mismatch"
    ROI_CONTOUR_INVALID = "roi_contour_invalid"
    ROI_CONTOUR_OPEN = "roi_contour_open"
    ROI_EMPTY = "roi_empty"
    ROI_OBJECT_INVALID = "roi_object_invalid"
    ROI_TOO_LARGE = "roi_too_large"
    ROI_SERIES_TOO_LARGE = "roi_series_too_large"
    SERIES_NOT_A_VOLUME = "series_not_a_volume"
    SERIES_MIXED_PIXEL_SPACING = "series_mixed_pixel_spacing"
    TOO_MANY_GREY_LEVELS = "too_many_grey_levels"
    INTERNAL_ERROR = "internal_error"


DESCRIPTION: dict[Reason, str] = {
    Reason.EMPTY_FILE: "zero bytes",
    Reason.UNREADABLE: "could not be read from storage",
    Reason.NOT_DICOM: "not a DICOM file",
    Reason.TRUNCATED: "ends before its declared content",
    Reason.HEADER_PARSE_ERROR: "header cannot be parsed",
    Reason.MISSING_SOP_INSTANCE_UID: "no SOP Instance UID",
    Reason.INVALID_SOP_INSTANCE_UID: "a SOP Instance UID that is not a valid UID",
    Reason.DICOMDIR: "a DICOMDIR index, not an instance",
    Reason.DUPLICATE_SOP_INSTANCE: "another copy of an instance already kept",
    Reason.ARCHIVE_CORRUPT: "archive cannot be opened",
    Reason.ARCHIVE_EMPTY: "archive holds no files",
    Reason.ARCHIVE_ENCRYPTED: "archive is password protected",
    Reason.ARCHIVE_MEMBER_TOO_LARGE: "archive member over the size limit",
    Reason.ARCHIVE_TOO_DEEP: "archives nested too deeply",
    Reason.UNSUPPORTED_TRANSFER_SYNTAX: "no decoder for its transfer syntax",
    Reason.PIXEL_DATA_SHORT: "pixel data shorter than declared",
    Reason.DECODE_FAILED: "pixel data could not be decoded",
    Reason.NOT_A_REGULAR_FILE: "a FIFO, socket, device or broken link, never opened",
    Reason.WADO_ADDRESS_SHARED: "another instance answers at the same WADO-RS address",
    Reason.SYMLINK_NOT_FOLLOWED: "a link out of the input, or to a folder",
    Reason.ARCHIVE_INFLATED_OVER_LIMIT: "archive inflates past its limit",
    Reason.SEQUENCE_NESTING_TOO_DEEP: "sequences nested too deeply",
    Reason.CHANGED_SINCE_INGEST: "the file changed after it was ingested",
    Reason.DECODED_SIZE_OVER_LIMIT: "decoded pixels would exceed the size limit",
    Reason.INVALID_PIXEL_ATTRIBUTE: "a pixel attribute outside what its type can hold",
    Reason.BURNED_IN_TEXT_UNCHECKED: "held back: burned-in text could not be checked",
    Reason.ROI_REFERENCE_MISSING: "the series a region was drawn on is not in the metadata",
    Reason.ROI_GEOMETRY_MISMATCH: "region and images disagree on geometry",
    Reason.ROI_CONTOUR_INVALID: "a contour that cannot be drawn",
    Reason.ROI_CONTOUR_OPEN: "an open contour",
    Reason.ROI_EMPTY: "a region with no voxel",
    Reason.ROI_OBJECT_INVALID: "a SEG or RTSTRUCT object that breaks its own rules",
    Reason.ROI_TOO_LARGE: "a region over the voxel limit",
    Reason.ROI_SERIES_TOO_LARGE: "a referenced series over the volume limit",
    Reason.SERIES_NOT_A_VOLUME: "a referenced series that is neither a volume nor a stack",
    Reason.SERIES_MIXED_PIXEL_SPACING: "slices of a series disagree on pixel spacing",
    Reason.TOO_MANY_GREY_LEVELS: "discretisation gives too many grey levels",
    Reason.INTERNAL_ERROR: "medspark failed on it (a bug to report)",
}
"""What each reason means, in a few words: the report's and the documentation's text."""


@dataclass(eq=False)
class Rejection(Exception):
    """A file set aside, with a stable reason and a sentence for people."""

    stage: Stage
    reason: Reason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason}: {self.detail}"
