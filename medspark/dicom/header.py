"""A de-identified dataset to the typed columns of the metadata table and its DICOM JSON."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable
from typing import Any

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID

_MAX_COLUMN_TEXT = 1024  # every typed text column is far shorter by its VR


def _text(dataset: Dataset, keyword: str) -> str | None:
    try:
        value = dataset.get(keyword)
    except Exception:
        return None
    if value is None or isinstance(value, bytes):
        return None
    if isinstance(value, MultiValue):
        value = "\\".join(str(item) for item in value)
    text = str(value).strip()
    return text if text and len(text) <= _MAX_COLUMN_TEXT else None


_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_INT32_COLUMNS = frozenset(("Rows", "Columns", "NumberOfFrames", "SamplesPerPixel",
                            "BitsAllocated", "BitsStored", "PixelRepresentation"))  # fmt: skip


def _first_number(dataset: Dataset, keyword: str, kind: Callable[[Any], Any]) -> Any:
    """The first value as `kind`; None when absent, unparseable or outside the column's type."""
    try:
        value = dataset.get(keyword)
        if value is None or value == "":
            return None
        if isinstance(value, MultiValue):
            value = value[0] if len(value) else None
        number = None if value is None or value == "" else kind(value)
    except Exception:
        return None
    if isinstance(number, int):
        low, high = _INT32 if keyword in _INT32_COLUMNS else _INT64
        return number if low <= number <= high else None
    if isinstance(number, float) and not math.isfinite(number):
        return None
    return number


def _numbers(dataset: Dataset, keyword: str) -> list[float] | None:
    try:
        value = dataset.get(keyword)
        if value is None or value == "":
            return None
        items = value if isinstance(value, MultiValue) else [value]
        return [float(item) for item in items]
    except Exception:
        return None


def _date(dataset: Dataset, keyword: str) -> dt.date | None:
    text = _text(dataset, keyword)
    if not text:
        return None
    text = text.replace(".", "")  # the ACR-NEMA form YYYY.MM.DD still appears in old archives
    try:
        return dt.datetime.strptime(text[:8], "%Y%m%d").date()
    except ValueError:
        return None


def _age_years(dataset: Dataset) -> float | None:
    text = _text(dataset, "PatientAge")
    if not text or len(text) != 4 or not text[:3].isdigit():
        return None
    per_year = {"Y": 1.0, "M": 12.0, "W": 52.1775, "D": 365.25}.get(text[3].upper())
    return round(int(text[:3]) / per_year, 4) if per_year else None


def _sop_class_name(uid: str | None) -> str | None:
    if not uid:
        return None
    name = UID(uid).name
    return None if name == uid else name


def header_row(dataset: Dataset) -> dict[str, Any]:
    """The typed metadata columns for one (already de-identified) dataset."""
    sop_class_uid = _text(dataset, "SOPClassUID")
    return {
        "sop_instance_uid": _text(dataset, "SOPInstanceUID"),
        "sop_class_uid": sop_class_uid,
        "sop_class_name": _sop_class_name(sop_class_uid),
        "study_instance_uid": _text(dataset, "StudyInstanceUID"),
        "series_instance_uid": _text(dataset, "SeriesInstanceUID"),
        "frame_of_reference_uid": _text(dataset, "FrameOfReferenceUID"),
        "patient_id": _text(dataset, "PatientID"),
        "patient_sex": _text(dataset, "PatientSex"),
        "patient_age_years": _age_years(dataset),
        "modality": _text(dataset, "Modality"),
        "study_date": _date(dataset, "StudyDate"),
        "series_date": _date(dataset, "SeriesDate"),
        "content_date": _date(dataset, "ContentDate"),
        "body_part_examined": _text(dataset, "BodyPartExamined"),
        "manufacturer": _text(dataset, "Manufacturer"),
        "manufacturer_model_name": _text(dataset, "ManufacturerModelName"),
        "series_number": _first_number(dataset, "SeriesNumber", int),
        "instance_number": _first_number(dataset, "InstanceNumber", int),
        "rows": _first_number(dataset, "Rows", int),
        "columns": _first_number(dataset, "Columns", int),
        "number_of_frames": _first_number(dataset, "NumberOfFrames", int),
        "samples_per_pixel": _first_number(dataset, "SamplesPerPixel", int),
        "bits_allocated": _first_number(dataset, "BitsAllocated", int),
        "bits_stored": _first_number(dataset, "BitsStored", int),
        "pixel_representation": _first_number(dataset, "PixelRepresentation", int),
        "photometric_interpretation": _text(dataset, "PhotometricInterpretation"),
        "pixel_spacing": _numbers(dataset, "PixelSpacing"),
        "slice_thickness": _first_number(dataset, "SliceThickness", float),
        "image_position_patient": _numbers(dataset, "ImagePositionPatient"),
        "image_orientation_patient": _numbers(dataset, "ImageOrientationPatient"),
        "rescale_slope": _first_number(dataset, "RescaleSlope", float),
        "rescale_intercept": _first_number(dataset, "RescaleIntercept", float),
        "window_center": _first_number(dataset, "WindowCenter", float),
        "window_width": _first_number(dataset, "WindowWidth", float),
        "burned_in_annotation": _text(dataset, "BurnedInAnnotation"),
        "specific_character_set": _text(dataset, "SpecificCharacterSet"),
    }


