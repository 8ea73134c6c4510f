"""Re-encode an instance's pixel data in another transfer syntax, checked: every frame is decoded
again and compared with the source pixels before the dataset is used; a mismatch (or an encoder
that refuses the image) keeps the original encoding and says why."""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

LOSSLESS = {
    "jpeg2000-lossless": JPEG2000Lossless,
    "jpeg-ls-lossless": JPEGLSLossless,
    "rle": RLELossless,
    "explicit-little": ExplicitVRLittleEndian,
}
LOSSY = {"jpeg2000": JPEG2000, "jpeg-ls-near-lossless": JPEGLSNearLossless}
SYNTAX_NAMES = (*LOSSLESS, *LOSSY)
_ENCODER = {
    RLELossless: "pylibjpeg",
    JPEGLSLossless: "pyjpegls",
    JPEGLSNearLossless: "pyjpegls",
    JPEG2000Lossless: "pylibjpeg",
    JPEG2000: "pylibjpeg",
}


def encoding_plugin(syntax: str) -> str:
    """The encoder used for a syntax: never gdcm's RLE encoder, which aborts the whole process
    (a C++ exception) on some images instead of raising."""
    return _ENCODER.get(UID(syntax), "")


_LOSSY_METHOD = {JPEG2000: "ISO_15444_1", JPEGLSNearLossless: "ISO_14495_1"}
_RESTORED = (  # what re-encoding may change, put back when the original is kept
    "PixelData",
    "PhotometricInterpretation",
    "PlanarConfiguration",
    "LossyImageCompression",
    "LossyImageCompressionRatio",
    "LossyImageCompressionMethod",
)
JPEG2000_RATIO = 10.0  # the target compression ratio of lossy JPEG 2000
JPEG_LS_ERROR = 2  # the largest error of near-lossless JPEG-LS, in stored values


@dataclass(frozen=True)
class Reencoded:
    """What re-encoding did: the syntax written, pixel bytes before and after, why the
    original was kept when it was, and the re-encoded dataset as a file (serialised once, to
    prove the new encoding can hold every element)."""

    transfer_syntax_uid: str
    pixel_bytes_before: int
    pixel_bytes_after: int
    kept_original: bool
    reason: str | None = None
    file: bytes | None = field(default=None, repr=False)

    @property
    def ratio(self) -> float | None:
        return self.pixel_bytes_before / self.pixel_bytes_after if self.pixel_bytes_after else None


def _pixels(dataset: Dataset) -> np.ndarray:
    return np.array(dataset.pixel_array, copy=True)


def _as_decoded(dataset: Dataset, source: np.ndarray) -> None:
    """Attributes that describe `source` as pydicom decoded it: colour as interleaved RGB."""
    if int(dataset.get("SamplesPerPixel") or 1) == 3:
        if str(dataset.get("PhotometricInterpretation", "")).startswith("YBR"):
            dataset.PhotometricInterpretation = "RGB"
        dataset.PlanarConfiguration = 0


def _native_little(dataset: Dataset, source: np.ndarray) -> None:
    body = np.ascontiguousarray(source.astype(source.dtype.newbyteorder("<"))).tobytes()
    dataset.PixelData = body + b"\0" * (len(body) % 2)
    dataset["PixelData"].VR = "OB" if int(dataset.BitsAllocated) <= 8 else "OW"
    dataset["PixelData"].is_undefined_length = False
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian


def reencode(dataset: Dataset, syntax: str, lossy: bool = False) -> Reencoded:
    """Re-encode `dataset`'s pixel data in place as `syntax` (a name of SYNTAX_NAMES).

    Lossless syntaxes must decode back bit for bit, else the original encoding is kept; lossy
    ones need `lossy` and record Lossy Image Compression, its ratio and method.
    """
    if syntax in LOSSY and not lossy:
        raise ValueError(f"{syntax} is lossy: it needs --lossy")
    target = UID(LOSSLESS.get(syntax) or LOSSY[syntax])
    original_syntax = UID(dataset.file_meta.TransferSyntaxUID)
    if "PixelData" not in dataset:
        return Reencoded(str(original_syntax), 0, 0, True, "no integer pixel data to re-encode")
    before = len(dataset.PixelData)
    if original_syntax == target:
        return Reencoded(str(target), before, before, False)
    if int(dataset.get("BitsAllocated") or 0) == 1:
        return Reencoded(str(original_syntax), before, before, True, "one-bit pixel data")
    kept = {k: dataset.get(k) for k in _RESTORED}
    vr, undefined = dataset["PixelData"].VR, dataset["PixelData"].is_undefined_length
    try:
        source = _pixels(dataset)
        _as_decoded(dataset, source)
        if target == ExplicitVRLittleEndian:
            _native_little(dataset, source)
        else:
            options: dict = {
                "generate_instance_uid": False,
                "encoding_plugin": encoding_plugin(target),
            }
            if target == JPEG2000:
                options["j2k_cr"] = [JPEG2000_RATIO]
            elif target == JPEGLSNearLossless:
                options["jls_error"] = JPEG_LS_ERROR
            dataset.compress(target, arr=source, **options)
        if target in _LOSSY_METHOD:
            ratio = source.nbytes / max(1, len(dataset.PixelData))
            dataset.LossyImageCompression = "01"
            dataset.LossyImageCompressionRatio = f"{ratio:.2f}"[:16]
            dataset.LossyImageCompressionMethod = _LOSSY_METHOD[target]
        decoded = _pixels(dataset)
        written = file_bytes(dataset)  # an element the new encoding cannot hold fails here
    except Exception as exc:  # an encoder that refuses this image (bit depth, colour, size)
        _restore(dataset, kept, original_syntax, vr, undefined)
        return Reencoded(str(original_syntax), before, before, True, f"not encodable: {exc}")
    lossless = target not in _LOSSY_METHOD
    if lossless and (decoded.shape != source.shape or not np.array_equal(decoded, source)):
        _restore(dataset, kept, original_syntax, vr, undefined)
        return Reencoded(
            str(original_syntax), before, before, True, "decoded pixels differ from the source"
        )
    return Reencoded(str(target), before, len(dataset.PixelData), False, file=written)


def _restore(dataset: Dataset, kept: dict, syntax: UID, vr: str, undefined: bool) -> None:
    for keyword, value in kept.items():
        if value is None:
            dataset.pop(keyword, None)
        else:
            setattr(dataset, keyword, value)
    dataset["PixelData"].VR, dataset["PixelData"].is_undefined_length = vr, undefined
    dataset.file_meta.TransferSyntaxUID = syntax


def file_bytes(dataset: Dataset) -> bytes:
    """The dataset as a Part-10 file in the encoding its transfer syntax names (a big-endian or
    implicit-VR source re-encoded to another syntax is written in the new one's encoding)."""
    syntax = UID(dataset.file_meta.TransferSyntaxUID)
    buffer = io.BytesIO()
    pydicom.dcmwrite(
        buffer,
        dataset,
        implicit_vr=syntax.is_implicit_VR,
        little_endian=syntax.is_little_endian,
        enforce_file_format=True,
    )
    return buffer.getvalue()
