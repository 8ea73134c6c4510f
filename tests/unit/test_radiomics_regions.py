"""Regions from DICOM SEG and RTSTRUCT placed on a series grid, and the decodes they need."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless
from skimage.draw import polygon

from medspark.dicom.pixels import iter_frames, read_image_dataset
from medspark.regions.grid import SeriesGrid
from medspark.regions.rejected import RegionRejected
from medspark.regions.segmentation import place_segment, read_segmentation
from medspark.regions.structure_set import rasterise, read_structure_set
from tests.parametric_map import float_map
from tests.region_objects import CtSeries, write_rtstruct, write_seg

SHAPE = (6, 24, 20)
SPACING = (2.5, 0.8, 0.7)


@pytest.fixture
def series() -> CtSeries:
    return CtSeries(
        "1.2.3", "1.2.3.4", "1.2.3.5", "P", ["1"] * 6, (-10.0, 5.0, 40.0), SPACING, SHAPE
    )


@pytest.fixture
def grid(series) -> SeriesGrid:
    return SeriesGrid(
        np.asarray(series.origin),
        np.array([1.0, 0, 0]),
        np.array([0, 1.0, 0]),
        np.array([0, 0, 1.0]),
        SPACING,
        SHAPE,
    )


def _blob() -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    mask[1, 3:9, 4:10] = True
    mask[2, 2:12, 3:15] = True
    mask[4, 10:20, 5:8] = True
    return mask


@pytest.mark.parametrize("rle", [False, True])
def test_seg_frames_land_on_their_slices_by_position_not_order(tmp_path, series, grid, rle):
    blob = _blob()
    write_seg(tmp_path / "seg", series, {1: ("lesion", blob)}, rle=rle, reverse_frames=True)
    dataset = read_image_dataset((tmp_path / "seg").read_bytes(), None)
    seg = read_segmentation(dataset)
    assert seg.segments[1].label == "lesion"
    assert seg.referenced_series == {series.series_uid}
    assert np.array_equal(place_segment(seg.segments[1], seg, grid), blob)


def test_seg_half_a_slice_off_the_grid_is_a_geometry_mismatch(tmp_path, series, grid):
    write_seg(tmp_path / "seg", series, {1: ("lesion", _blob())}, shift_mm=SPACING[0] / 2)
    seg = read_segmentation(read_image_dataset((tmp_path / "seg").read_bytes(), None))
    with pytest.raises(RegionRejected) as caught:
        place_segment(seg.segments[1], seg, grid)
    assert caught.value.reason == "roi_geometry_mismatch"


def test_seg_with_other_pixel_spacing_is_a_geometry_mismatch(tmp_path, series, grid):
    other = CtSeries(
        *[
            getattr(series, f)
            for f in (
                "study_uid",
                "series_uid",
                "frame_of_reference_uid",
                "patient_id",
                "sop_uids",
                "origin",
            )
        ],
        (2.5, 0.9, 0.7),
        SHAPE,
    )
    write_seg(tmp_path / "seg", other, {1: ("lesion", _blob())})
    seg = read_segmentation(read_image_dataset((tmp_path / "seg").read_bytes(), None))
    with pytest.raises(RegionRejected, match="pixel spacing") as caught:
        place_segment(seg.segments[1], seg, grid)
    assert caught.value.reason == "roi_geometry_mismatch"


def _square(top, left, bottom, right):
    return np.array([[top, left], [top, right], [bottom, right], [bottom, left]], dtype=float)


def _rasterised(tmp_path, series, grid, contours):
    write_rtstruct(tmp_path / "rs", series, {7: ("GTV", contours)})
    structure = read_structure_set(pydicom.dcmread(tmp_path / "rs"))
    return rasterise(structure.rois[7], grid)


def _rasterise_one(tmp_path, series, grid, contours):
    return _rasterised(tmp_path, series, grid, contours).mask


def test_rtstruct_contours_fill_pixel_centres_and_nested_contours_are_holes(tmp_path, series, grid):
    mask = _rasterise_one(
        tmp_path,
        series,
        grid,
        [(2, _square(2, 2, 12, 12), "CLOSED_PLANAR"), (2, _square(5, 5, 9, 9), "CLOSED_PLANAR")],
    )
    assert mask.sum(axis=(1, 2)).tolist() == [0, 0, 11 * 11 - 5 * 5, 0, 0, 0]
    assert not mask[2, 7, 7] and mask[2, 3, 3]


@pytest.mark.parametrize(
    "contours,reason",
    [
        ([(2, _square(2, 2, 12, 12), "OPEN_PLANAR")], "roi_contour_open"),
        ([(9, _square(2, 2, 12, 12), "CLOSED_PLANAR")], "roi_geometry_mismatch"),
        ([(2, _square(2, 2, 12, 12)[:2], "CLOSED_PLANAR")], "roi_contour_invalid"),
    ],
)
def test_bad_contours_have_their_own_reason(tmp_path, series, grid, contours, reason):
    with pytest.raises(RegionRejected) as caught:
        _rasterise_one(tmp_path, series, grid, contours)
    assert caught.value.reason == reason


def test_a_contour_that_crosses_itself_is_filled_by_the_even_odd_rule_with_a_note(
    tmp_path, series, grid
):
    bowtie = np.array([[2, 2], [2, 12], [12, 2], [12, 12]], float)
    rasterised = _rasterised(tmp_path, series, grid, [(2, bowtie, "CLOSED_PLANAR")])
    expected = np.zeros(SHAPE[1:], dtype=bool)
    rows, columns = polygon(bowtie[:, 0], bowtie[:, 1], shape=SHAPE[1:])
    expected[rows, columns] = True
    assert rasterised.mask[2].sum() > 0 and np.array_equal(rasterised.mask[2], expected)
    assert rasterised.mask.sum() == expected.sum()
    (note,) = rasterised.problems
    assert "ROI 7 contour 1 crosses itself (2 loops" in note


def test_only_the_contour_that_cannot_be_rasterised_is_left_out(tmp_path, series, grid):
    good = (2, _square(2, 2, 12, 12), "CLOSED_PLANAR")
    rasterised = _rasterised(
        tmp_path,
        series,
        grid,
        [
            (3, _square(2, 2, 12, 12)[:2], "CLOSED_PLANAR"),  # two points
            good,
            (9, _square(2, 2, 12, 12), "CLOSED_PLANAR"),  # off every slice
            (4, _square(2, 2, 12, 12), "OPEN_PLANAR"),
        ],
    )
    assert rasterised.mask.sum(axis=(1, 2)).tolist() == [0, 0, 11 * 11, 0, 0, 0]
    reasons = [p.split(":")[0] for p in rasterised.problems]
    assert reasons == ["roi_contour_invalid", "roi_geometry_mismatch", "roi_contour_open"]
    assert "contour 1 left out" in rasterised.problems[0]


def test_pydicom_rtstruct_references_its_series_and_point_rois_are_not_regions(grid):
    structure = read_structure_set(pydicom.dcmread(get_testdata_file("rtstruct.dcm"), force=True))
    assert structure.referenced_series == {"1.2.826.0.1.3680043.8.498.2010020400001.2.1.1"}
    with pytest.raises(RegionRejected) as caught:
        rasterise(structure.rois[2], grid)
    assert caught.value.reason == "roi_empty"


def _packbits(data: bytes) -> bytes:
    out = bytearray()
    for start in range(0, len(data), 128):
        chunk = data[start : start + 128]
        out += bytes([len(chunk) - 1]) + chunk
    return bytes(out)


@pytest.mark.parametrize("packed", [True, False])
def test_one_bit_rle_segmentation_decodes_to_its_uncompressed_twin(packed):
    """pydicom-data's liver.dcm (real, 3 frames of 512x512, bit-packed) re-encoded as RLE, with
    segments holding packed bits or one byte per pixel (both are written in the wild)."""
    dataset = pydicom.dcmread(get_testdata_file("liver.dcm"))
    expected = dataset.pixel_array
    frames = []
    for frame in expected:
        raw = np.packbits(frame.ravel(), bitorder="little") if packed else frame.ravel()
        header = np.zeros(16, dtype="<u4")
        header[:2] = (1, 64)
        body = header.tobytes() + _packbits(bytes(raw))
        frames.append(body + b"\0" * (len(body) % 2))
    dataset.PixelData = encapsulate(frames)
    dataset["PixelData"].VR = "OB"
    dataset.file_meta.TransferSyntaxUID = RLELossless
    buffer = io.BytesIO()
    dataset.save_as(buffer)
    decoded = read_image_dataset(buffer.getvalue(), None)
    got = np.stack([f for _, f in iter_frames(decoded, range(3))])
    assert got.shape == expected.shape == (3, 512, 512)
    assert np.array_equal(got, expected) and int(got.sum()) == 107098


@pytest.mark.parametrize("dtype", ["<f4", "<f8"])
def test_float_pixel_data_of_a_parametric_map_decodes(dtype):
    """Float and Double Float Pixel Data (a map made from CT_small's real values)."""
    data, values = float_map(dtype)
    ((_, frame),) = list(iter_frames(read_image_dataset(data, None), [0]))
    assert frame.dtype == np.dtype(dtype) and np.array_equal(frame, values)
