"""Checks that a file really holds what its header declares: pydicom reads short files quietly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Literal

import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian

from medspark.dicom.reasons import Reason, Rejection, Stage

PIXEL_TAGS = {
    0x7FE00010: "PixelData",
    0x7FE00008: "FloatPixelData",
    0x7FE00009: "DoubleFloatPixelData",
}
_LONG_LENGTH_VRS = frozenset(
    (b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV")
)
_PIXEL_VRS = frozenset((b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"UN"))
_SEQUENCE_DELIMITER = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_TAIL_WINDOW = 1 << 16
_UNDEFINED = 0xFFFFFFFF


@dataclass(frozen=True)
class PixelDataInfo:
    """Where an instance's pixel data lies in its file, as read from the element header."""

    keyword: str
    value_offset: int
    length: int | None
    encapsulated: bool


def _truncated(detail: str) -> Rejection:
    return Rejection(Stage.HEADER, Reason.TRUNCATED, detail)


MAX_SEQUENCE_DEPTH = 64


def check_header_complete(dataset: Dataset, max_depth: int = MAX_SEQUENCE_DEPTH) -> None:
    """Reject a dataset any of whose elements, at any depth, holds fewer bytes than it declares,
    or whose sequences nest deeper than `max_depth` levels (walked without recursion)."""
    pending: list[tuple[Dataset, int]] = [(dataset, 0)]
    while pending:
        current, depth = pending.pop()
        for tag in list(current.keys()):
            raw = current.get_item(tag)
            if isinstance(raw, RawDataElement):
                if (
                    raw.value is not None
                    and raw.length != _UNDEFINED
                    and len(raw.value) < raw.length
                ):
                    raise _truncated(
                        f"element {tag} declares {raw.length} bytes but the file ends after "
                        f"{len(raw.value)}."
                    )
                if raw.VR != "SQ" and not (raw.VR is None and raw.length == _UNDEFINED):
                    continue
            try:
                element = current[tag]
            except RecursionError:
                raise _too_deep(max_depth) from None
            except Exception:
                continue  # unparseable values are reported by the JSON step, not as truncation
            if element.VR == "SQ" and element.value:
                if depth + 1 > max_depth:
                    raise _too_deep(max_depth)
                pending += [(item, depth + 1) for item in element.value]


def _too_deep(limit: int) -> Rejection:
    return Rejection(
        Stage.HEADER,
        Reason.SEQUENCE_NESTING_TOO_DEEP,
        f"sequences nest deeper than {limit} levels.",
    )


def inspect_pixel_data(
    stream: BinaryIO, position: int, size: int, dataset: Dataset, transfer_syntax: str
) -> PixelDataInfo | None:
    """Locate the pixel data element where reading stopped, and reject it if the file is short.

    Returns None when the instance carries no pixel data (reports, plans, waveforms).
    """
    if UID(transfer_syntax) == DeflatedExplicitVRLittleEndian:
        return _inspect_deflated(stream)
    stream.seek(position)
    head = stream.read(12)
    if len(head) < 8:
        return None
    little = dataset.original_encoding[1] is not False
    order: Literal["little", "big"] = "little" if little else "big"
    tag = int.from_bytes(head[0:2], order) << 16 | int.from_bytes(head[2:4], order)
    keyword = PIXEL_TAGS.get(tag)
    if keyword is None:
        return None
    # The bytes decide, not the transfer syntax: some writers mix implicit VR into explicit files.
    if head[4:6] not in _PIXEL_VRS:
        length, header = int.from_bytes(head[4:8], order), 8
    elif head[4:6] in _LONG_LENGTH_VRS:
        if len(head) < 12:
            raise _truncated("the file ends inside the pixel data element header.")
        length, header = int.from_bytes(head[8:12], order), 12
    else:
        length, header = int.from_bytes(head[6:8], order), 8
    value_offset = position + header
    if length == _UNDEFINED:
        start = max(value_offset, size - _TAIL_WINDOW)
        stream.seek(start)
        if _SEQUENCE_DELIMITER not in stream.read(size - start):
            raise _truncated(
                "encapsulated pixel data has no closing delimiter: the file ends inside it."
            )
        return PixelDataInfo(keyword, value_offset, None, True)
    available = size - value_offset
    if length > available:
        raise _truncated(
            f"pixel data declares {length} bytes but only {max(available, 0)} follow in the file."
        )
    _check_trailing_elements(stream, value_offset + length, size, order)
    return PixelDataInfo(keyword, value_offset, length, False)


def _check_trailing_elements(
    stream: BinaryIO, offset: int, size: int, order: Literal["little", "big"]
) -> None:
    """Walk the elements after the pixel data (trailing padding, mostly) by their lengths."""
    while offset < size:
        stream.seek(offset)
        head = stream.read(12)
        if len(head) < 8:
            raise _truncated("the file ends inside an element header after the pixel data.")
        if head[4:6] in _LONG_LENGTH_VRS:
            if len(head) < 12:
                raise _truncated("the file ends inside an element header after the pixel data.")
            length, header = int.from_bytes(head[8:12], order), 12
        elif head[4:6].isalpha() and head[4:6].isupper():
            length, header = int.from_bytes(head[6:8], order), 8
        else:
            length, header = int.from_bytes(head[4:8], order), 8
        if length == _UNDEFINED:
            return  # a sequence after the pixels: rare, and not worth parsing here
        offset += header + length
        if offset > size:
            raise _truncated(
                f"an element after the pixel data declares {length} bytes past the end of file."
            )


def _inspect_deflated(stream: BinaryIO) -> PixelDataInfo | None:
    """Deflated datasets have no byte offsets in the file; read the whole body to find pixels."""
    stream.seek(0)
    full = pydicom.dcmread(stream, force=True)
    for tag, keyword in PIXEL_TAGS.items():
        if tag in full:
            return PixelDataInfo(keyword, -1, len(full[tag].value), False)
    return None
