"""Lossless re-encoding of every image pydicom and pydicom-data ship: what is re-encoded decodes
back bit for bit; what an encoder refuses keeps its original encoding, untouched, with the
reason; lossy syntaxes need the flag and record what they did."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest

from medspark.exports.compression import LOSSLESS, file_bytes, reencode
from tests.conftest import all_pydicom_files, needs, pydicom_data_files, pydicom_file

MAX_BYTES = 8 << 20  # the larger pydicom-data files are for the benchmark


def _images():
    found = []
    for path in all_pydicom_files() + pydicom_data_files():
        if path.stat().st_size > MAX_BYTES:
            continue
        try:
            dataset = pydicom.dcmread(path)
            if "PixelData" not in dataset:
                continue
            reference = dataset.pixel_array
        except Exception:  # broken on purpose, or no decoder: nothing to re-encode
            continue
        found.append((path, reference))
    return found


IMAGES = _images()


def test_there_are_real_images_to_re_encode():
    needs(bool(pydicom_data_files()), "pydicom-data (test dependency)")
    assert len(IMAGES) > 80


@pytest.mark.parametrize("syntax", list(LOSSLESS))
def test_every_re_encoded_image_decodes_back_bit_identical(syntax):
    re_encoded = kept = 0
    for path, reference in IMAGES:
        dataset = pydicom.dcmread(path)
        original = bytes(dataset.PixelData)
        result = reencode(dataset, syntax)
        if result.kept_original:
            kept += 1
            assert result.reason, path
            assert bytes(dataset.PixelData) == original, path
            continue
        re_encoded += 1
        assert str(dataset.file_meta.TransferSyntaxUID) == LOSSLESS[syntax]
        decoded = pydicom.dcmread(io.BytesIO(file_bytes(dataset))).pixel_array
        expected = reference
        if dataset.get("SamplesPerPixel") == 3:  # written as RGB when the source was YBR
            expected = pydicom.dcmread(path).pixel_array
        assert decoded.shape == expected.shape and np.array_equal(decoded, expected), path
        assert result.pixel_bytes_after == len(dataset.PixelData)
    # kept: encoder limits (one-bit data; 32-bit samples; openjpeg's six resolutions need 32 px
    # or more, and pydicom-data's DICOMDIR series are 16 x 16): docs/exports.md
    assert re_encoded >= 0.6 * len(IMAGES), (syntax, re_encoded, kept)


def test_the_instance_uid_is_kept_and_the_ratio_measured():
    dataset = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    uid = dataset.SOPInstanceUID
    result = reencode(dataset, "jpeg-ls-lossless")
    assert not result.kept_original and dataset.SOPInstanceUID == uid
    assert result.pixel_bytes_before == 128 * 128 * 2
    assert result.ratio is not None and result.ratio > 1.2


def test_lossy_needs_the_flag_and_is_recorded():
    dataset = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    with pytest.raises(ValueError, match="needs --lossy"):
        reencode(dataset, "jpeg2000")
    result = reencode(dataset, "jpeg2000", lossy=True)
    assert not result.kept_original
    assert dataset.LossyImageCompression == "01"
    assert dataset.LossyImageCompressionMethod == "ISO_15444_1"
    assert float(dataset.LossyImageCompressionRatio) > 5


def test_an_encoder_that_refuses_keeps_the_original_untouched():
    dataset = pydicom.dcmread(pydicom_file("SC_rgb_rle_32bit.dcm"))
    before = (bytes(dataset.PixelData), str(dataset.file_meta.TransferSyntaxUID))
    result = reencode(dataset, "jpeg-ls-lossless")
    assert result.kept_original and result.reason.startswith("not encodable")
    assert (bytes(dataset.PixelData), str(dataset.file_meta.TransferSyntaxUID)) == before
