"""`medspark ingest` + `medspark radiomics` on regions other tools wrote: highdicom SEGs over
real series (the IBSI phantom against its 482 reference values, every SEG shape, a sparse series
and a radiograph described per slice), and RTSTRUCT contours with sub-voxel self-crossings."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pydicom
import pytest
from pydicom.uid import JPEGLSLossless, RLELossless

from medspark.radiomics.catalogue import feature_columns
from tests.conftest import SHARED_DATA, needs
from tests.ibsi_reference import reference_misses
from tests.region_objects import (
    ibsi_phantom,
    real_ct_with_ellipse,
    write_ct_series,
    write_rtstruct,
)
from tests.spark.radiomics_run import ingest_and_describe
from tests.third_party_regions import (
    frames_reversed,
    groups_per_frame,
    highdicom,
    highdicom_masks,
    highdicom_seg,
    pydicom_series,
)

pytestmark = pytest.mark.spark

PHANTOM = SHARED_DATA / "ibsi_digital_phantom"
KEY = "radiomics-third-party-key-0123456789"
CONF = """
radiomics:
  aggregation: [2d_averaged, 2d_slice_merged, 2.5d_direction_merged, 2.5d_merged,
                3d_averaged, 3d_merged]
  discretisation: {method: fixed_bin_width, bin_width: 1, lower_bound: 0.5}
