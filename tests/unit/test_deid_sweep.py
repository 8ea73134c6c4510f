"""Every attribute of the PS3.15 action table, and every UID attribute of the dictionary,
planted with a value and checked after de-identification against what the table says.

The expected outcome comes from the action table as `dicom-anonymizer` publishes it, read here
directly, not through medspark's own dispatch.
"""

from __future__ import annotations

import pydicom.datadict as dd
import pytest
from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as table
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import UID_dictionary

from medspark.dicom.deid import DeidPolicy, deidentify
from tests.conftest import TEST_KEY

_LISTS = {
    "D_TAGS": "D", "Z_TAGS": "Z", "X_TAGS": "X", "U_TAGS": "U", "Z_D_TAGS": "Z/D",
    "X_Z_TAGS": "X/Z", "X_D_TAGS": "X/D", "X_Z_D_TAGS": "X/Z/D", "X_Z_U_STAR_TAGS": "X/Z/U*",
}  # fmt: skip
# A sequence the profile does not name: its items are cleaned like the top level.
CONTAINER = "AnatomicRegionSequence"
PATIENT_ID = 0x00100020
BIRTH_DATE = 0x00100030


def table_actions() -> dict[int, str]:
    actions = {}
    for name, action in _LISTS.items():
        for entry in getattr(table, name):
            if len(entry) == 2:
                actions[entry[0] << 16 | entry[1]] = action
    return actions


def planted_value(tag: int, vr: str, number: int):
    text = f"PHI{number:04d}"
    if vr in ("LO", "LT", "SH", "ST", "UC", "UT", "AE", "CS"):
        return text
    if vr == "PN":
        return f"PHI^N{number:04d}"
    if vr == "UI":
        return f"1.2.826.0.1.3680043.99.{number}"
    if vr == "UR":
        return f"http://phi.example/{number}"
    return {
        "DA": "19700102", "DT": "19700102120000", "TM": "120000", "DS": "42.5", "IS": "42",
        "AS": "042Y", "US": 42, "SS": 42, "UL": 42, "SL": 42, "FL": 4.25, "FD": 4.25,
    }.get(vr, text.encode())  # fmt: skip


def sweep_dataset(actions: dict[int, str]) -> tuple[Dataset, dict[int, tuple[str, object]]]:
    """A dataset holding every tabled attribute the dictionary knows, at the top level."""
    ds = Dataset()
    planted = {}
    for number, tag in enumerate(sorted(actions)):
        if not dd.dictionary_has_tag(tag):
            continue
        vr = dd.dictionary_VR(tag).split(" or ")[0]
        if vr == "SQ":
            item = Dataset()
            item.PersonName = f"PHI^SQ{number:04d}"
            ds.add_new(tag, "SQ", Sequence([item]))
            planted[tag] = (vr, item.PersonName)
            continue
        value = planted_value(tag, vr, number)
        ds.add_new(tag, vr, value)
        planted[tag] = (vr, value)
    ds.SOPInstanceUID = ds.get("SOPInstanceUID") or "1.2.826.0.1.3680043.99.1"
    return ds, planted


def outcome(ds: Dataset, tag: int, vr: str, planted) -> str:
    if tag not in ds:
        return "removed"
    value = ds[tag].value
    if vr == "SQ":
        if len(value) == 0:
            return "emptied"
        return "kept" if value[0].get("PersonName") == planted else "cleaned"
    if value is None or value == "" or value == b"":
        return "emptied"
    return "kept" if value == planted else "replaced"


def expected(tag: int, vr: str, action: str) -> set[str]:
    if tag == PATIENT_ID:
        return {"replaced"}
    if tag == BIRTH_DATE:
        return {"emptied"}
    if vr == "SQ" and action.endswith("U*"):  # kept, its items cleaned (UIDs replaced)
        return {"cleaned"}
    if vr in ("DA", "DT") and action != "X":  # the Modified Dates option keeps them, shifted
        return {"replaced"}
    if action.startswith("X"):
        return {"removed"}
    if action.startswith("Z"):
        return {"emptied"}
    if action == "U":
        return {"replaced"}
    if vr == "SQ":  # D on a sequence: no dummy items exist, so it goes
        return {"removed"}
    if vr in ("LO", "LT", "SH", "ST", "UC", "UT", "PN", "AE", "CS", "DS", "IS", "TM", "AS"):
        return {"replaced"}
    return {"replaced", "emptied"}


@pytest.mark.parametrize("nested", [False, True], ids=["top level", "inside a sequence"])
def test_every_tabled_attribute_gets_exactly_its_action(nested):
    actions = table_actions()
    assert len(actions) > 600
    body, planted = sweep_dataset(actions)
    if nested:
        ds = Dataset()
        ds.SOPInstanceUID = "1.2.826.0.1.3680043.99.2"
        ds.AnatomicRegionSequence = Sequence([body])
        target = lambda cleaned: cleaned.AnatomicRegionSequence[0]  # noqa: E731
    else:
        ds = body
        target = lambda cleaned: cleaned  # noqa: E731
    deidentify(ds, DeidPolicy(TEST_KEY))
    cleaned = target(ds)
    wrong = {}
    for tag, (vr, value) in planted.items():
        got = outcome(cleaned, tag, vr, value)
        if nested and tag == PATIENT_ID:
            continue  # only the top-level Patient ID becomes the pseudonym
        if got not in expected(tag, vr, actions[tag]):
            wrong[f"{dd.keyword_for_tag(tag)} {actions[tag]} {vr}"] = got
    assert wrong == {}
    assert len(planted) > 600
    if not nested:
        assert cleaned.PatientID == TEST_KEY.identifier(planted[PATIENT_ID][1], "patient")


