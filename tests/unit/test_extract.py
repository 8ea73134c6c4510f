"""One metadata row to feature rows, without Spark."""

from __future__ import annotations

import zipfile

import numpy as np
import pydicom
import pytest

from medspark.config import FeatureSettings
from medspark.dicom.sources import ArchiveLimits
from medspark.imaging.extract import FeatureOptions, extract_instance
from medspark.schemas import FEATURE_RECORDS, FEATURES
from tests.conftest import pydicom_file

LIMITS = ArchiveLimits(1 << 30, 2, 64 << 20)


def extract(path, examine=False, **settings):
    options = FeatureOptions("unit", FeatureSettings(**settings), LIMITS)
    row = {"path": str(path), "sop_instance_uid": "2.25.1", "modality": "CT", "patient_id": "P",
           "examine_pixels": examine}  # fmt: skip
    return list(extract_instance(row, options))


def test_a_ct_slice_gives_one_row_with_every_family():
    (row,) = extract(pydicom_file("CT_small.dcm"))
    assert row["outcome"] == "features" and row["frame"] == 1
    assert row["intensity_unit"] == "HU"
    for prefix in ("fo_", "glcm_", "shape_", "hu_", "edge_", "kp_"):
        assert any(k.startswith(prefix) and row[k] is not None for k in row), prefix
    assert row["thumbnail_png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert set(row) <= set(FEATURE_RECORDS.names)
    assert "path" not in row  # the shared table never carries a path


def test_every_declared_feature_column_is_produced():
    (row,) = extract(pydicom_file("CT_small.dcm"), examine=True, watershed=True, tensor=True)
    produced = {k for k, v in row.items() if v is not None}
    identity = ("run_id", "processed_at", "series_instance_uid", "study_instance_uid")
    declared = {c for c in FEATURES.columns if c not in identity}  # identity comes from metadata
    assert declared - produced == set()


def test_multi_frame_gives_a_row_per_frame_or_a_subset():
    path = pydicom_file("examples_ybr_color.dcm")
    frames = pydicom.dcmread(path).NumberOfFrames
    rows = extract(path, thumbnail=False)
    assert [r["frame"] for r in rows] == list(range(1, frames + 1))
    assert [r["frame"] for r in extract(path, max_frames=3, thumbnail=False)] == [1, 15, 30]
    assert [r["frame"] for r in extract(path, frames="middle")] == [frames // 2 + 1]


def test_spacing_follows_preprocessing():
    (row,) = extract(
        pydicom_file("CT_small.dcm"),
        preprocess=[{"op": "resample", "spacing_mm": 1.0}],
    )
    assert row["pixel_spacing_mm"] == [1.0, 1.0]
    assert row["height"] == round(128 * 0.661468)


def test_undecodable_images_become_decode_quarantine_rows():
    (row,) = extract(pydicom_file("JPGExtended.dcm"))
    assert row["outcome"] == "quarantine" and row["stage"] == "decode"
    assert row["reason"] == "unsupported_transfer_syntax"
    (short,) = extract(pydicom_file("MR_truncated.dcm"))
    assert short["reason"] == "pixel_data_short"


def test_archive_members_are_read_back(tmp_path):
    archive = tmp_path / "cd.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("DICOM/IM1", pydicom_file("MR_small.dcm").read_bytes())
    options = FeatureOptions("unit", FeatureSettings(), LIMITS)
    rows = list(extract_instance({"path": f"{archive}!/DICOM/IM1"}, options))
    assert rows[0]["outcome"] == "features"
    missing = list(extract_instance({"path": f"{archive}!/DICOM/NOPE"}, options))
    assert missing[0]["reason"] == "unreadable"


@pytest.mark.parametrize(
    "window,expected",
    [
        ("header", "auto"),  # CT_small has no window of its own: 0.5-99.5 percentiles
        ("none", "auto"),
        ("lung", "preset lung"),
        ((40.0, 400.0), "explicit 40.0/400.0"),
    ],
)
def test_window_settings(window, expected):
    (row,) = extract(pydicom_file("CT_small.dcm"), window=window)
    assert row["outcome"] == "features"
    assert row["window"] == expected


@pytest.mark.parametrize("center,width", [(40.0, 400.0), (-600.0, 1500.0)])
def test_an_explicit_window_saturates_what_lies_above_it(center, width):
    """The share of white thumbnail pixels is the share of HU above the window's top,
    computed here from the stored pixels and the rescale."""
    import cv2

    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    hu = ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
    above = float(np.mean(hu >= center - 0.5 + (width - 1) / 2))
    (row,) = extract(pydicom_file("CT_small.dcm"), window=(center, width))
    thumbnail = cv2.imdecode(np.frombuffer(row["thumbnail_png"], np.uint8), cv2.IMREAD_GRAYSCALE)
    assert float(np.mean(thumbnail == 255)) == pytest.approx(above, abs=0.02)


def test_bad_window_is_a_config_error():
    with pytest.raises(ValueError):
        FeatureSettings(window="rainbow")


def test_a_float_parametric_map_gets_features(tmp_path):
    """Float Pixel Data (an ADC-like map made from CT_small's real values) is described, in
    its own units, not quarantined."""
    from tests.parametric_map import float_map

    data, values = float_map()
    (tmp_path / "map").write_bytes(data)
    (row,) = extract(tmp_path / "map")
    assert row["outcome"] == "features"
    assert row["fo_maximum"] == pytest.approx(float(values.max()), rel=1e-6)
    assert row["fo_mean"] < 2.0 and row["glcm_contrast"] is not None
