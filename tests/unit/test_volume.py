"""Series to volumes from real multi-frame files, the IBSI phantom and a known synthetic series."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medspark.volume.build import Volume, VolumeTooLarge, build_volume
from medspark.volume.describe import describe_volume, otsu_threshold
from medspark.volume.geometry import NotAVolume
from medspark.volume.registration import fusion_png, register_images, register_volumes
from tests import synthetic_series as synth
from tests.conftest import SHARED_DATA, needs


def _build(paths, **options) -> Volume:
    return build_volume([p.read_bytes() for p in paths], [None] * len(paths), **options)


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    values, _ = synth.sphere_volume()
    return synth.write_series(tmp_path_factory.mktemp("series"), values)


def test_shuffled_oblique_series_is_ordered_along_the_normal(series):
    files = sorted(series.folder.iterdir())
    random.Random(1).shuffle(files)
    volume = _build(files)
    assert volume.values.shape == (synth.SLICES, synth.ROWS, synth.COLUMNS)
    np.testing.assert_array_equal(volume.values, series.volume_hu)
    assert volume.spacing_mm == pytest.approx((synth.SLICE_MM, *synth.PIXEL_MM))
    assert volume.unit == "HU" and volume.problems == []
    positions = list(volume.order.positions_mm)
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    normal = np.cross(synth.orientation()[:3], synth.orientation()[3:])
    along = [
        float(np.dot(pydicom.dcmread(f, stop_before_pixels=True).ImagePositionPatient, normal))
        for f in files
    ]
    assert positions == pytest.approx(sorted(along))  # the files' own positions, in order


def test_region_volume_of_a_known_sphere_within_two_percent(series):
    volume = _build(sorted(series.folder.iterdir()))
    row = describe_volume(volume, largest_component=False)
    block_mm3 = float(
        (synth.sphere_volume()[0] > 0).sum() - synth.sphere_volume()[1].sum()
    ) * np.prod(volume.spacing_mm)
    measured = row["region_volume_mm3"] - block_mm3
    assert measured == pytest.approx(series.sphere_mm3, rel=0.02)
    assert -1000 < row["region_threshold"] < 200
    assert row["dimensions"] == [synth.SLICES, synth.ROWS, synth.COLUMNS]
    assert row["slice_normal"] == pytest.approx(
        list(np.cross(synth.orientation()[:3], synth.orientation()[3:]))
    )
    for view in ("axial_png", "coronal_png", "sagittal_png", "mip_png"):
        image = cv2.imdecode(np.frombuffer(row[view], np.uint8), cv2.IMREAD_GRAYSCALE)
        assert image is not None and image.max() > image.min()
    coronal = cv2.imdecode(np.frombuffer(row["coronal_png"], np.uint8), cv2.IMREAD_GRAYSCALE)
    # 40 slices x 2.5 mm = 100 mm tall, 96 x 0.8 mm = 76.8 mm wide: physical aspect kept
    assert coronal.shape[0] / coronal.shape[1] == pytest.approx(100 / 76.8, rel=0.03)


def test_missing_slice_is_recorded_and_interpolated(tmp_path):
    values, _ = synth.sphere_volume()
    gappy = synth.write_series(tmp_path, values, drop=(17,))
    volume = _build(sorted(gappy.folder.iterdir()))
    assert volume.order.missing_slices == 1
    assert volume.interpolated_slices == 1
    assert volume.values.shape[0] == synth.SLICES
    assert "missing_slices: 1" in volume.problems
    expected = (values[16] + values[18]) / 2
    np.testing.assert_allclose(volume.values[17], expected)
    assert volume.spacing_mm[0] == pytest.approx(synth.SLICE_MM)


def test_voxel_limit_and_mismatched_sizes_are_refused(series, tmp_path):
    files = sorted(series.folder.iterdir())
    with pytest.raises(VolumeTooLarge):
        _build(files, max_voxels=1000)
    other = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    other.SeriesInstanceUID = pydicom.dcmread(files[0]).SeriesInstanceUID
    other.save_as(tmp_path / "odd.dcm")
    with pytest.raises(NotAVolume):
        _build([*files, tmp_path / "odd.dcm"])


def test_rt_dose_grid_frames_follow_the_offset_vector():
    path = get_testdata_file("rtdose.dcm")
    ds = pydicom.dcmread(path)
    volume = build_volume([Path(path).read_bytes()], [None])
    offsets = np.asarray(ds.GridFrameOffsetVector, float)
    order = np.argsort(offsets)
    expected = ds.pixel_array[order] * float(ds.DoseGridScaling)
    np.testing.assert_allclose(volume.values, expected, rtol=1e-6)
    assert volume.unit == str(ds.DoseUnits)
    assert volume.spacing_mm == pytest.approx((abs(offsets[1] - offsets[0]), *ds.PixelSpacing))


def test_enhanced_ct_frames_are_placed_by_their_functional_groups():
    path = get_testdata_file("eCT_Supplemental.dcm")
    ds = pydicom.dcmread(path)
    volume = build_volume([Path(path).read_bytes()], [None])
    positions = [
        np.asarray(f.PlanePositionSequence[0].ImagePositionPatient, float)
        for f in ds.PerFrameFunctionalGroupsSequence
    ]
    assert volume.values.shape == (2, 512, 512)
    assert volume.spacing_mm[0] == pytest.approx(float(np.linalg.norm(positions[1] - positions[0])))


def test_multi_frame_without_geometry_keeps_file_order_and_says_so():
    path = get_testdata_file("emri_small.dcm")
    volume = build_volume([Path(path).read_bytes()], [None])
    np.testing.assert_array_equal(volume.values, pydicom.dcmread(path).pixel_array)
    assert any(p.startswith("no_geometry") for p in volume.problems)


def test_ibsi_phantom_written_as_a_series_reads_back_identically(tmp_path):
    import nibabel

    image = SHARED_DATA / "ibsi_digital_phantom" / "image.nii.gz"
    if not image.is_file():
        needs(False, "shared/data/ibsi_digital_phantom")
    data = np.asarray(nibabel.load(image).dataobj).astype(np.float32)  # (x, y, z)
    slices = np.stack([data[:, :, k].T for k in range(data.shape[2])])  # (z, rows=y, cols=x)
    written = synth_like(tmp_path, slices)
    volume = _build(written)
    np.testing.assert_array_equal(volume.values, slices)
    assert volume.spacing_mm == pytest.approx((2.0, 2.0, 2.0))


def synth_like(folder, slices: np.ndarray):
    """The phantom's slices as an axial CT series, 2 mm voxels, files in shuffled order."""
    paths = []
    series_uid = pydicom.uid.generate_uid()
    for k in random.Random(5).sample(range(slices.shape[0]), slices.shape[0]):
        ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
        ds.SeriesInstanceUID, ds.SOPInstanceUID = series_uid, pydicom.uid.generate_uid()
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        ds.PixelSpacing = [2.0, 2.0]
        ds.Rows, ds.Columns = slices.shape[1:]
        ds.RescaleSlope, ds.RescaleIntercept = 1, 0
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.PixelData = slices[k].astype(np.int16).tobytes()
        ds.InstanceNumber = 100 - k
        path = folder / f"slice-{len(paths)}"
        ds.save_as(path)
        paths.append(path)
    return paths


