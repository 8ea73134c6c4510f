"""Decoding every image-bearing real file the chosen plugins support, and naming the rest."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pydicom
import pytest
from pydicom.encaps import encapsulate

from medspark.dicom.pixels import (
    DEFLATED_IMAGE_FRAME_COMPRESSION,
    frame_count,
    iter_frames,
    read_image_dataset,
    rle_header,
    select_frames,
)
from medspark.dicom.reasons import Reason, Rejection
from tests.conftest import PYDICOM_TEST_FILES, needs, pydicom_data_files, pydicom_file

# Files pydicom ships whose pixels the permissive plugin set cannot or must not decode, and why.
EXPECTED_FAILURES = {
    # 12-bit JPEG Extended: only the GPL-3 pylibjpeg-libjpeg decodes it (extra `medspark[gpl]`).
    "JPEG-lossy.dcm": Reason.UNSUPPORTED_TRANSFER_SYNTAX,
    "JPGExtended.dcm": Reason.UNSUPPORTED_TRANSFER_SYNTAX,
    # A codestream no decoder reads: pydicom's own test of a broken fragment.
    "JPEG2000-embedded-sequence-delimiter.dcm": Reason.DECODE_FAILED,
    # Pixel data 62 bytes short of rows x columns.
    "MR_truncated.dcm": Reason.PIXEL_DATA_SHORT,
    # Rows is "1A": not a number.
    "badVR.dcm": Reason.DECODE_FAILED,
    # The pydicom-data file cut short on purpose.
    "emri_small_jpeg_2k_lossless_too_short.dcm": Reason.DECODE_FAILED,
}


def image_files():
    """Every real file with pixel data; reading one may not fail (read_image_dataset forces)."""
    files = [p for p in sorted(PYDICOM_TEST_FILES.glob("*.dcm"))] + pydicom_data_files()
    for path in files:
        dataset = read_image_dataset(path.read_bytes(), None)
        usable = "SOPInstanceUID" in dataset and dataset.file_meta.get("TransferSyntaxUID")
        if usable and "PixelData" in dataset:
            yield path


IMAGES = list(image_files())


def test_enough_real_images_to_mean_something():
    needs(bool(pydicom_data_files()), "the pydicom-data package (a test dependency)")
    assert len(IMAGES) >= 120
    syntaxes = {
        str(read_image_dataset(p.read_bytes(), None).file_meta.TransferSyntaxUID) for p in IMAGES
    }
    assert len(syntaxes) >= 12


@pytest.mark.parametrize("path", IMAGES, ids=lambda p: p.name)
def test_decodes_like_pydicom_or_fails_with_the_named_reason(path):
    dataset = read_image_dataset(path.read_bytes(), None)
    indices = select_frames(frame_count(dataset), "all", 0)
    if path.name in EXPECTED_FAILURES:
        with pytest.raises(Rejection) as caught:
            list(iter_frames(dataset, indices))
        assert caught.value.reason == EXPECTED_FAILURES[path.name]
        return
    frames = list(iter_frames(dataset, indices))
    assert [index for index, _ in frames] == indices
    reference = pydicom.dcmread(path).pixel_array
    if len(indices) == 1:
        np.testing.assert_array_equal(frames[0][1], reference)
    else:
        np.testing.assert_array_equal(frames[-1][1], reference[-1])


def test_frame_selection():
    assert select_frames(10, "all", 0) == list(range(10))
    assert select_frames(10, "first", 0) == [0]
    assert select_frames(10, "middle", 0) == [5]
    assert select_frames(10, "all", 3) == [0, 4, 9]
    assert select_frames(1, "all", 5) == [0]


def test_deflated_image_frame_compression_is_decoded():
    """pydicom 3.0 has no decoder for 1.2.840.10008.1.2.8.1; medspark inflates each frame."""
    source = pydicom.dcmread(pydicom_file("rtdose.dcm"))
    original = source.pixel_array
    frame_bytes = len(source.PixelData) // frame_count(source)
    compressor = lambda data: zlib.compress(data, 6)[2:-4]  # noqa: E731 - raw Deflate
    frames = [
        compressor(source.PixelData[i * frame_bytes : (i + 1) * frame_bytes])
        for i in range(frame_count(source))
    ]
    source.PixelData = encapsulate(frames)
    source["PixelData"].VR = "OB"
    source.file_meta.TransferSyntaxUID = DEFLATED_IMAGE_FRAME_COMPRESSION
    decoded = dict(iter_frames(source, select_frames(frame_count(source), "all", 0)))
    assert len(decoded) == original.shape[0]
    for index, frame in decoded.items():
        np.testing.assert_array_equal(frame, original[index])


def test_missing_pixel_data_is_a_decode_failure():
    dataset = read_image_dataset(pydicom_file("rtplan.dcm").read_bytes(), None)
    with pytest.raises(Rejection) as caught:
        list(iter_frames(dataset, [0]))
    assert caught.value.reason == Reason.DECODE_FAILED


def test_an_rle_header_gives_the_offsets_of_the_segments_it_declares():
    """PS3.5 G.5: the first of sixteen little-endian 32-bit words counts the segments (1 to 15),
    the others are their offsets; a header cut short reads as zero-padded."""
    fifteen = struct.pack("<16I", 15, *range(64, 64 + 15 * 10, 10))
    assert rle_header(fifteen + b"\x01\x02\x03\x04") == list(range(64, 214, 10))
    assert rle_header(struct.pack("<2I", 1, 64)) == [64]
    assert rle_header(struct.pack("<3I", 2, 64, 96)) == [64, 96]
    assert rle_header(struct.pack("<2I", 2, 64)) == [64, 0]
    for count in (0, 16):
        with pytest.raises(ValueError, match=f"declares {count} segments"):
            rle_header(struct.pack("<16I", count, *([64] * 15)))
