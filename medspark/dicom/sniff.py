"""Tell what a file holds from its first bytes, without trusting its name."""

from __future__ import annotations

from enum import StrEnum

PREAMBLE_LENGTH = 128
MAGIC = b"DICM"
HEAD_BYTES = PREAMBLE_LENGTH + len(MAGIC)

_VALID_VRS = frozenset(
    b"AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN "
    b"UR US UT UV".split()
)


class ContentKind(StrEnum):
    """What the leading bytes say a file is."""

    EMPTY = "empty"
    DICOM_PART10 = "dicom_part10"
    DICOM_RAW = "dicom_raw"
    ZIP = "zip"
    GZIP = "gzip"
    OTHER = "other"


def _looks_like_raw_dataset(head: bytes) -> bool:
    """A dataset with no preamble: a plausible group 0002/0008 element at offset 0."""
    if len(head) < 8:
        return False
    for order in ("little", "big"):
        group = int.from_bytes(head[0:2], order)
        element = int.from_bytes(head[2:4], order)
        if group not in (0x0002, 0x0008) or element > 0x0200:
            continue
        if head[4:6] in _VALID_VRS:
            return True
        length = int.from_bytes(head[4:8], order)
        if order == "little" and length < 0x10000:
            return True
    return False


def sniff(head: bytes) -> ContentKind:
    """Classify a file from (at least) its first 132 bytes."""
    if not head:
        return ContentKind.EMPTY
    if head[PREAMBLE_LENGTH:HEAD_BYTES] == MAGIC:
        return ContentKind.DICOM_PART10
    if head[:4] == MAGIC:
        return ContentKind.DICOM_PART10
    if head[:4] in (b"PK\x03\x04", b"PK\x05\x06"):
        return ContentKind.ZIP
    if head[:2] == b"\x1f\x8b":
        return ContentKind.GZIP
    if _looks_like_raw_dataset(head):
        return ContentKind.DICOM_RAW
    return ContentKind.OTHER
