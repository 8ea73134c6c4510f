"""`medspark radiomics` end to end: the IBSI phantom as DICOM CT + SEG against all 482 reference
values, one region given as SEG and as RTSTRUCT on real CT, and bad regions with their reasons."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medspark.radiomics.catalogue import feature_columns
from tests.conftest import SHARED_DATA, needs
from tests.ibsi_reference import reference_misses
from tests.region_objects import (
    ibsi_phantom,
    real_ct_with_ellipse,
    write_ct_series,
    write_rtstruct,
    write_seg,
)
from tests.spark.radiomics_run import ingest_and_describe

pytestmark = pytest.mark.spark

PHANTOM = SHARED_DATA / "ibsi_digital_phantom"
KEY = "radiomics-test-key-0123456789abcdef"
# The phantom as it is: its grey levels 1..6 are the discretised levels; every aggregation.
CONF = """
radiomics:
  roi_sources: [seg, rtstruct, otsu]
  aggregation: [2d_averaged, 2d_slice_merged, 2.5d_direction_merged, 2.5d_merged,
                3d_averaged, 3d_merged]
  discretisation: {method: fixed_bin_width, bin_width: 1, lower_bound: 0.5}
  filters:
    - {kind: mean, size: 1}          # the identity: its statistics are the unfiltered ones
    - {kind: log, sigma_mm: 3.0, boundary: nearest}
"""
FILTERS = 2


def _square(top, left, bottom, right):
    return np.array([[top, left], [top, right], [bottom, right], [bottom, left]], dtype=float)


@pytest.fixture(scope="module")
def radiomics_out(spark, tmp_path_factory):
    needs((PHANTOM / "image.nii.gz").is_file(), "shared/data/ibsi_digital_phantom")
    root = tmp_path_factory.mktemp("radiomics")
    inputs = root / "in"
    # A: the phantom, its mask as a SEG (frames in reverse order) and as a one-bit RLE twin
    image, mask = ibsi_phantom(PHANTOM)
    phantom = write_ct_series(inputs / "phantom", image, (2.0, 2.0, 2.0), patient_id="Doe^Jane")
    write_seg(inputs / "phantom" / "seg", phantom, {1: ("phantom", mask)})
    write_seg(inputs / "phantom" / "seg_rle", phantom, {1: ("phantom", mask)}, rle=True)
    # B: real CT (pydicom-data's 693_UNCR.dcm, 512 x 512) with one region as RTSTRUCT and SEG
    real_ct, outline, region = real_ct_with_ellipse(inputs / "ct", "CT-1")
    rois = {3: ("Smith^John tumour", [(0, outline, "CLOSED_PLANAR")])}
    write_rtstruct(inputs / "ct" / "rtstruct", real_ct, rois)
    write_seg(inputs / "ct" / "seg", real_ct, {1: ("tumour", region)})
    frames = pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array
    # the same MR frames as a series nobody drew on: described over an Otsu mask
    write_ct_series(inputs / "plain", frames.astype(np.int16), (3.0, 1.0, 1.0), "PLAIN-1")
    # C: bad regions beside good ones
    values = np.random.default_rng(3).integers(-100, 100, (4, 16, 16)).astype(np.int16)
    ct = write_ct_series(inputs / "bad", values, (2.5, 0.9, 0.9), "BAD-1")
    good = np.zeros(values.shape, dtype=bool)
    good[1:3, 4:10, 4:10] = True
    write_seg(inputs / "bad" / "seg_shifted", ct, {1: ("shifted", good)}, shift_mm=1.25)
    write_seg(
        inputs / "bad" / "seg_empty", ct, {1: ("good", good), 2: ("empty", np.zeros_like(good))}
    )
    write_rtstruct(
        inputs / "bad" / "rtstruct",
        ct,
        {
            1: ("open", [(1, _square(2, 2, 9, 9), "OPEN_PLANAR")]),
            2: (
                "bowtie",
                [(1, np.array([[2, 2], [2, 9], [9, 2], [9, 9]], float), "CLOSED_PLANAR")],
            ),
            3: ("good", [(1, _square(2, 2, 9, 9), "CLOSED_PLANAR")]),
        },
    )
    write_rtstruct(
        inputs / "bad" / "rtstruct_elsewhere",
        ct,
        {1: ("lost", [(1, _square(2, 2, 9, 9), "CLOSED_PLANAR")])},
        reference_series="1.2.826.0.1.3680043.8.498.1",
    )
    shutil.copy(get_testdata_file("rtstruct.dcm"), inputs / "pydicom_rtstruct")
    # D: a series whose slices disagree on pixel spacing
    mixed = write_ct_series(inputs / "mixed", values, (2.5, 0.9, 0.9), "MIX-1")
    slice_file = inputs / "mixed" / "ct002"
    dataset = pydicom.dcmread(slice_file)
    dataset.PixelSpacing = [0.8, 0.8]
    dataset.save_as(slice_file)
    write_seg(inputs / "mixed" / "seg", mixed, {1: ("any", good)})

    out = ingest_and_describe(inputs, root, CONF, KEY)
    features = pq.read_table(out / "roi_features").to_pylist()
    quarantine = pq.read_table(out / "quarantine", filters=[("stage", "=", "radiomics")])
    return out, features, quarantine.to_pylist(), root


def _rows(features, **where):
    """The rows that match `where`; the unfiltered image's unless `image_filter` is given."""
    where.setdefault("image_filter", None)
    return [r for r in features if all(r[k] == v for k, v in where.items())]


