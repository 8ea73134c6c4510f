"""Decoded sizes from the header, the limits on them, deflated frames and decode-error reasons."""

from __future__ import annotations

import zlib
from types import SimpleNamespace

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate

from medspark.dicom.pixels import (
    DEFLATED_IMAGE_FRAME_COMPRESSION,
    DecodeLimits,
    _classify,
    check_decoded_size,
    decoded_frame_bytes,
    frame_count,
    iter_frames,
    read_image_dataset,
    select_frames,
)
from medspark.dicom.reasons import Reason, Rejection
from tests.conftest import pydicom_file


def header(**values) -> Dataset:
    ds = Dataset()
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


@pytest.mark.parametrize(
    "values,expected",
    [
        ({"Rows": 10, "Columns": 20, "SamplesPerPixel": 3, "BitsAllocated": 16}, 1200),
        ({"Rows": 10, "Columns": 20, "SamplesPerPixel": 1, "BitsAllocated": 8}, 200),
        ({"Rows": 10, "Columns": 20, "BitsAllocated": 1}, 200),  # bit-packed: a byte each
        ({"Rows": 10, "Columns": 20, "BitsAllocated": 12}, 400),
        ({"Rows": 10, "Columns": 20, "BitsAllocated": 32, "SamplesPerPixel": 2}, 1600),
        ({"Rows": 10, "Columns": 20}, 200),  # BitsAllocated and SamplesPerPixel absent: 8, 1
        ({"Columns": 20, "BitsAllocated": 16}, 0),
    ],
)
def test_decoded_frame_bytes_from_the_header(values, expected):
    assert decoded_frame_bytes(header(**values)) == expected


def test_a_header_value_that_is_not_a_number_is_a_decode_failure():
    values = {"Rows": "1A", "Columns": 20}
    with pytest.raises(Rejection) as caught:
        decoded_frame_bytes(SimpleNamespace(get=values.get))
    assert caught.value.reason == Reason.DECODE_FAILED
    assert "not a number" in caught.value.detail


def test_limits_are_inclusive_and_name_the_setting():
    ds = header(Rows=100, Columns=100, BitsAllocated=8, NumberOfFrames=10)
    check_decoded_size(ds, DecodeLimits(frame_bytes=10_000, instance_bytes=100_000))
    with pytest.raises(Rejection) as frame:
        check_decoded_size(ds, DecodeLimits(frame_bytes=9_999, instance_bytes=10**9))
    assert frame.value.reason == Reason.DECODED_SIZE_OVER_LIMIT
    assert "10000 bytes" in frame.value.detail and "max_decoded_frame_mb" in frame.value.detail
    with pytest.raises(Rejection) as instance:
        check_decoded_size(ds, DecodeLimits(frame_bytes=10**9, instance_bytes=99_999))
    assert instance.value.reason == Reason.DECODED_SIZE_OVER_LIMIT
    assert "10 frames" in instance.value.detail and "100000 bytes" in instance.value.detail
    assert "max_decoded_instance_mb" in instance.value.detail
    assert DecodeLimits() == DecodeLimits(256 << 20, 4 << 30)


def test_frame_count_and_selection():
    assert frame_count(header(NumberOfFrames=7)) == 7
    assert frame_count(header()) == 1
    assert frame_count(header(NumberOfFrames=0)) == 1
    assert frame_count(SimpleNamespace(get=lambda keyword: "x")) == 1
    assert select_frames(5, "all", 0) == [0, 1, 2, 3, 4]
    assert select_frames(5, "first", 0) == [0]
    assert select_frames(5, "middle", 0) == [2]
    assert select_frames(10, "all", 3) == [0, 4, 9]
    assert select_frames(2, "all", 3) == [0, 1]


def deflated(source: pydicom.Dataset, wrap: bool = False, extra: bytes = b"") -> Dataset:
    """`source` with its frames compressed as Deflated Image Frame Compression."""
    count = frame_count(source)
    size = len(source.PixelData) // count
    frames = []
    for k in range(count):
        body = source.PixelData[k * size : (k + 1) * size] + extra
        frames.append(zlib.compress(body) if wrap else zlib.compress(body)[2:-4])
    copy = pydicom.dcmread(pydicom_file("rtdose.dcm"))
    copy.PixelData = encapsulate(frames)
    copy["PixelData"].VR = "OB"
    copy.file_meta.TransferSyntaxUID = DEFLATED_IMAGE_FRAME_COMPRESSION
    return copy


@pytest.mark.parametrize("wrap", [False, True], ids=["raw deflate", "zlib-wrapped"])
def test_deflated_frames_decode_and_never_inflate_past_the_header(wrap):
    source = pydicom.dcmread(pydicom_file("rtdose.dcm"))
    original = source.pixel_array
    compressed = deflated(source, wrap=wrap, extra=b"\xff" * 100_000)
    frames = dict(iter_frames(compressed, select_frames(frame_count(compressed), "all", 0)))
    assert len(frames) == original.shape[0]
    for index, frame in frames.items():
        np.testing.assert_array_equal(frame, original[index])


def test_a_file_without_preamble_and_a_missing_syntax_are_read():
    data = pydicom_file("CT_small.dcm").read_bytes()
    assert read_image_dataset(data[128:], None).SOPInstanceUID
    no_syntax = pydicom_file("meta_missing_tsyntax.dcm").read_bytes()
    filled = read_image_dataset(no_syntax, "1.2.840.10008.1.2")
    assert filled.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"
    kept = read_image_dataset(data, "1.2.840.10008.1.2")  # the file's own syntax wins
    assert kept.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"


@pytest.mark.parametrize(
    "exc,reason,detail",
    [
        (ValueError("buffer is less than expected"), Reason.PIXEL_DATA_SHORT, "shorter"),
        (
            ValueError("length doesn't match the expected length"),
            Reason.PIXEL_DATA_SHORT,
            "shorter",
        ),
        (NotImplementedError("x"), Reason.UNSUPPORTED_TRANSFER_SYNTAX, "JPEG Baseline (Process 1)"),
        (RuntimeError("missing required dependencies"), Reason.UNSUPPORTED_TRANSFER_SYNTAX, ""),
        (RuntimeError("There are no decoders"), Reason.UNSUPPORTED_TRANSFER_SYNTAX, ""),
        (RuntimeError("syntax not supported"), Reason.UNSUPPORTED_TRANSFER_SYNTAX, ""),
        (RuntimeError("plugin does not support it"), Reason.UNSUPPORTED_TRANSFER_SYNTAX, ""),
        (AttributeError("Rows"), Reason.DECODE_FAILED, "is missing"),
        (KeyError("Rows"), Reason.DECODE_FAILED, "is missing"),
        (ValueError("invalid literal for int()"), Reason.DECODE_FAILED, "not a number"),
        (RuntimeError("boom"), Reason.DECODE_FAILED, "(RuntimeError)"),
    ],
)
def test_decoder_errors_get_stable_reasons(exc, reason, detail):
    rejection = _classify(exc, "1.2.840.10008.1.2.4.50")
    assert rejection.reason == reason and rejection.stage == "decode"
    assert detail in rejection.detail


def test_an_instance_without_pixel_data_is_a_decode_failure():
    with pytest.raises(Rejection) as caught:
        list(iter_frames(read_image_dataset(pydicom_file("rtplan.dcm").read_bytes(), None), [0]))
    assert caught.value.reason == Reason.DECODE_FAILED
    assert caught.value.detail == "the instance has no Pixel Data element."
