"""De-identification of a dataset, in place, before any column or JSON is derived from it.

Actions follow DICOM PS3.15 Annex E, Basic Application Level Confidentiality Profile, as
tabulated (release 2026c) by the `dicom-anonymizer` package, with these options applied:
keyed pseudonyms for the patient ID and every UID the table marks U (Retain UIDs is off), and
Retain Longitudinal Temporal Information with Modified Dates: every date is shifted by a
per-patient offset derived from the key.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.resources import files

import yaml
from pydicom.datadict import get_entry, keyword_for_tag
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.tag import BaseTag
from pydicom.uid import UID, UID_dictionary

from medspark.dicom.keys import PseudonymKey

PROFILE_NAME = "DICOM PS3.15 Annex E Basic Application Level Confidentiality Profile"
ACTION_TABLE_SOURCE = "dicom-anonymizer, dicomfields_2026c (DICOM standard release 2026c)"
METHOD = f"medspark: {PROFILE_NAME}; keyed pseudonyms; dates shifted per patient"

_PATIENT_ID = 0x00100020
_PATIENT_BIRTH_DATE = 0x00100030
_DUMMY = {
    "PN": "ANONYMIZED",
    "DS": "0",
    "IS": "0",
    "TM": "000000",
    "AS": "000D",
    "DA": "19000101",
    "DT": "19000101000000",
}
_TEXT_VRS = frozenset(("AE", "CS", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"))
# The safe default for attributes the profile's table does not name: free text and person
# names are removed, attributes the standard dictionary does not know are removed, and
# UIDs are replaced unless they name a definition (a class, a transfer syntax, a coding
# scheme, a template) rather than an instance.
_FREE_TEXT_VRS = frozenset(("LT", "ST", "UT", "UC", "PN"))
_DEFINITION_UID = re.compile(
    r"(SOPClass|TransferSyntax|CodingSchemeUID$|^ContextUID$|ContextGroupExtensionCreatorUID$"
    r"|MappingResourceUID$|TemplateUID$|^ImplementationClassUID$|^PrivateInformationCreatorUID$"
    r"|^CreatorVersionUID$)"
)
# medspark's own implementation class UID (a 2.25 UID derived from a fixed UUID).
IMPLEMENTATION_CLASS_UID = "2.25.256935508560803762355563958192052261990"
IMPLEMENTATION_VERSION_NAME = "MEDSPARK_0_1"


@dataclass(frozen=True)
class _MaskedRule:
    group: int
    element: int
    group_mask: int
    element_mask: int
    action: str

    def matches(self, tag: int) -> bool:
        return ((tag >> 16) & self.group_mask) == self.group and (
            tag & 0xFFFF & self.element_mask
        ) == self.element


@cache
def action_table() -> tuple[dict[int, str], tuple[_MaskedRule, ...]]:
    """The Basic Profile actions by tag, and the rules for repeating groups (curves, overlays)."""
    from dicomanonymizer.dicom_anonymization_databases import dicomfields_2026c as table

    exact: dict[int, str] = {}
    masked: list[_MaskedRule] = []
    for name, action in (
        ("D_TAGS", "D"),
        ("Z_TAGS", "Z"),
        ("X_TAGS", "X"),
        ("U_TAGS", "U"),
        ("Z_D_TAGS", "Z/D"),
        ("X_Z_TAGS", "X/Z"),
        ("X_D_TAGS", "X/D"),
        ("X_Z_D_TAGS", "X/Z/D"),
        ("X_Z_U_STAR_TAGS", "X/Z/U*"),
    ):
        for entry in getattr(table, name):
            if len(entry) == 2:
                exact[entry[0] << 16 | entry[1]] = action
            else:
                masked.append(_MaskedRule(entry[0], entry[1], entry[2], entry[3], action))
    return exact, tuple(masked)


def default_action(tag: int, vr: str, value: object = None) -> str | None:
    """medspark's action for an attribute the profile's table does not name (None: keep).

    Unknown public attributes, free text and person names are removed ("X"); UIDs that can
    name an instance are replaced ("U"); coded, numeric and short string values are kept.
    """
    try:
        get_entry(tag)
    except KeyError:
        return "X"
    if vr == "UI":
        if _DEFINITION_UID.search(keyword_for_tag(tag) or ""):
            return None
        values = [value] if isinstance(value, str) or value is None else list(value)  # type: ignore[call-overload]
        if all(str(v) in UID_dictionary for v in values if v):
            return None
        return "U"
    if vr in _FREE_TEXT_VRS:
        return "X"
    return None


def action_for(tag: int) -> str | None:
    """The profile's action code for a tag, or None when the profile keeps it."""
    exact, masked = action_table()
    if tag in exact:
        return exact[tag]
    for rule in masked:
        if rule.matches(tag):
            return rule.action
    return None


