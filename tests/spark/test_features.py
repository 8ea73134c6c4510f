"""The features job end to end in local Spark: ingest, then decode and describe every image."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pyarrow.dataset as pads
import pydicom
import pytest
from pydicom.pixels import apply_modality_lut

from medspark.config import FeatureSettings
from medspark.spark.jobs.features import run_features
from medspark.spark.jobs.ingest import run_ingest
from medspark.spark.run import Run
from tests.conftest import TEST_KEY, pydicom_file
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark


def read(out: Path, name: str) -> list[dict]:
    return pads.dataset(out / name, partitioning="hive").to_table().to_pylist()


def build_input(root: Path) -> Path:
    images = root / "in"
    images.mkdir(parents=True)
    for name in ("CT_small.dcm", "MR_small.dcm", "examples_ybr_color.dcm", "rtplan.dcm"):
        shutil.copyfile(pydicom_file(name), images / name.replace(".dcm", ""))
    capture = pydicom.dcmread(pydicom_file("JPGExtended.dcm"))
    capture.BurnedInAnnotation = "NO"  # a secondary capture declared clean is not held back
    capture.save_as(images / "JPGExtended")
    short = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    short.SOPInstanceUID += ".1"
    short.Rows = 128  # declares twice the pixels the file holds, without being truncated
    buffer = io.BytesIO()
    short.save_as(buffer)
    (images / "MR_rows_wrong").write_bytes(buffer.getvalue())
    with zipfile.ZipFile(images / "cd.zip", "w") as archive:
        other = pydicom.dcmread(pydicom_file("CT_small.dcm"))
        other.SOPInstanceUID += ".2"
        member = io.BytesIO()
        other.save_as(member)
        archive.writestr("DICOM/CT2", member.getvalue())
    return images


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("features")
    out = root / "out"
    base = make_settings()
    settings = base.model_copy(
        update={"features": FeatureSettings(preprocess=[], mask="whole", thumbnail=True)}
    )
    unheld = settings.model_copy(
        update={"deid": settings.deid.model_copy(update={"pixels": "off"})}
    )
    run_ingest(Run(spark, settings, str(out), str(build_input(root)), TEST_KEY))
    without_hold_back = run_features(Run(spark, unheld, str(out)))
    result = run_features(Run(spark, settings, str(out)))
    return out, result, settings, without_hold_back


def test_one_row_per_decoded_frame(pipeline):
    out, result, _, _ = pipeline
    rows = read(out, "features")
    keys = [(r["sop_instance_uid"], r["frame"]) for r in rows]
    assert len(keys) == len(set(keys))
    by_modality = {}
    for row in rows:
        by_modality[row["modality"]] = by_modality.get(row["modality"], 0) + 1
    assert by_modality == {"CT": 2, "MR": 1}
    assert result.summary["counts"]["feature_rows"] == 3
    assert result.summary["counts"]["non_image_instances_skipped"] == 1
    # the ultrasound cine has no BurnedInAnnotation and US commonly carries burned-in text; its
    # 30 frames are more than deid.examine_max_frames, so it is held back unexamined
    assert result.summary["counts"]["held_back_burned_in"] == 0
    assert result.summary["counts"]["held_back_text_unchecked"] == 1
    assert "path" not in rows[0]
    assert all(r["thumbnail_png"][:4] == b"\x89PNG" for r in rows)


def test_ct_first_order_is_in_hounsfield_units(pipeline):
    out, _, _, _ = pipeline
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"))
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    uid = TEST_KEY.uid(str(ds.SOPInstanceUID))
    (row,) = [r for r in read(out, "features") if r["sop_instance_uid"] == uid]
    assert row["intensity_unit"] == "HU"
    assert row["fo_mean"] == pytest.approx(hu.mean(), rel=1e-6)
    assert row["fo_minimum"] == hu.min() and row["fo_maximum"] == hu.max()
    assert row["patient_id"] == TEST_KEY.identifier(str(ds.PatientID), "patient")


def test_undecodable_images_are_quarantined_at_the_decode_stage(pipeline):
    out, result, _, _ = pipeline
    decode = [r for r in read(out, "quarantine") if r["stage"] == "decode"]
    reasons = {Path(r["path"]).name: r["reason"] for r in decode}
    assert reasons == {
        "JPGExtended": "unsupported_transfer_syntax",
        "MR_rows_wrong": "pixel_data_short",
        "examples_ybr_color": "burned_in_text_unchecked",
    }
    counts = result.summary["counts"]
    assert counts["decode_quarantined"] == 2  # not decodable; the held-back one apart
    assert counts["held_back_text_unchecked"] == 1


def test_rerun_replaces_rather_than_duplicates(spark, pipeline):
    out, _, settings, _ = pipeline
    before = (len(read(out, "features")), len(read(out, "quarantine")))
    run_features(Run(spark, settings, str(out)))
    assert (len(read(out, "features")), len(read(out, "quarantine"))) == before


def test_held_back_images_are_described_when_the_operator_allows_it(pipeline):
    _, _, _, without_hold_back = pipeline
    counts = without_hold_back.summary["counts"]
    assert counts["held_back_burned_in"] == 0
    assert counts["feature_rows_by_modality"] == {"CT": 2, "MR": 1, "US": 30}


def test_hashed_paths_need_the_key_and_then_work(spark, tmp_path):
    from medspark.spark.records.extraction import HashedPathsError

    base = make_settings()
    settings = base.model_copy(
        update={
            "deid": base.deid.model_copy(update={"hash_paths": True}),
            "features": FeatureSettings(preprocess=[], thumbnail=False),
        }
    )
    out = tmp_path / "out"
    run_ingest(Run(spark, settings, str(out), str(build_input(tmp_path)), TEST_KEY))
    assert all(r["path"].startswith("hmac:") for r in read(out, "metadata"))
    with pytest.raises(HashedPathsError):
        run_features(Run(spark, settings, str(out)))
    result = run_features(Run(spark, settings, str(out), key=TEST_KEY))
    assert result.summary["counts"]["feature_rows"] == 3
    decode = [r for r in read(out, "quarantine") if r["stage"] == "decode"]
    assert decode and all(r["path"].startswith("hmac:") for r in decode)


def test_no_staging_left_behind(pipeline):
    out, _, _, _ = pipeline
    assert sorted(p.name for p in out.iterdir()) == [
        "audit", "features", "metadata", "quarantine", "runs",
    ]  # fmt: skip
