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


def describe_non_dicom(head: bytes) -> str:
    """A sentence for people on what a non-DICOM file's first bytes look like."""
    stripped = head.lstrip()
    if stripped[:1] in (b"{", b"["):
        kind = "JSON or other structured text"
    elif stripped[:5].lower() in (b"<?xml", b"<html", b"<!doc"):
        kind = "XML or HTML"
    elif head[:4] == b"%PDF":
        kind = "a PDF document"
    elif _mostly_text(head):
        kind = "plain text"
    else:
        kind = "binary data"
    return f"no DICM signature and no DICOM dataset at the start; the content looks like {kind}."


def _mostly_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return printable >= 0.95 * len(text)