def _filtered(features, **where):
    return [r for r in features if r["image_filter"] and all(r[k] == v for k, v in where.items())]


def test_phantom_seg_matches_every_ibsi_reference_value(radiomics_out):
    _, features, _, _ = radiomics_out
    phantom = _rows(features, roi_label="phantom")
    segs = {r["segmentation_sop_instance_uid"] for r in phantom}
    assert len(segs) == 2 and len(phantom) == 2 * 7
    for seg in segs:
        by_aggregation = {
            r["aggregation"]: r for r in phantom if r["segmentation_sop_instance_uid"] == seg
        }
        misses = reference_misses(by_aggregation, PHANTOM / "reference_values.csv")
        print(f"IBSI phantom through DICOM CT + SEG: {482 - len(misses)} of 482 matched")
        assert misses == []
        row = by_aggregation["3d"]
        assert (row["voxel_count"], row["volume_mm3"], row["roi_source"]) == (74, 592.0, "seg")


def test_rle_twin_gives_the_same_features(radiomics_out):
    _, features, _, _ = radiomics_out
    phantom = _rows(features, roi_label="phantom", aggregation="3d_merged")
    first, second = ({c: r[c] for c in feature_columns()} for r in phantom)
    assert first == second


def test_one_region_as_seg_and_as_rtstruct_gives_the_same_features(radiomics_out):
    _, features, _, _ = radiomics_out
    seg = _rows(features, roi_source="seg", roi_label="tumour")
    series = seg[0]["series_instance_uid"]
    rtstruct = _rows(features, roi_source="rtstruct", series_instance_uid=series)
    assert {r["aggregation"] for r in seg} == {r["aggregation"] for r in rtstruct}
    assert len(seg) == 7
    for a in seg:
        (b,) = [r for r in rtstruct if r["aggregation"] == a["aggregation"]]
        assert a["series_instance_uid"] == b["series_instance_uid"]
        assert a["voxel_count"] == b["voxel_count"] > 1000
        filled = [c for c in feature_columns() if b[c] is not None]
        assert len(filled) >= (70 if a["aggregation"] == "3d" else 90)  # one slice: no ellipsoid
        assert [c for c in feature_columns() if a[c] is None] == [
            c for c in feature_columns() if b[c] is None
        ]
        for column in filled:
            assert a[column] == pytest.approx(b[column], rel=1e-9, abs=1e-12), column


def test_no_identifier_or_free_text_name_reaches_the_table(radiomics_out):
    _, features, _, _ = radiomics_out
    text = repr(features)
    for planted in ("Doe^Jane", "CT-1", "PLAIN-1", "BAD-1", "Smith", "Region^Test"):
        assert planted not in text
    rows = _rows(features, roi_source="rtstruct", roi_number=3, aggregation="3d")
    # the structure set's ROI names are removed by de-identification
    assert len(rows) == 2 and {r["roi_label"] for r in rows} == {"ROI 3"}


