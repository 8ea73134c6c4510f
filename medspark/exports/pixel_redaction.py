"""Write redacted pixels into a dataset being exported, and say that its pixels are clean."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from medspark.dicom.pixels import frame_count, iter_frames
from medspark.exports.compression import encoding_plugin
from medspark.imaging.burned_in_text import redact

LOSSLESS_SYNTAXES = frozenset(
    (
        "1.2.840.10008.1.2.5",  # RLE Lossless
        "1.2.840.10008.1.2.4.57",  # JPEG Lossless
        "1.2.840.10008.1.2.4.70",  # JPEG Lossless SV1
        "1.2.840.10008.1.2.4.80",  # JPEG-LS Lossless
        "1.2.840.10008.1.2.4.90",  # JPEG 2000 Lossless
        "1.2.840.10008.1.2.4.201",  # HTJ2K Lossless
        "1.2.840.10008.1.2.4.202",  # HTJ2K Lossless RPCL
    )
)
CLEAN_PIXEL_DATA_OPTION = ("113101", "DCM", "Clean Pixel Data Option")  # PS3.16 CID 7050


def _mark_clean(dataset: Dataset) -> None:
    dataset.BurnedInAnnotation = "NO"
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = CLEAN_PIXEL_DATA_OPTION
    codes = list(dataset.get("DeidentificationMethodCodeSequence") or [])
    if not any(c.get("CodeValue") == CLEAN_PIXEL_DATA_OPTION[0] for c in codes):
        codes.append(item)
    dataset.DeidentificationMethodCodeSequence = codes


def apply_redactions(dataset: Dataset, boxes: Mapping[int, Sequence[Sequence[int]]]) -> str:
    """Fill each frame's boxes (1-based frame -> [x0, y0, x1, y1] list) and mark the instance
    clean. Returns the transfer syntax written: the original one when it is lossless and can be
    encoded again, else Explicit VR Little Endian."""
    original = UID(str(dataset.file_meta.TransferSyntaxUID))
    if not boxes:
        _mark_clean(dataset)
        return str(original)
    count = frame_count(dataset)
    frames = []
    for index, pixels in iter_frames(dataset, range(count)):
        filled = boxes.get(index + 1)
        frames.append(redact(pixels, filled) if filled else pixels)
    stacked = np.stack(frames) if count > 1 else frames[0]
    if str(dataset.get("PhotometricInterpretation", "")).startswith("YBR") and stacked.ndim >= 3:
        dataset.PhotometricInterpretation = "RGB"  # pydicom decoded to RGB
    if int(dataset.get("SamplesPerPixel") or 1) > 1:
        dataset.PlanarConfiguration = 0  # decoded colour is interleaved
    written = ExplicitVRLittleEndian
    dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset.PixelData = np.ascontiguousarray(stacked).tobytes()
    dataset["PixelData"].VR = "OW" if int(dataset.get("BitsAllocated") or 8) > 8 else "OB"
    if original in LOSSLESS_SYNTAXES:
        try:
            dataset.compress(
                original, generate_instance_uid=False, encoding_plugin=encoding_plugin(original)
            )
            written = original
        except Exception:  # no encoder for it here: stay uncompressed, and say so
            dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    _mark_clean(dataset)
    return str(written)