@dataclass
class DeidReport:
    """What de-identification did to one dataset, for the tables and the audit."""

    patient_pseudonym: str | None = None
    date_shift_days: int = 0
    private_removed: int = 0
    removed: int = 0
    emptied: int = 0
    replaced: int = 0
    uids_replaced: int = 0
    dates_shifted: int = 0
    unreadable_removed: int = 0
    had_overlays: bool = False
    had_curves: bool = False
    kept_private: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DeidPolicy:
    """The options a run de-identifies with.

    `dates`: "shift" (Retain Longitudinal Temporal Information with Modified Dates), "full"
    (... with Full Dates) or "remove" (the Basic Profile's own actions).
    """

    key: PseudonymKey
    date_shift_max_days: int = 365
    keep_private_tags: frozenset[int] = frozenset()
    dates: str = "shift"
    retain_patient_characteristics: bool = False
    retain_device_identity: bool = False
    retain_uids: bool = False

    @cached_property
    def kept_tags(self) -> frozenset[int]:
        kept: set[int] = set()
        options = option_tables()
        if self.retain_patient_characteristics:
            kept |= options["retain_patient_characteristics"]
        if self.retain_device_identity:
            kept |= options["retain_device_identity"]
        return frozenset(kept)

    def method_codes(self) -> list[Code]:
        """The CID 7050 codes for the profile and each option in force."""
        chosen = [codes.DCM.BasicApplicationConfidentialityProfile]
        if self.dates == "shift":
            chosen.append(codes.DCM.RetainLongitudinalTemporalInformationModifiedDatesOption)
        elif self.dates == "full":
            chosen.append(codes.DCM.RetainLongitudinalTemporalInformationFullDatesOption)
        if self.retain_patient_characteristics:
            chosen.append(codes.DCM.RetainPatientCharacteristicsOption)
        if self.retain_device_identity:
            chosen.append(codes.DCM.RetainDeviceIdentityOption)
        if self.retain_uids:
            chosen.append(codes.DCM.RetainUidsOption)
        if self.keep_private_tags:
            chosen.append(codes.DCM.RetainSafePrivateOption)
        return chosen


def policy_from_settings(deid, key: PseudonymKey) -> DeidPolicy:
    """The policy a profile's `deid:` section describes (a config.DeidSettings)."""
    return DeidPolicy(
        key=key,
        date_shift_max_days=deid.date_shift_max_days,
        keep_private_tags=frozenset(parse_tag(t) for t in deid.keep_private_tags),
        dates=deid.dates,
        retain_patient_characteristics=deid.retain_patient_characteristics,
        retain_device_identity=deid.retain_device_identity,
        retain_uids=deid.retain_uids,
    )


@cache
def option_tables() -> dict[str, frozenset[int]]:
    """Tags each retention option keeps, from the shipped deid_options.yaml."""
    raw = yaml.safe_load(files("medspark.dicom").joinpath("deid_options.yaml").read_text())
    return {option: frozenset(parse_tag(tag) for tag in tags) for option, tags in raw.items()}


def parse_tag(text: str) -> int:
    """ "(gggg,eeee)" or "ggggeeee" to an integer tag."""
    digits = text.strip().strip("()").replace(",", "").replace(" ", "")
    return int(digits, 16)


def deidentify(dataset: Dataset, policy: DeidPolicy) -> DeidReport:
    """Apply the profile to `dataset` and its file meta in place; return what was done."""
    report = DeidReport()
    raw_patient_id = str(dataset.get("PatientID", "") or "")
    report.patient_pseudonym = (
        policy.key.identifier(raw_patient_id, "patient") if raw_patient_id else None
    )
    patient_key = raw_patient_id or str(dataset.get("StudyInstanceUID", "") or "")
    if policy.dates == "shift":
        report.date_shift_days = policy.key.date_shift_days(patient_key, policy.date_shift_max_days)

    _clean(dataset, policy, report)
    if report.patient_pseudonym is not None:
        dataset.PatientID = report.patient_pseudonym
    meta = getattr(dataset, "file_meta", None)
    if meta is not None:
        dataset.file_meta = rebuilt_file_meta(dataset, meta, policy)
    dataset.PatientIdentityRemoved = "YES"
    dataset.DeidentificationMethod = METHOD[:64]
    method_items = []
    for code in policy.method_codes():
        item = Dataset()
        item.CodeValue, item.CodingSchemeDesignator = code.value, code.scheme_designator
        item.CodeMeaning = code.meaning
        method_items.append(item)
    dataset.DeidentificationMethodCodeSequence = Sequence(method_items)
    dataset.LongitudinalTemporalInformationModified = {
        "shift": "MODIFIED" if report.date_shift_days else "UNMODIFIED",
        "full": "UNMODIFIED",
        "remove": "REMOVED",
    }[policy.dates]
    return report


def _uid_text(value) -> str | None:
    """A UID element's value as text when it is one (a lying header may give bytes, a number
    or several values), else None."""
    if isinstance(value, str) and value.strip() and len(value) <= 64:
        return value.strip()
    return None


