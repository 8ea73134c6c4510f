"""De-identification's details: the recorded method, options, dates, dummies, file meta, counts.

Expected values are written out here (CID 7050 codes from PS3.16, dates by hand) rather than
taken from the module.
"""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

from medspark.config import DeidSettings
from medspark.dicom.deid import (
    DeidPolicy,
    action_for,
    deidentify,
    parse_tag,
    policy_from_settings,
    rebuilt_file_meta,
)
from tests.conftest import TEST_KEY

METHOD = (
    "medspark: DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile; "
    "keyed pseudonyms; dates shifted per patient"
)


def instance(**values) -> Dataset:
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.99.10"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.99.11"
    for keyword, value in values.items():
        setattr(ds, keyword, value)
    return ds


def codes_of(ds: Dataset) -> list[tuple[str, str, str]]:
    return [
        (item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning)
        for item in ds.DeidentificationMethodCodeSequence
    ]


def test_the_method_and_the_default_options_are_recorded():
    ds = instance(PatientID="P1")
    deidentify(ds, DeidPolicy(TEST_KEY))
    assert ds.PatientIdentityRemoved == "YES"
    assert ds.DeidentificationMethod == METHOD[:64]
    assert codes_of(ds) == [
        ("113100", "DCM", "Basic Application Confidentiality Profile"),
        ("113107", "DCM", "Retain Longitudinal Temporal Information Modified Dates Option"),
    ]
    assert ds.LongitudinalTemporalInformationModified == "MODIFIED"


def test_every_option_in_force_is_recorded():
    policy = DeidPolicy(
        TEST_KEY,
        dates="full",
        retain_patient_characteristics=True,
        retain_device_identity=True,
        retain_uids=True,
        keep_private_tags=frozenset({0x00291010}),
    )
    ds = instance(PatientID="P1")
    deidentify(ds, policy)
    assert [code for code, _, _ in codes_of(ds)] == [
        "113100", "113106", "113108", "113109", "113110", "113111",
    ]  # fmt: skip
    assert ds.LongitudinalTemporalInformationModified == "UNMODIFIED"
    removed = instance(PatientID="P1")
    deidentify(removed, DeidPolicy(TEST_KEY, dates="remove"))
    assert [code for code, _, _ in codes_of(removed)] == ["113100"]
    assert removed.LongitudinalTemporalInformationModified == "REMOVED"
    unshifted = instance(PatientID="P1")
    deidentify(unshifted, DeidPolicy(TEST_KEY, date_shift_max_days=0))
    assert unshifted.LongitudinalTemporalInformationModified == "UNMODIFIED"


def test_patient_pseudonym_and_the_date_shift_key():
    with_id = instance(PatientID="PAT-7", StudyDate="20200315")
    report = deidentify(with_id, DeidPolicy(TEST_KEY))
    assert report.patient_pseudonym == with_id.PatientID == TEST_KEY.identifier("PAT-7", "patient")
    assert report.date_shift_days == TEST_KEY.date_shift_days("PAT-7", 365)
    without = instance(StudyDate="20200315")
    report = deidentify(without, DeidPolicy(TEST_KEY))
    assert report.patient_pseudonym is None and "PatientID" not in without
    # no patient ID: the shift is keyed by the study, so one study keeps its intervals
    assert report.date_shift_days == TEST_KEY.date_shift_days("1.2.826.0.1.3680043.99.11", 365)


@pytest.mark.parametrize(
    "vr,value,shifted",
    [
        ("DA", "20200315", "20200305"),
        ("DA", ["20200315", "20200101"], ["20200305", "20191222"]),
        ("DT", "20200315120000.123456+0100", "20200305120000.123456+0100"),
        ("DA", "2020-03-15", ""),  # not a DICOM date: emptied, never kept
    ],
)
def test_dates_move_by_the_patient_shift(vr, value, shifted, monkeypatch):
    monkeypatch.setattr(type(TEST_KEY), "date_shift_days", lambda self, key, days: -10)
    ds = instance(PatientID="P1")
    ds.add_new(0x00080020 if vr == "DA" else 0x0008002A, vr, value)
    report = deidentify(ds, DeidPolicy(TEST_KEY))
    keyword = "StudyDate" if vr == "DA" else "AcquisitionDateTime"
    assert ds[keyword].value == shifted
    assert report.dates_shifted == 1