"""
STACK_AGGREGATIONS = {"3d", "2d_averaged", "2d_slice_merged"}


def with_small_loops(outline: np.ndarray, every: int = 4) -> np.ndarray:
    """The outline with a loop of well under a pixel's area tied into every `every`th edge: the
    path runs along the edge, doubles back across it and goes on (as hand contouring leaves)."""
    points = []
    for i, start in enumerate(outline):
        points.append(start)
        if i % every:
            continue
        end = outline[(i + 1) % len(outline)]
        along = end - start
        across = np.array([-along[1], along[0]]) / np.linalg.norm(along)
        points += [start + 0.6 * along, start + 0.5 * along + 0.4 * across,
                   start + 0.4 * along - 0.1 * across]  # fmt: skip
    return np.asarray(points)


def _masks_by_label(seg, sources) -> dict[str, int]:
    counts = highdicom_masks(seg, [str(s.SOPInstanceUID) for s in sources])
    labels = {int(i.SegmentNumber): str(i.SegmentLabel) for i in seg.SegmentSequence}
    return {labels[n]: int(mask.sum()) for n, mask in counts.items()}


@pytest.fixture(scope="module")
def third_party_out(spark, tmp_path_factory):
    needs((PHANTOM / "image.nii.gz").is_file(), "shared/data/ibsi_digital_phantom")
    needs(highdicom is not None, "highdicom (a test dependency)")

    root = tmp_path_factory.mktemp("third_party")
    inputs = root / "in"
    expected: dict[str, int] = {}

    def save(seg, folder, name, sources):
        seg.save_as(inputs / folder / name, enforce_file_format=True)
        expected.update(_masks_by_label(seg, sources))

    # the IBSI phantom as CT slices and its mask as a highdicom SEG of one segment
    image, mask = ibsi_phantom(PHANTOM)
    write_ct_series(inputs / "phantom", image, (2.0, 2.0, 2.0), patient_id="Doe^Jane")
    slices = [pydicom.dcmread(inputs / "phantom" / f"ct{k:03d}") for k in range(len(image))]
    save(highdicom_seg(slices, {1: ("phantom", mask)}), "phantom", "seg", slices)
    # real CT series of pydicom: contiguous, sparse, and a radiograph
    for folder, name in (("98892001/CT5N", "ct5n"), ("77654033/CT2", "ct2"),
                         ("77654033/CR1", "cr1")):  # fmt: skip
        sources = pydicom_series(folder)
        (inputs / name).mkdir(parents=True)
        for number, source in enumerate(sources):
            source.save_as(inputs / name / f"image{number}", enforce_file_format=True)
        yy, xx = np.mgrid[: sources[0].Rows, : sources[0].Columns]
        disc = np.stack(
            [(yy - 7) ** 2 + (xx - 6) ** 2 <= (3 + k) ** 2 for k in range(len(sources))]
        )
        band = np.zeros_like(disc)
        band[:, 5:11, 6:13] = True
        radii = 4.0 + np.arange(len(sources))[:, None, None]
        fraction = np.clip(1.2 - np.hypot(yy - 8, xx - 8)[None] / radii, 0, 1)
        if name == "ct5n":
            two = {1: ("two lesion", disc), 2: ("two organ", band)}
            save(highdicom_seg(sources, two), name, "seg_two", sources)
            rev = {1: ("rev lesion", disc), 2: ("rev organ", band)}
            save(frames_reversed(highdicom_seg(sources, rev)), name, "seg_rev", sources)
            frac = {1: ("frac jpegls", fraction)}
            save(highdicom_seg(sources, frac, "FRACTIONAL", transfer_syntax=JPEGLSLossless),
                 name, "seg_frac", sources)  # fmt: skip
            labels = {1: ("map lesion", disc), 2: ("map organ", band)}
            labelmap = highdicom_seg(sources, labels, "LABELMAP", transfer_syntax=RLELossless)
            save(groups_per_frame(labelmap), name, "seg_map", sources)
        elif name == "ct2":
            sparse = {1: ("sparse lesion", disc), 2: ("sparse organ", band)}
            save(highdicom_seg(sources, sparse), name, "seg", sources)
            save(highdicom_seg(sources, {1: ("sparse frac", fraction)}, "FRACTIONAL"),
                 name, "seg_frac", sources)  # fmt: skip
        else:
            save(highdicom_seg(sources, {1: ("radiograph", disc)}), name, "seg", sources)
    # one region on real CT as a highdicom SEG, an RTSTRUCT, and an RTSTRUCT with small loops
    real_ct, outline, region = real_ct_with_ellipse(inputs / "ct", "CT-1")
    ct_slice = [pydicom.dcmread(inputs / "ct" / "ct000")]
    save(highdicom_seg(ct_slice, {1: ("tumour", region)}), "ct", "seg", ct_slice)
    contours = {3: ("GTV", [(0, outline, "CLOSED_PLANAR")]),
                4: ("GTV looped", [(0, with_small_loops(outline), "CLOSED_PLANAR")])}  # fmt: skip
    write_rtstruct(inputs / "ct" / "rtstruct", real_ct, contours)

    out = ingest_and_describe(inputs, root, CONF, KEY)
    features = pq.read_table(out / "roi_features").to_pylist()
    quarantine = pq.read_table(out / "quarantine").to_pylist()
    return features, quarantine, expected


def _rows(features, **where):
    return [r for r in features if all(r[k] == v for k, v in where.items())]


def test_highdicom_phantom_seg_matches_every_ibsi_reference_value(third_party_out):
    features, _, _ = third_party_out
    by_aggregation = {r["aggregation"]: r for r in _rows(features, roi_label="phantom")}
    misses = reference_misses(by_aggregation, PHANTOM / "reference_values.csv")
    print(f"IBSI phantom through DICOM CT + highdicom SEG: {482 - len(misses)} of 482 matched")
    assert misses == []
    assert by_aggregation["3d"]["voxel_count"] == 74


def test_every_segment_is_described_with_highdicoms_voxel_count(third_party_out):
    features, quarantine, expected = third_party_out
    assert quarantine == []
    assert len(expected) == 13
    for label, voxels in expected.items():
        rows = _rows(features, roi_label=label)
        assert rows, label
        assert {r["voxel_count"] for r in rows} == {voxels}, label


def test_regions_on_a_sparse_series_or_a_radiograph_are_described_per_slice(third_party_out):
    features, _, _ = third_party_out
    for label in ("sparse lesion", "sparse organ", "sparse frac", "radiograph"):
        rows = {r["aggregation"]: r for r in _rows(features, roi_label=label)}
        assert set(rows) == STACK_AGGREGATIONS, label
        whole = rows["3d"]
        assert whole["stat_mean"] is not None and whole["morph_volume"] is None
        assert rows["2d_averaged"]["glcm_joint_max"] is not None, label
        assert any(p.startswith("not_a_volume:") for p in whole["problems"]), whole["problems"]
    volume = {r["aggregation"] for r in _rows(features, roi_label="two lesion")}
    assert volume == {"3d", "2d_averaged", "2d_slice_merged", "2.5d_direction_merged",
                      "2.5d_merged", "3d_averaged", "3d_merged"}  # fmt: skip


def test_seg_and_rtstruct_of_one_region_agree_and_small_loops_change_nothing(third_party_out):
    features, _, _ = third_party_out
    seg = {r["aggregation"]: r for r in _rows(features, roi_label="tumour")}
    series = seg["3d"]["series_instance_uid"]
    clean = {r["aggregation"]: r for r in _rows(features, roi_source="rtstruct", roi_number=3)}
    looped = {r["aggregation"]: r for r in _rows(features, roi_source="rtstruct", roi_number=4)}
    assert clean["3d"]["series_instance_uid"] == series == looped["3d"]["series_instance_uid"]
    voxels = seg["3d"]["voxel_count"]
    assert voxels > 1000
    assert abs(clean["3d"]["voxel_count"] - voxels) <= 0.03 * voxels
    assert abs(looped["3d"]["voxel_count"] - voxels) <= 0.01 * voxels
    notes = [p for p in looped["3d"]["problems"] if p.startswith("contour_self_crossing")]
    assert len(notes) == 1 and "ROI 4 contour 1 crosses itself (9 loops" in notes[0]
    assert not [p for p in clean["3d"]["problems"] if p.startswith("contour")]
    for aggregation, row in seg.items():
        for column in feature_columns():
            if row[column] is not None:
                assert clean[aggregation][column] == pytest.approx(row[column], rel=1e-9), column