def rebuilt_file_meta(
    dataset: Dataset, original: FileMetaDataset, policy: DeidPolicy
) -> FileMetaDataset:
    """File meta made anew with only what PS3.10 requires: nothing of the original's optional
    elements (AE titles, private information, source application) is carried over."""
    meta = FileMetaDataset()
    meta.FileMetaInformationVersion = b"\x00\x01"
    sop_class = _uid_text(dataset.get("SOPClassUID")) or _uid_text(
        original.get("MediaStorageSOPClassUID")
    )
    if sop_class:
        meta.MediaStorageSOPClassUID = UID(sop_class)
    instance: str | None = dataset.get("SOPInstanceUID")
    if not instance and original.get("MediaStorageSOPInstanceUID"):
        instance = str(original.MediaStorageSOPInstanceUID)
        if not policy.retain_uids:
            instance = str(policy.key.uid(instance))
    if instance:
        meta.MediaStorageSOPInstanceUID = UID(instance)
    if original.get("TransferSyntaxUID"):
        meta.TransferSyntaxUID = original.TransferSyntaxUID
    meta.ImplementationClassUID = UID(IMPLEMENTATION_CLASS_UID)
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION_NAME
    return meta


def _clean(dataset: Dataset, policy: DeidPolicy, report: DeidReport) -> None:
    for tag in list(dataset.keys()):
        tag_int = int(tag)
        group = tag_int >> 16
        if group & 0xFF00 in (0x6000, 0x5000):
            if group & 0xFF00 == 0x6000:
                report.had_overlays = True
            else:
                report.had_curves = True
            del dataset[tag]
            report.removed += 1
            continue
        if BaseTag(tag_int).is_private:
            if tag_int in policy.keep_private_tags:
                report.kept_private.append(f"({group:04X},{tag_int & 0xFFFF:04X})")
                continue
            del dataset[tag]
            report.private_removed += 1
            continue
        try:
            element = dataset[tag]
        except Exception:
            del dataset[tag]
            report.unreadable_removed += 1
            continue
        _apply(dataset, element, action_for(tag_int), policy, report)


def _apply(
    dataset: Dataset,
    element: DataElement,
    action: str | None,
    policy: DeidPolicy,
    report: DeidReport,
) -> None:
    vr = element.VR
    if element.tag == _PATIENT_ID:
        return  # replaced by the keyed pseudonym once the walk is done
    if int(element.tag) in policy.kept_tags or (policy.retain_uids and vr == "UI"):
        return
    if element.tag == _PATIENT_BIRTH_DATE:
        element.value = None
        report.emptied += 1
        return
    if action is None:
        action = default_action(int(element.tag), vr, element.value)
    if vr == "SQ":
        if action is None or action.endswith("U*"):
            for item in element.value or ():
                _clean(item, policy, report)
            return
        if action in ("Z", "Z/D"):
            element.value = Sequence()
            report.emptied += 1
            return
        del dataset[element.tag]
        report.removed += 1
        return
    if vr in ("DA", "DT") and action != "X" and policy.dates != "remove":
        if policy.dates == "shift" and _shift_dates(element, report.date_shift_days):
            report.dates_shifted += 1
        return
    if action is None:
        return
    if vr == "UI" and ("U" in action or action == "D"):
        element.value = _map_values(element.value, policy.key.uid)
        report.uids_replaced += 1
        return
    if action.startswith("X"):
        del dataset[element.tag]
        report.removed += 1
    elif action.startswith("Z"):
        element.value = None
        report.emptied += 1
    elif action in ("D", "C"):
        _replace_with_dummy(element)
        report.replaced += 1
    elif action == "U":  # a non-UI element the table marks U: keep nothing identifying
        element.value = None
        report.emptied += 1


def _map_values(value: object, mapper) -> object:
    if value is None or value == "":
        return value
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
        return [mapper(str(item)) for item in value]
    return mapper(str(value))


def _replace_with_dummy(element: DataElement) -> None:
    vr = element.VR
    if vr in _DUMMY:
        element.value = _DUMMY[vr]
    elif vr in _TEXT_VRS:
        element.value = "ANONYMIZED"
    else:
        element.value = None


def _shift_dates(element: DataElement, days: int) -> bool:
    """Shift every value of a DA or DT element; values that do not parse are emptied."""
    if not element.value or days == 0:
        return False
    values = [element.value] if isinstance(element.value, str) else list(element.value)
    shifted = [_shift_one(str(value), element.VR, days) for value in values]
    element.value = shifted if len(shifted) > 1 else shifted[0]
    return True


def _shift_one(text: str, vr: str, days: int) -> str:
    text = text.strip()
    try:
        day = dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return ""
    moved = (day + dt.timedelta(days=days)).strftime("%Y%m%d")
    return moved if vr == "DA" else moved + text[8:]
