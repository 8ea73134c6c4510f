"""Header lies (multi-valued, out of range, non-finite, wrong VR) in every attribute the per-file
core reads: each file ends as a metadata row, features or a named quarantine reason, never an
exception and never `internal_error`."""

from __future__ import annotations

import contextlib

import pytest
from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement

from medspark.config import FeatureSettings
from medspark.dicom.deid import DeidPolicy
from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicom.reasons import Rejection
from medspark.dicom.sources import ArchiveLimits
from medspark.imaging.extract import FeatureOptions, extract_instance
from medspark.volume.build import VolumeTooLarge, build_volume
from medspark.volume.geometry import NotAVolume
from tests.conftest import TEST_KEY
from tests.hostile import craft

MULTI = "multi-valued"
OUT_OF_RANGE = "out of range"
NON_FINITE = "non-finite"
WRONG_VR = "wrong VR"

NUMBERS = ("Rows", "Columns", "BitsAllocated", "BitsStored", "HighBit", "PixelRepresentation",
           "SamplesPerPixel", "NumberOfFrames", "RescaleSlope", "RescaleIntercept",
           "WindowCenter", "WindowWidth", "SliceThickness", "SpacingBetweenSlices")  # fmt: skip
VECTORS = {"PixelSpacing": 2, "ImagePositionPatient": 3, "ImageOrientationPatient": 6}
TEXTS = ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "FrameOfReferenceUID",
         "SOPClassUID", "PatientID", "PatientName", "PatientBirthDate", "StudyDate",
         "Modality", "PhotometricInterpretation", "BurnedInAnnotation")  # fmt: skip
HUGE, TINY = "1e308", "-1e308"


def lies() -> list[tuple[str, str, object]]:
    """(keyword, kind of lie, raw value) for every attribute swept."""
    cases: list[tuple[str, str, object]] = []
    for keyword in NUMBERS:
        integer = dictionary_VR(tag_for_keyword(keyword)) in ("US", "SS", "IS", "UL")
        cases += [
            (keyword, MULTI, ["1", "2"] if not integer or keyword == "NumberOfFrames" else [1, 2]),
            (keyword, OUT_OF_RANGE, "2147483647" if keyword == "NumberOfFrames" else
             (65535 if integer and keyword != "NumberOfFrames" else HUGE)),
            (keyword, OUT_OF_RANGE, 0 if integer and keyword != "NumberOfFrames" else "-1"),
            (keyword, WRONG_VR, "abc"),
        ]  # fmt: skip
        if not integer:
            cases += [(keyword, NON_FINITE, "NaN"), (keyword, NON_FINITE, "-inf")]
    for keyword, count in VECTORS.items():
        cases += [
            (keyword, MULTI, ["1"] * (count + 1)),
            (keyword, OUT_OF_RANGE, [HUGE] * count),
            (keyword, OUT_OF_RANGE, ["0"] * count),
            (keyword, NON_FINITE, ["NaN"] * count),
            (keyword, WRONG_VR, "abc"),
        ]
    for keyword in TEXTS:
        cases += [
            (keyword, MULTI, ["1.2.3", "1.2.4"]),
            (keyword, OUT_OF_RANGE, "9" * 64),
            (keyword, WRONG_VR, b"\xff\xfe\x00\x01"),
        ]
    return cases


def _lying_file(keyword: str, kind: str, value: object) -> bytes:
    ds = craft.dataset("CT_small.dcm", "960")
    tag = tag_for_keyword(keyword)
    vr = "OB" if kind == WRONG_VR and isinstance(value, bytes) else (
        "LO" if kind == WRONG_VR else dictionary_VR(tag))  # fmt: skip
    ds[tag] = DataElement(tag, vr, value)
    if kind == WRONG_VR and keyword in ("SOPInstanceUID", "SOPClassUID"):
        return craft.explicit_little_by_hand(ds)  # the file meta keeps the UIDs it had
    return craft.to_bytes(ds)


@pytest.fixture(autouse=True)
def lenient_pydicom():
    reading, writing = (
        config.settings.reading_validation_mode,
        config.settings.writing_validation_mode,
    )
    config.settings.reading_validation_mode = config.IGNORE
    config.settings.writing_validation_mode = config.IGNORE
    yield
    config.settings.reading_validation_mode = reading
    config.settings.writing_validation_mode = writing


def test_the_sweep_covers_every_kind_of_lie():
    kinds = {kind for _, kind, _ in lies()}
    assert kinds == {MULTI, OUT_OF_RANGE, NON_FINITE, WRONG_VR} and len(lies()) > 100


@pytest.mark.parametrize("keyword,kind,value", lies(), ids=lambda v: str(v)[:20])
def test_a_header_lie_ends_in_a_row_or_a_named_reason(tmp_path, keyword, kind, value):
    path = tmp_path / "lie"
    path.write_bytes(_lying_file(keyword, kind, value))
    options = InspectOptions(run_id="t", deid=DeidPolicy(TEST_KEY))
    records = list(inspect_file(str(path), path.stat().st_size, options))
    assert records and all(r.get("reason") != "internal_error" for r in records)
    for record in records:
        if record.get("outcome") != "metadata":
            assert record.get("reason"), record
            continue
        features = FeatureOptions("t", FeatureSettings(), ArchiveLimits(1 << 30, 3, 64 << 20))
        for row in extract_instance({**record, "path": str(path)}, features):
            assert row.get("reason") != "internal_error", row
    with contextlib.suppress(Rejection, NotAVolume, VolumeTooLarge):
        build_volume([path.read_bytes()], [None])


def test_a_rescale_past_the_float32_range_is_an_invalid_pixel_attribute(tmp_path):
    """Rescale Slope 1e308 is finite, but no stored value survives it in float32."""
    path = tmp_path / "huge"
    path.write_bytes(_lying_file("RescaleSlope", OUT_OF_RANGE, HUGE))
    (record,) = inspect_file(str(path), path.stat().st_size, InspectOptions(run_id="t"))
    assert record["outcome"] == "metadata"
    features = FeatureOptions("t", FeatureSettings(), ArchiveLimits(1 << 30, 3, 64 << 20))
    (row,) = extract_instance(record, features)
    assert (row["outcome"], row["reason"]) == ("quarantine", "invalid_pixel_attribute")
    with pytest.raises(Rejection) as caught:
        build_volume([path.read_bytes()], [None])
    assert caught.value.reason == "invalid_pixel_attribute"


def test_a_multi_valued_sop_instance_uid_has_its_own_reason(tmp_path):
    path = tmp_path / "multi"
    path.write_bytes(_lying_file("SOPInstanceUID", MULTI, ["1.2.3", "1.2.4"]))
    options = InspectOptions(run_id="t", deid=DeidPolicy(TEST_KEY))
    (record,) = inspect_file(str(path), path.stat().st_size, options)
    assert (record["outcome"], record["reason"]) == ("quarantine", "invalid_sop_instance_uid")
    assert "2 values" in record["detail"]