def test_dummies_by_value_representation():
    ds = instance(PatientID="P1")
    ds.PatientName = "Doe^Jane"  # Z in the table: emptied
    ds.ClinicalTrialSubjectID = "S-1"  # LO, D
    ds.add_new(0x00101010, "AS", "042Y")  # Patient's Age, X
    ds.ReferringPhysicianName = "Ref^Ray"  # PN, Z
    ds.PersonName = "Someone^Else"  # PN, D
    deidentify(ds, DeidPolicy(TEST_KEY, dates="remove"))
    assert ds.ClinicalTrialSubjectID == "ANONYMIZED"
    assert ds.PersonName == "ANONYMIZED"
    assert not ds.PatientName and not ds.ReferringPhysicianName and "PatientName" in ds
    assert "PatientAge" not in ds


def test_options_keep_their_attributes_and_private_allow_list():
    ds = instance(PatientID="P1", PatientSex="F", DeviceSerialNumber="SN-1")
    ds.add_new(0x00290010, "LO", "VENDOR")
    ds.add_new(0x00291010, "LO", "kept")
    ds.add_new(0x00291011, "LO", "dropped")
    report = deidentify(
        ds,
        DeidPolicy(
            TEST_KEY,
            retain_patient_characteristics=True,
            retain_device_identity=True,
            keep_private_tags=frozenset({0x00291010}),
        ),
    )
    assert ds.PatientSex == "F" and ds.DeviceSerialNumber == "SN-1"
    assert ds[0x00291010].value == "kept" and 0x00291011 not in ds and 0x00290010 not in ds
    assert report.kept_private == ["(0029,1010)"] and report.private_removed == 2
    plain = instance(PatientID="P1", PatientSex="F", DeviceSerialNumber="SN-1")
    deidentify(plain, DeidPolicy(TEST_KEY))
    assert not plain.get("DeviceSerialNumber") and not plain.PatientSex


def test_retain_uids_keeps_every_uid_and_maps_none():
    ds = instance(PatientID="P1", SeriesInstanceUID="1.2.826.0.1.3680043.99.12")
    ds.ReferencedSOPInstanceUID = ["1.2.826.0.1.3680043.99.13", "1.2.826.0.1.3680043.99.14"]
    report = deidentify(ds, DeidPolicy(TEST_KEY, retain_uids=True))
    assert ds.SOPInstanceUID == "1.2.826.0.1.3680043.99.10"
    assert list(ds.ReferencedSOPInstanceUID) == [
        "1.2.826.0.1.3680043.99.13", "1.2.826.0.1.3680043.99.14",
    ]  # fmt: skip
    assert report.uids_replaced == 0
    mapped = instance(PatientID="P1")
    mapped.ReferencedSOPInstanceUID = ["1.2.826.0.1.3680043.99.13", "1.2.826.0.1.3680043.99.14"]
    report = deidentify(mapped, DeidPolicy(TEST_KEY))
    assert list(mapped.ReferencedSOPInstanceUID) == [
        TEST_KEY.uid("1.2.826.0.1.3680043.99.13"), TEST_KEY.uid("1.2.826.0.1.3680043.99.14"),
    ]  # fmt: skip
    assert mapped.SOPInstanceUID == TEST_KEY.uid("1.2.826.0.1.3680043.99.10")
    assert report.uids_replaced == 3  # SOP Instance, Study Instance, Referenced SOP Instance


