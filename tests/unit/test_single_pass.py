"""One file to its metadata and feature records reading its bytes once, without Spark."""

from __future__ import annotations

import io
import shutil
import zipfile

import pydicom
import pytest

from medspark.config import FeatureSettings
from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicom.sources import ArchiveLimits
from medspark.imaging import extract
from medspark.imaging.extract import FeatureOptions, extract_instance
from medspark.imaging.single_pass import (
    PixelHandling,
    SinglePassOptions,
    inspect_and_extract,
    pixel_handling,
)
from medspark.schemas import SINGLE_PASS_RECORDS
from tests.conftest import pydicom_file

VOLATILE = ("processed_at",)


def options(in_memory_limit: int = 64 << 20, pixels: str = "off") -> SinglePassOptions:
    limits = ArchiveLimits(1 << 30, 2, in_memory_limit)
    return SinglePassOptions(
        InspectOptions("unit", in_memory_limit_bytes=in_memory_limit),
        FeatureOptions("unit", FeatureSettings(thumbnail=False), limits),
        pixels=pixels,
    )


def stable(record: dict) -> dict:
    return {k: v for k, v in record.items() if k not in VOLATILE}


@pytest.fixture
def no_second_read(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the file was read a second time")

    monkeypatch.setattr(extract, "read_verified", refuse)


def test_a_file_gives_its_metadata_row_then_the_features_of_the_same_bytes(
    tmp_path, no_second_read
):
    path = tmp_path / "ct"
    shutil.copyfile(pydicom_file("CT_small.dcm"), path)
    metadata, features = inspect_and_extract(str(path), path.stat().st_size, options())
    assert metadata["outcome"] == "metadata" and features["outcome"] == "features"
    assert stable(metadata) == stable(next(inspect_file(str(path), path.stat().st_size,
                                                        options().inspect)))  # fmt: skip
    assert features["path"] == metadata["path"]
    assert features["sop_instance_uid"] == metadata["sop_instance_uid"]
    assert features["sha256"] == metadata["sha256"]
    assert features["fo_mean"] is not None and features["glcm_contrast"] is not None
    assert set(metadata) | set(features) <= set(SINGLE_PASS_RECORDS.names)


def test_the_features_equal_those_of_the_features_stage(tmp_path):
    path = tmp_path / "mr"
    shutil.copyfile(pydicom_file("MR_small.dcm"), path)
    metadata, single = inspect_and_extract(str(path), path.stat().st_size, options())
    (separate,) = extract_instance({**metadata, "examine_pixels": False}, options().features)
    assert stable(single) == stable({**separate, "path": metadata["path"]})


def test_archive_members_are_each_described_from_the_archive_read_once(tmp_path, no_second_read):
    archive = tmp_path / "cd.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for n, name in enumerate(("CT_small.dcm", "MR_small.dcm")):
            dataset = pydicom.dcmread(pydicom_file(name))
            dataset.SOPInstanceUID += f".{n}"
            member = io.BytesIO()
            dataset.save_as(member)
            zipped.writestr(f"DICOM/IM{n}", member.getvalue())
    records = list(inspect_and_extract(str(archive), archive.stat().st_size, options()))
    assert [r["outcome"] for r in records] == ["metadata", "features"] * 2
    assert records[1]["path"] == f"{archive}!/DICOM/IM0"
    assert records[3]["path"] == f"{archive}!/DICOM/IM1"


def test_a_file_over_the_in_memory_limit_is_streamed_then_read_once_more(tmp_path):
    path = tmp_path / "big"
    shutil.copyfile(pydicom_file("CT_small.dcm"), path)
    small_limit = options(in_memory_limit=1024)
    metadata, features = inspect_and_extract(str(path), path.stat().st_size, small_limit)
    assert metadata["outcome"] == "metadata" and features["outcome"] == "features"
    path.write_bytes(b"\0" * path.stat().st_size)  # replaced between header and decode
    records = list(inspect_and_extract(str(path), path.stat().st_size, small_limit))
    assert [r["outcome"] for r in records] == ["quarantine"]


def test_non_images_and_non_dicom_give_no_feature_records(tmp_path):
    plan = tmp_path / "rtplan"
    shutil.copyfile(pydicom_file("rtplan.dcm"), plan)
    junk = tmp_path / "junk"
    junk.write_bytes(b"not a dicom file at all" * 20)
    (record,) = inspect_and_extract(str(plan), plan.stat().st_size, options())
    assert record["outcome"] == "metadata" and not record["has_pixel_data"]
    (record,) = inspect_and_extract(str(junk), junk.stat().st_size, options())
    assert record["outcome"] == "quarantine" and record["reason"] == "not_dicom"


def test_an_undecodable_image_keeps_its_metadata_row_and_gets_a_decode_quarantine_row(tmp_path):
    short = pydicom.dcmread(pydicom_file("MR_small.dcm"))
    short.Rows = 128  # declares twice the pixels the file holds
    path = tmp_path / "short"
    short.save_as(path)
    metadata, failure = inspect_and_extract(str(path), path.stat().st_size, options())
    assert metadata["outcome"] == "metadata"
    assert failure["outcome"] == "quarantine" and failure["stage"] == "decode"
    assert failure["path"] == metadata["path"]
    assert failure["sop_instance_uid"] == metadata["sop_instance_uid"]


def test_a_failure_inside_extraction_becomes_that_instances_decode_row(tmp_path, monkeypatch):
    path = tmp_path / "ct"
    shutil.copyfile(pydicom_file("CT_small.dcm"), path)

    def broken(*args, **kwargs):
        raise ZeroDivisionError

    monkeypatch.setattr(extract, "describe_frame", broken)
    metadata, failure = inspect_and_extract(str(path), path.stat().st_size, options())
    assert metadata["outcome"] == "metadata"
    assert (failure["stage"], failure["reason"]) == ("decode", "internal_error")
    assert "ZeroDivisionError" in failure["detail"]


def test_an_image_at_risk_of_burned_in_text_is_held_back_without_features(tmp_path):
    capture = pydicom.dcmread(pydicom_file("JPGExtended.dcm"))
    capture.BurnedInAnnotation = "YES"
    path = tmp_path / "capture"
    capture.save_as(path)
    records = list(inspect_and_extract(str(path), path.stat().st_size, options(pixels="hold_back")))
    assert [r["outcome"] for r in records] == ["metadata"]
    assert records[0]["burned_in_risk"] is True


@pytest.mark.parametrize(
    "risk, pixels, examine, expected",
    [
        (True, "hold_back", "at_risk", PixelHandling.HOLD_BACK),
        (False, "hold_back", "all", PixelHandling.AS_IS),
        (True, "detect_and_redact", "at_risk", PixelHandling.EXAMINE),
        (None, "detect_and_redact", "at_risk", PixelHandling.AS_IS),
        (False, "detect_and_redact", "all", PixelHandling.EXAMINE),
        (True, "off", "all", PixelHandling.AS_IS),
    ],
)
def test_pixel_handling_follows_the_profile(risk, pixels, examine, expected):
    assert pixel_handling(risk, pixels, examine) is expected