def test_bad_regions_are_quarantined_with_their_reasons_and_the_rest_described(radiomics_out):
    _, features, quarantine, _ = radiomics_out
    found = sorted((r["path"].rsplit("/", 2)[-2:][1], r["reason"]) for r in quarantine)
    assert found == [
        ("ct000", "series_mixed_pixel_spacing"),  # the otsu region of the series without one
        ("pydicom_rtstruct", "roi_reference_missing"),
        ("rtstruct", "roi_contour_open"),
        ("rtstruct_elsewhere", "roi_reference_missing"),
        ("seg", "series_mixed_pixel_spacing"),
        ("seg_empty", "roi_empty"),
        ("seg_shifted", "roi_geometry_mismatch"),
    ]
    assert all(r["stage"] == "radiomics" and r["detail"] for r in quarantine)
    described = {(r["roi_source"], r["roi_label"]) for r in _rows(features)}
    assert described == {
        ("seg", "phantom"),
        ("seg", "tumour"),
        ("rtstruct", "ROI 3"),
        ("rtstruct", "ROI 2"),  # the bowtie: a contour that crosses itself is still a region
        ("seg", "good"),
        ("otsu", "otsu"),
    }
    (otsu,) = _rows(features, roi_source="otsu", aggregation="3d")
    assert otsu["segmentation_sop_instance_uid"] is None and otsu["roi_number"] == 0
    assert otsu["voxel_count"] > 1000


def test_feature_columns_keep_their_ibsi_identifiers(spark, radiomics_out):
    out = radiomics_out[0]
    schema = spark.read.parquet(str(out / "roi_features")).schema
    assert schema["glcm_joint_max"].metadata["ibsi_id"] == "GYBY"
    assert schema["morph_volume"].metadata["ibsi_id"] == "RNU0"
    arrow = pq.read_schema(out / "roi_features" / "_common_metadata")
    assert arrow.field("glcm_joint_max").metadata[b"ibsi_id"] == b"GYBY"
    assert arrow.field("ngldm_dependence_count_energy").metadata[b"ibsi_id"] == b"CAS9"
    # the sidecar is not data: 8 regions, 7 rows each and one per filter
    assert pq.read_table(out / "roi_features").num_rows == 8 * (7 + FILTERS)


def test_report_shows_each_region_outlined_with_a_family_summary(spark, radiomics_out):
    from medspark.report.gather import gather
    from medspark.report.page import render

    out = radiomics_out[0]
    data = gather(spark, str(out))
    assert data.region_sources == {"seg": 4, "rtstruct": 3, "otsu": 1}
    assert len(data.regions) == 8 and all(
        r["overlay_png"][:8] == b"\x89PNG\r\n\x1a\n" for r in data.regions
    )
    families = {f["prefix"]: f for f in data.region_families}
    assert len(families) == 11 and families["glcm"]["regions"] == 8
    page = render(data)
    assert 'id="regions"' in page and page.count('alt="seg region outline"') == 4
    assert page.count('alt="rtstruct region outline"') == 3


def test_each_filter_adds_one_row_of_response_map_statistics_per_region(radiomics_out):
    _, features, _, _ = radiomics_out
    statistics = [c for c in feature_columns() if c.startswith("stat_")]
    others = [c for c in feature_columns() if not c.startswith("stat_")]
    assert len(statistics) == 18
    regions = {(r["segmentation_sop_instance_uid"], r["roi_number"]) for r in _rows(features)}
    for segmentation, number in regions:
        where = {"segmentation_sop_instance_uid": segmentation, "roi_number": number}
        (plain,) = _rows(features, aggregation="3d", **where)
        filtered = {
            r["filter_size"] or r["filter_sigma_mm"]: r for r in _filtered(features, **where)
        }
        assert sorted(filtered) == [1, 3.0]
        identity, log = filtered[1], filtered[3.0]
        assert identity["image_filter"] == "mean(boundary=mirror,dimensions=3d,size=1)"
        assert log["image_filter"].startswith("log(boundary=nearest,dimensions=3d,sigma_mm=3.0")
        assert (log["filter_truncate"], log["aggregation"]) == (4.0, "3d")
        for column in statistics:
            assert identity[column] == pytest.approx(plain[column], rel=1e-9, abs=1e-9), column
        assert all(log[c] is None for c in others)
        assert log["intensity_voxel_count"] == plain["intensity_voxel_count"]
        if plain["stat_variance"]:
            assert log["stat_mean"] != pytest.approx(plain["stat_mean"])