def test_clinical_trial_subject_id_is_replaced_by_a_dummy():
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.99.3"
    ds.ClinicalTrialSubjectID = "SUBJ-Jane-Doe-0042"
    deidentify(ds, DeidPolicy(TEST_KEY))
    assert ds.ClinicalTrialSubjectID not in ("", None, "SUBJ-Jane-Doe-0042")


# UID attributes that name a definition (a class, a syntax, a coding scheme, a template),
# never an instance or a patient: the only ones whose planted value may survive.
DEFINITIONS = {
    "AffectedSOPClassUID", "RequestedSOPClassUID", "MediaStorageSOPClassUID",
    "TransferSyntaxUID", "ImplementationClassUID", "RTVCommunicationSOPClassUID",
    "PrivateInformationCreatorUID", "ReferencedSOPClassUIDInFile",
    "ReferencedTransferSyntaxUIDInFile", "ReferencedRelatedGeneralSOPClassUIDInFile",
    "SOPClassUID", "RelatedGeneralSOPClassUID", "OriginalSpecializedSOPClassUID",
    "SOPClassesInStudy", "CodingSchemeUID", "ContextGroupExtensionCreatorUID", "ContextUID",
    "MappingResourceUID", "StoredInstanceTransferSyntaxUID", "ReferencedSOPClassUID",
    "SOPClassesSupported", "AvailableTransferSyntaxUID", "CreatorVersionUID",
    "FlowTransferSyntaxUID", "MACCalculationTransferSyntaxUID",
    "EncryptedContentTransferSyntaxUID", "SegmentationTemplateUID",
    "PertinentSOPClassesInStudy", "PertinentSOPClassesInSeries",
}  # fmt: skip


def ui_attributes() -> list[tuple[int, str]]:
    return sorted(
        (tag, entry[4])
        for tag, entry in dd.DicomDictionary.items()
        if entry[0] == "UI" and entry[4] and tag >> 16 != 0x0002
    )


def test_no_instance_uid_attribute_of_the_dictionary_keeps_its_value():
    attributes = ui_attributes()
    assert len(attributes) > 100
    ds = Dataset()
    planted = {}
    for number, (tag, keyword) in enumerate(attributes):
        value = f"1.2.826.0.1.3680043.98.{number}"
        ds.add_new(tag, "UI", value)
        planted[keyword] = value
    deidentify(ds, DeidPolicy(TEST_KEY))
    kept = {kw for kw, value in planted.items() if value in str(ds.get(kw, "") or "")}
    in_file_meta = {kw for kw in DEFINITIONS if dd.tag_for_keyword(kw) >> 16 == 0x0002}
    assert kept == DEFINITIONS - in_file_meta


def test_registered_uids_are_never_replaced():
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.99.4"
    ds.ReferencedColorPaletteInstanceUID = "1.2.840.10008.1.5.1"  # Hot Iron, a standard palette
    assert ds.ReferencedColorPaletteInstanceUID in UID_dictionary
    deidentify(ds, DeidPolicy(TEST_KEY))
    assert ds.ReferencedColorPaletteInstanceUID == "1.2.840.10008.1.5.1"


def test_unnamed_free_text_unknown_attributes_and_overlays_are_removed():
    ds = Dataset()
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.99.5"
    ds.DocumentTitle = "title"
    ds.TextValue = "text"
    ds.Manufacturer = "Acme"  # named by no table row, but coded device data: kept
    ds.add_new(0x44440010, "LO", "unknown")
    ds.add_new(0x60000022, "LO", "overlay description")
    ds.add_new(0x60021500, "LO", "overlay label")
    ds.add_new(0x50000005, "US", 2)
    report = deidentify(ds, DeidPolicy(TEST_KEY))
    assert "DocumentTitle" not in ds and "TextValue" not in ds
    assert ds.Manufacturer == "Acme"
    assert [t for t in list(ds.keys()) if t >> 16 in (0x4444, 0x6000, 0x6002, 0x5000)] == []
    assert report.had_overlays and report.had_curves


def test_file_meta_is_rebuilt_with_only_what_the_standard_requires():
    from pydicom.dataset import FileMetaDataset

    ds = Dataset()
    ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    ds.SOPInstanceUID = "1.2.826.0.1.3680043.99.6"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.1"
    ds.file_meta.SourceApplicationEntityTitle = "HOSPITAL_PACS"
    ds.file_meta.PrivateInformationCreatorUID = "1.2.826.0.1.3680043.99.7"
    ds.file_meta.PrivateInformation = b"secret"
    ds.file_meta.ImplementationVersionName = "HOSPITAL_1"
    deidentify(ds, DeidPolicy(TEST_KEY))
    assert sorted(ds.file_meta.dir()) == [
        "FileMetaInformationVersion", "ImplementationClassUID", "ImplementationVersionName",
        "MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID", "TransferSyntaxUID",
    ]  # fmt: skip
    assert (
        ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID != ("1.2.826.0.1.3680043.99.6")
    )
    assert ds.file_meta.ImplementationVersionName == "MEDSPARK_0_1"