TagPath = tuple[int, ...]  # tag, item index, tag, item index, ..., tag
_BINARY_VRS = frozenset(("OB", "OD", "OF", "OL", "OV", "OW", "UN"))


def _value_length(value: Any) -> int:
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, MultiValue | list | tuple):
        return sum(len(str(item)) + 1 for item in value)
    return len(str(value)) if value is not None else 0


def bound_values(dataset: Dataset, limit: int, _path: TagPath = ()) -> list[TagPath]:
    """Empty every non-binary value longer than `limit` characters, at any depth.

    Returns where each one was, so the JSON can name them; binary values are bounded by the
    JSON's bulk-data threshold instead.
    """
    emptied: list[TagPath] = []
    for tag in list(dataset.keys()):
        try:
            element = dataset[tag]
        except Exception:
            continue  # an unparseable value: the JSON step leaves it out
        path = (*_path, int(element.tag))
        if element.VR == "SQ":
            for index, item in enumerate(element.value or ()):
                emptied += bound_values(item, limit, (*path, index))
        elif element.VR not in _BINARY_VRS and _value_length(element.value) > limit:
            element.value = None
            emptied.append(path)
    return emptied


def _mark_omitted(body: dict[str, Any], path: TagPath) -> None:
    node: Any = body
    for step, part in enumerate(path):
        if step % 2 == 0:
            key = f"{part:08X}"
            if step == len(path) - 1:
                vr = node.get(key, {}).get("vr", "UN")
                node[key] = {"vr": vr, "BulkDataURI": f"urn:medspark:omitted:{part:08X}"}
                return
            node = node[key]["Value"]
        else:
            node = node[part]


def header_json(
    dataset: Dataset, bulk_data_threshold: int, oversized: list[TagPath] | None = None
) -> str:
    """The whole header in the DICOM JSON model (PS3.18 Annex F), file meta included.

    Binary values longer than `bulk_data_threshold` bytes, and the values `bound_values`
    emptied (`oversized`), are left out and marked with a BulkDataURI naming the omission;
    pixel data is never read in the first place.
    """

    def omit(element: DataElement) -> str:
        return f"urn:medspark:omitted:{element.tag:08X}"

    body = dataset.to_json_dict(
        bulk_data_threshold=bulk_data_threshold,
        bulk_data_element_handler=omit,
        suppress_invalid_tags=True,
    )
    for path in oversized or ():
        _mark_omitted(body, path)
    meta = getattr(dataset, "file_meta", None)
    if meta is not None and len(meta):
        body.update(meta.to_json_dict(bulk_data_threshold, omit, suppress_invalid_tags=True))
    return json.dumps(dict(sorted(body.items())), ensure_ascii=False, separators=(",", ":"))
