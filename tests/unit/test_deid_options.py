"""De-identification options from PS3.15 Annex E, and the burned-in annotation rule."""

import pydicom
import pytest

from medspark.dicom.burned_in import may_carry_burned_in
from medspark.dicom.deid import DeidPolicy, deidentify, option_tables
from tests.conftest import TEST_KEY, pydicom_file


def ct(**extra):
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"), stop_before_pixels=True)
    ds.PatientSex, ds.PatientAge, ds.PatientWeight = "F", "042Y", 61.5
    ds.StationName, ds.DeviceSerialNumber = "CT-ROOM-3", "SN-77120"
    for keyword, value in extra.items():
        setattr(ds, keyword, value)
    return ds


def method_codes(ds):
    return [item.CodeValue for item in ds.DeidentificationMethodCodeSequence]


def test_default_removes_characteristics_and_device_identity():
    ds = ct()
    deidentify(ds, DeidPolicy(TEST_KEY))
    assert not ds.get("PatientSex") and "PatientAge" not in ds and "PatientWeight" not in ds
    assert "StationName" not in ds and "DeviceSerialNumber" not in ds
    assert method_codes(ds) == ["113100", "113107"]
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"


def test_retain_patient_characteristics_and_device_identity():
    ds = ct()
    policy = DeidPolicy(TEST_KEY, retain_patient_characteristics=True, retain_device_identity=True)
    deidentify(ds, policy)
    assert (ds.PatientSex, ds.PatientAge, float(ds.PatientWeight)) == ("F", "042Y", 61.5)
    assert (ds.StationName, ds.DeviceSerialNumber) == ("CT-ROOM-3", "SN-77120")
    assert not ds.get("PatientName")
    assert {"113108", "113109"} <= set(method_codes(ds))


def test_retain_uids_keeps_every_uid():
    ds = ct()
    original = (ds.SOPInstanceUID, ds.StudyInstanceUID, ds.file_meta.MediaStorageSOPInstanceUID)
    deidentify(ds, DeidPolicy(TEST_KEY, retain_uids=True))
    assert (
        ds.SOPInstanceUID,
        ds.StudyInstanceUID,
        ds.file_meta.MediaStorageSOPInstanceUID,
    ) == original
    assert "113110" in method_codes(ds)


@pytest.mark.parametrize(
    "dates,study_date,flag,code",
    [("full", "20040119", "UNMODIFIED", "113106"), ("remove", "", "REMOVED", None)],
)
def test_date_options(dates, study_date, flag, code):
    ds = ct()
    deidentify(ds, DeidPolicy(TEST_KEY, dates=dates))
    assert (ds.get("StudyDate") or "") == study_date
    assert ds.LongitudinalTemporalInformationModified == flag
    assert (code in method_codes(ds)) if code else len(method_codes(ds)) == 1


def test_file_meta_ae_titles_are_removed():
    ds = ct()
    assert "SourceApplicationEntityTitle" in ds.file_meta
    deidentify(ds, DeidPolicy(TEST_KEY))
    assert "SourceApplicationEntityTitle" not in ds.file_meta


def test_option_table_is_data():
    tables = option_tables()
    assert 0x00100040 in tables["retain_patient_characteristics"]
    assert 0x00181000 in tables["retain_device_identity"]


@pytest.mark.parametrize(
    "sop_class,flag,expected",
    [
        ("1.2.840.10008.5.1.4.1.1.7", None, True),  # secondary capture, unknown
        ("1.2.840.10008.5.1.4.1.1.7", "NO", False),  # declared clean
        ("1.2.840.10008.5.1.4.1.1.2", None, False),  # CT
        ("1.2.840.10008.5.1.4.1.1.2", "YES", True),
        ("1.2.840.10008.5.1.4.1.1.3.1", "", True),  # US multi-frame
    ],
)
def test_burned_in_rule(sop_class, flag, expected):
    assert may_carry_burned_in(sop_class, flag) is expected
