"""De-identification of headers: planted PHI must not survive into any derived value."""

import datetime as dt
import json

import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medspark.dicom.deid import DeidPolicy, action_for, deidentify
from medspark.dicom.header import header_json, header_row
from medspark.dicom.keys import PseudonymKey
from tests.conftest import TEST_KEY, pydicom_file

PHI = {
    "PatientName": "Quixote^Alonso^Q",
    "PatientID": "MRN-99887766",
    "PatientBirthDate": "19470302",
    "OtherPatientIDs": "ALT-55443322",
    "InstitutionName": "Hospital de La Mancha",
    "ReferringPhysicianName": "Carrasco^Sanson",
    "AccessionNumber": "ACC7777111",
    "OperatorsName": "Panza^Sancho",
    "StudyDescription": "Follow-up for Alonso Quixano",
    "PatientAddress": "Calle Cervantes 12, Toboso",
    "StudyID": "STUDY-4242",
}


def planted_dataset() -> pydicom.FileDataset:
    ds = pydicom.dcmread(pydicom_file("CT_small.dcm"), stop_before_pixels=True)
    for keyword, value in PHI.items():
        setattr(ds, keyword, value)
    ds.add_new(0x00091001, "LO", "Private Creator")
    ds.add_new(0x00091010, "LO", "secret-private-Dulcinea")
    item = Dataset()
    item.PatientName = "Nested^Dulcinea"
    item.PatientID = "NESTED-123123"
    ds.ReferencedPatientSequence = Sequence([item])
    request = Dataset()
    request.RequestedProcedureID = "REQ-31415926"
    ds.RequestAttributesSequence = Sequence([request])
    reference = Dataset()
    reference.ReferencedSOPClassUID = ds.SOPClassUID
    reference.ReferencedSOPInstanceUID = ds.StudyInstanceUID + ".7"
    ds.ReferencedImageSequence = Sequence([reference])
    return ds


def test_action_table_covers_the_whole_profile():
    assert action_for(0x00100010) == "Z"  # Patient's Name
    assert action_for(0x0020000D) == "U"  # Study Instance UID
    assert action_for(0x00081030) == "X"  # Study Description
    assert action_for(0x50001234) == "X"  # curve data, a repeating group
    assert action_for(0x60103000) == "X"  # overlay data in another overlay group
    assert action_for(0x00080060) is None  # Modality is kept


def test_no_planted_value_survives_in_columns_or_json():
    ds = planted_dataset()
    original_uids = {str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)}
    report = deidentify(ds, DeidPolicy(TEST_KEY))
    text = header_json(ds, 1024) + json.dumps(header_row(ds), default=str)
    for value in [*PHI.values(), "Dulcinea", "NESTED-123123", "REQ-31415926", *original_uids]:
        assert value not in text, value
    assert report.private_removed >= 2  # CT_small carries 178 private tags of its own
    assert ds.PatientIdentityRemoved == "YES"


def test_identifiers_become_keyed_pseudonyms():
    ds = planted_dataset()
    study_uid = str(ds.StudyInstanceUID)
    deidentify(ds, DeidPolicy(TEST_KEY))
    assert ds.PatientID == TEST_KEY.identifier(PHI["PatientID"], "patient")
    assert ds.StudyInstanceUID == TEST_KEY.uid(study_uid)
    referenced = ds.ReferencedImageSequence[0]
    assert referenced.ReferencedSOPInstanceUID == TEST_KEY.uid(study_uid + ".7")
    assert referenced.ReferencedSOPClassUID == ds.SOPClassUID
    assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_another_key_gives_other_pseudonyms():
    first, second = planted_dataset(), planted_dataset()
    deidentify(first, DeidPolicy(TEST_KEY))
    deidentify(second, DeidPolicy(PseudonymKey(b"another-key-0123456789abcdef", "test")))
    assert first.PatientID != second.PatientID
    assert first.SOPInstanceUID != second.SOPInstanceUID


def test_dates_shift_by_the_same_offset_for_one_patient():
    ds = planted_dataset()
    before = {k: ds.get(k) for k in ("StudyDate", "SeriesDate", "ContentDate")}
    report = deidentify(ds, DeidPolicy(TEST_KEY, date_shift_max_days=365))
    assert -365 <= report.date_shift_days <= -1
    assert report.date_shift_days == TEST_KEY.date_shift_days(PHI["PatientID"], 365)
    for keyword, value in before.items():
        moved = dt.datetime.strptime(ds.get(keyword), "%Y%m%d").date()
        original = dt.datetime.strptime(value, "%Y%m%d").date()
        assert (moved - original).days == report.date_shift_days
    assert not ds.PatientBirthDate
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"


def test_allow_listed_private_tags_are_kept():
    ds = planted_dataset()
    deidentify(ds, DeidPolicy(TEST_KEY, keep_private_tags=frozenset({0x00091001})))
    assert 0x00091001 in ds and 0x00091010 not in ds


def test_overlays_and_curves_are_recorded_and_removed():
    ds = pydicom.dcmread(pydicom_file("examples_overlay.dcm"), stop_before_pixels=True)
    assert 0x60003000 in ds
    report = deidentify(ds, DeidPolicy(TEST_KEY))
    assert report.had_overlays and 0x60003000 not in ds