def test_counts_of_what_was_done():
    ds = instance(PatientID="P1", PatientName="Doe^J", InstitutionName="St X")
    ds.ClinicalTrialSubjectID = "S-1"
    ds.StudyDate = "20200101"
    ds.add_new(0x00110010, "LO", "PRIV")
    ds.OtherPatientIDsSequence = Sequence([Dataset()])  # X: removed
    report = deidentify(ds, DeidPolicy(TEST_KEY))
    assert (report.removed, report.emptied, report.replaced) == (2, 1, 1)
    assert (report.private_removed, report.uids_replaced, report.dates_shifted) == (1, 2, 1)


def test_sequences_are_removed_or_cleaned_as_the_table_says():
    ds = instance(PatientID="P1")
    ds.ReferencedStudySequence = Sequence([instance()])  # X/Z: medspark removes
    ds.RequestAttributesSequence = Sequence([instance()])  # X
    ds.ReferencedImageSequence = Sequence([instance()])  # X/Z/U*: kept, its UIDs replaced
    deidentify(ds, DeidPolicy(TEST_KEY))
    assert "RequestAttributesSequence" not in ds and "ReferencedStudySequence" not in ds
    assert action_for(0x00081140) == "X/Z/U*"
    uid = TEST_KEY.uid("1.2.826.0.1.3680043.99.10")
    assert ds.ReferencedImageSequence[0].SOPInstanceUID == uid


def test_file_meta_keeps_the_original_class_and_instance_when_the_dataset_lacks_them():
    original = FileMetaDataset()
    original.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"
    original.MediaStorageSOPInstanceUID = "1.2.826.0.1.3680043.99.20"
    original.TransferSyntaxUID = "1.2.840.10008.1.2"
    bare = Dataset()
    mapped = rebuilt_file_meta(bare, original, DeidPolicy(TEST_KEY))
    assert mapped.MediaStorageSOPClassUID == "1.2.840.10008.5.1.4.1.1.7"
    assert mapped.MediaStorageSOPInstanceUID == TEST_KEY.uid("1.2.826.0.1.3680043.99.20")
    assert mapped.TransferSyntaxUID == "1.2.840.10008.1.2"
    assert mapped.FileMetaInformationVersion == b"\x00\x01"
    kept = rebuilt_file_meta(bare, original, DeidPolicy(TEST_KEY, retain_uids=True))
    assert kept.MediaStorageSOPInstanceUID == "1.2.826.0.1.3680043.99.20"
    empty = rebuilt_file_meta(bare, FileMetaDataset(), DeidPolicy(TEST_KEY))
    assert "MediaStorageSOPInstanceUID" not in empty and "TransferSyntaxUID" not in empty


def test_tags_parse_in_every_written_form():
    assert parse_tag("(0029,1010)") == parse_tag("00291010") == parse_tag(" (0029, 1010) ")
    assert parse_tag("(0029,1010)") == 0x00291010


def test_policy_from_the_profile_section():
    settings = DeidSettings(
        date_shift_max_days=30,
        dates="full",
        retain_patient_characteristics=True,
        retain_device_identity=True,
        retain_uids=True,
        keep_private_tags=["(0029,1010)", "00191001"],
    )
    policy = policy_from_settings(settings, TEST_KEY)
    assert policy == DeidPolicy(
        TEST_KEY, 30, frozenset({0x00291010, 0x00191001}), "full", True, True, True
    )


def test_repeating_groups_and_unreadable_elements_are_removed():
    ds = instance(PatientID="P1")
    ds.add_new(0x60003000, "OW", b"\0\0")  # Overlay Data
    ds.add_new(0x501E0010, "US", 1)  # curve group 501E
    report = deidentify(ds, DeidPolicy(TEST_KEY))
    assert [t for t in list(ds.keys()) if t >> 24 in (0x50, 0x60)] == []
    assert report.had_overlays and report.had_curves and report.removed == 2
    assert action_for(0x60003000) == action_for(0x60223000) == "X"
    assert action_for(0x60003001) is None
