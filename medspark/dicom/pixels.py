"""Decode an instance's frames to numpy arrays, with the reasons a frame cannot be decoded."""

from __future__ import annotations

import io
import warnings
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.encaps import generate_frames
from pydicom.pixels import iter_pixels
from pydicom.uid import UID, ExplicitVRLittleEndian, RLELossless
from rle.utils import decode_segment  # pylibjpeg-rle: PackBits segments

from medspark.dicom.reasons import Reason, Rejection, Stage

DEFLATED_IMAGE_FRAME_COMPRESSION = "1.2.840.10008.1.2.8.1"


def decode_rejection(reason: Reason, detail: str) -> Rejection:
    return Rejection(Stage.DECODE, reason, detail)


def read_image_dataset(data: bytes, transfer_syntax_uid: str | None) -> Dataset:
    """The whole dataset, pixel data included, with a missing transfer syntax filled in."""
    if data[:4] == b"DICM":
        data = b"\0" * 128 + data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dataset = pydicom.dcmread(io.BytesIO(data), force=True)
    if not dataset.file_meta.get("TransferSyntaxUID") and transfer_syntax_uid:
        dataset.file_meta.TransferSyntaxUID = UID(transfer_syntax_uid)
    return dataset


def frame_count(dataset: Dataset) -> int:
    try:
        return max(int(dataset.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


@dataclass(frozen=True)
class DecodeLimits:
    """The most decoded bytes one frame, and one instance (all its frames), may take."""

    frame_bytes: int = 256 << 20
    instance_bytes: int = 4 << 30


def decoded_frame_bytes(dataset: Dataset) -> int:
    """Bytes one decoded frame takes, from the header (bit-packed data unpacks to a byte)."""
    try:
        rows, columns = int(dataset.get("Rows") or 0), int(dataset.get("Columns") or 0)
        samples = int(dataset.get("SamplesPerPixel") or 1)
        bits = int(dataset.get("BitsAllocated") or 8)
    except (TypeError, ValueError):
        raise decode_rejection(
            Reason.DECODE_FAILED, "an image pixel attribute (rows, columns, bits) is not a number."
        ) from None
    return max(rows, 0) * max(columns, 0) * max(samples, 1) * max(-(-bits // 8), 1)


def check_decoded_size(dataset: Dataset, limits: DecodeLimits) -> None:
    """Reject, before any decoding, an instance whose header declares more than the limits."""
    frame = decoded_frame_bytes(dataset)
    frames = frame_count(dataset)
    if frame > limits.frame_bytes:
        raise decode_rejection(
            Reason.DECODED_SIZE_OVER_LIMIT,
            f"one frame would decode to {frame} bytes, over the configured "
            f"{limits.frame_bytes} (features.max_decoded_frame_mb).",
        )
    if frame * frames > limits.instance_bytes:
        raise decode_rejection(
            Reason.DECODED_SIZE_OVER_LIMIT,
            f"{frames} frames would decode to {frame * frames} bytes, over the configured "
            f"{limits.instance_bytes} (features.max_decoded_instance_mb).",
        )


def select_frames(count: int, mode: str, max_frames: int) -> list[int]:
    """0-based frame indices: all, first or middle; evenly thinned to `max_frames` when set."""
    if mode == "first":
        indices = [0]
    elif mode == "middle":
        indices = [count // 2]
    else:
        indices = list(range(count))
    if max_frames and len(indices) > max_frames:
        positions = np.linspace(0, len(indices) - 1, max_frames).round().astype(int)
        indices = [indices[p] for p in sorted(set(positions.tolist()))]
    return indices


def _inflate_frames(dataset: Dataset) -> Dataset:
    """Deflated Image Frame Compression (PS3.5 8.2.16): each frame is a raw Deflate stream.

    pydicom 3.0 cannot decode it; the frames are inflated into a native copy of the dataset.
    """
    count = frame_count(dataset)
    expected = decoded_frame_bytes(dataset) or DecodeLimits().frame_bytes
    frames = []
    for compressed in generate_frames(dataset.PixelData, number_of_frames=count):
        try:
            inflater = zlib.decompressobj(-zlib.MAX_WBITS)
            frames.append(inflater.decompress(compressed, expected + 1)[:expected])
        except zlib.error:  # a zlib-wrapped stream, seen in the wild
            inflater = zlib.decompressobj(zlib.MAX_WBITS)
            frames.append(inflater.decompress(compressed, expected + 1)[:expected])
    native = pydicom.Dataset()
    native.update(dataset)
    native.file_meta = pydicom.dataset.FileMetaDataset(dataset.file_meta)
    native.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    body = b"".join(frames)
    native.PixelData = body + (b"\0" if len(body) % 2 else b"")
    native["PixelData"].VR = "OB" if dataset.get("BitsAllocated", 8) <= 8 else "OW"
    return native


def _classify(exc: Exception, transfer_syntax: str) -> Rejection:
    message = str(exc)
    lowered = message.lower()
    if "less than expected" in lowered or "doesn't match the expected length" in lowered:
        return decode_rejection(
            Reason.PIXEL_DATA_SHORT, "the pixel data is shorter than rows x columns x frames."
        )
    if (
        isinstance(exc, NotImplementedError)
        or "missing required dependencies" in lowered
        or "no decoders" in lowered
        or "not supported" in lowered
        or "does not support" in lowered
    ):
        name = UID(transfer_syntax).name if transfer_syntax else "unknown"
        return decode_rejection(
            Reason.UNSUPPORTED_TRANSFER_SYNTAX,
            f"no installed decoder handles {name} ({transfer_syntax}) for this image.",
        )
    if isinstance(exc, AttributeError | KeyError):
        return decode_rejection(
            Reason.DECODE_FAILED,
            "a required image pixel attribute (rows, columns, bits) is missing.",
        )
    if "invalid literal" in lowered:
        return decode_rejection(
            Reason.DECODE_FAILED, "an image pixel attribute (rows, columns, bits) is not a number."
        )
    return decode_rejection(
        Reason.DECODE_FAILED, f"the pixel data could not be decoded ({type(exc).__name__})."
    )


PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")


def rle_header(header: bytes) -> list[int]:
    """Segment offsets from an RLE frame's 64-byte header (PS3.5 G.5)."""
    values = np.frombuffer(header[:64].ljust(64, b"\0"), dtype="<u4")
    count = int(values[0])
    if not 1 <= count <= 15:
        raise ValueError(f"RLE header declares {count} segments")
    return [int(v) for v in values[1 : count + 1]]


def rle_one_bit_frames(dataset: Dataset, indices: Sequence[int]) -> Iterator[np.ndarray]:
    """The frames of a one-bit RLE image (segmentations), which pydicom 3.0 cannot decode.

    A decoded segment holds either the frame bit-packed (least significant bit first) or one
    byte per pixel; both occur in the wild and are told apart by their length.
    """
    rows, columns = int(dataset.Rows), int(dataset.Columns)
    pixels = rows * columns
    frames = list(generate_frames(dataset.PixelData, number_of_frames=frame_count(dataset)))
    for index in indices:
        encoded = frames[index]
        offsets = rle_header(encoded[:64])
        if len(offsets) != 1:
            raise ValueError(f"one-bit RLE frame with {len(offsets)} segments")
        decoded = np.frombuffer(bytes(decode_segment(encoded[offsets[0] :])), dtype=np.uint8)
        if decoded.size >= pixels:
            yield (decoded[:pixels] != 0).astype(np.uint8).reshape(rows, columns)
        elif decoded.size * 8 >= pixels:
            bits = np.unpackbits(decoded, bitorder="little")[:pixels]
            yield bits.reshape(rows, columns)
        else:
            raise ValueError("less than expected: the RLE segment is shorter than the frame")


def iter_frames(dataset: Dataset, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(0-based index, array) for each selected frame, as pydicom returns it (RGB for colour).

    Float and double-float pixel data (parametric maps) come back as float arrays.
    """
    transfer_syntax = str(dataset.file_meta.get("TransferSyntaxUID", ""))
    if not any(keyword in dataset for keyword in PIXEL_KEYWORDS):
        raise decode_rejection(Reason.DECODE_FAILED, "the instance has no Pixel Data element.")
    try:
        if transfer_syntax == RLELossless and int(dataset.get("BitsAllocated") or 0) == 1:
            yield from zip(indices, rle_one_bit_frames(dataset, indices), strict=True)
            return
        source = (
            _inflate_frames(dataset)
            if transfer_syntax == DEFLATED_IMAGE_FRAME_COMPRESSION
            else dataset
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield from zip(indices, iter_pixels(source, indices=indices), strict=True)
    except Rejection:
        raise
    except Exception as exc:  # decoders raise anything from ValueError to RuntimeError
        raise _classify(exc, transfer_syntax) from None