def test_otsu_threshold_splits_two_populations():
    values = np.concatenate([np.full(500, -1000.0), np.full(300, 40.0)])
    assert -1000 < otsu_threshold(values) < 40


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "US1_UNCR.dcm"])
@pytest.mark.parametrize("angle,shift", [(7.0, (6.5, -4.2)), (-12.0, (3.0, 9.0))])
def test_registration_recovers_a_known_rotation_and_shift(name, angle, shift):
    pixels = pydicom.dcmread(get_testdata_file(name)).pixel_array.astype(np.float32)
    fixed = pixels.mean(axis=2) if pixels.ndim == 3 else pixels
    height, width = fixed.shape
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)
    matrix[:, 2] += shift
    moving = cv2.warpAffine(fixed, matrix, (width, height), flags=cv2.INTER_LINEAR)
    found = register_images(fixed, moving)
    assert found.angle_degrees == pytest.approx(angle, abs=1.0)
    assert found.shift_columns == pytest.approx(shift[0], abs=1.0)
    assert found.shift_rows == pytest.approx(shift[1], abs=1.0)
    assert found.similarity_after > found.similarity_before
    assert found.similarity_after > 0.95
    fused = cv2.imdecode(np.frombuffer(fusion_png(fixed, moving), np.uint8), cv2.IMREAD_COLOR)
    assert fused.shape == (height, width, 3)


def test_volume_registration_finds_the_shift_along_the_normal_and_the_rotation(series):
    fixed = _build(sorted(series.folder.iterdir()))
    values, _ = synth.sphere_volume(offset_mm=(5.0, 4.0, -3.2), angle=9.0)
    moving_series = synth.write_series(series.folder.parent / "moving", values)
    moving = _build(sorted(moving_series.folder.iterdir()))
    found = register_volumes(fixed, moving)
    assert found.shift_slices_mm == pytest.approx(5.0, abs=synth.SLICE_MM)
    assert found.in_plane.angle_degrees == pytest.approx(9.0, abs=1.0)
    assert found.in_plane.similarity_after > found.in_plane.similarity_before
