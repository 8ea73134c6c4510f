"""Typed columns and DICOM JSON, checked against pydicom's own reading of every test file."""

import datetime as dt
import io
import json

import pydicom
import pytest
from pydicom.multival import MultiValue

from medspark.dicom.header import header_json, header_row
from medspark.dicom.read import read_header
from medspark.dicom.reasons import Rejection
from medspark.dicom.sniff import sniff
from medspark.schemas import METADATA
from tests.conftest import PYDICOM_CHARSET_FILES, PYDICOM_TEST_FILES, all_pydicom_files

# pydicom's files that are not instances to read, and the reason read_header gives for each;
# any other failure (or any other exception) fails the collection.
NOT_READABLE = {
    "MR_truncated.dcm": "truncated", "rtplan_truncated.dcm": "truncated",
    "README.txt": "not_dicom", "crayons.icc": "not_dicom", "dicomdirtests/README.txt": "not_dicom",
    "dicomdirtests/TINY_ALPHA/README": "not_dicom", "no_meta.dcm": "not_dicom",
    "rtplan.dump": "not_dicom", "rtstruct.dump": "not_dicom", "test1.json": "not_dicom",
    "test_PN.json": "not_dicom", "zipMR.gz": "not_dicom",
}  # fmt: skip


def readable_instances():
    rejected = {}
    for path in all_pydicom_files():
        data = path.read_bytes()
        try:
            parsed = read_header(io.BytesIO(data), len(data), sniff(data[:132]))
        except Rejection as rejection:
            rejected[path.relative_to(PYDICOM_TEST_FILES).as_posix()] = str(rejection.reason)
            continue
        if "SOPInstanceUID" in parsed.dataset:
            yield path, parsed
    assert rejected == NOT_READABLE


def reference(path):
    return pydicom.dcmread(path, stop_before_pixels=True, force=True)


def first(value):
    if isinstance(value, MultiValue):
        return value[0] if len(value) else None
    return value


def as_int(value):
    """pydicom's value as an int, or None when absent or not a valid number (badVR.dcm)."""
    try:
        return None if value in (None, "") else int(first(value))
    except ValueError:
        return None


INSTANCES = list(readable_instances())


def test_most_pydicom_files_are_readable_instances():
    assert len(INSTANCES) >= 140


@pytest.mark.parametrize("path,parsed", INSTANCES, ids=[p.name for p, _ in INSTANCES])
def test_columns_match_pydicom(path, parsed):
    row = header_row(parsed.dataset)
    ref = reference(path)
    assert set(row) <= set(METADATA.columns)
    assert row["sop_instance_uid"] == str(ref.SOPInstanceUID).strip()
    for column, keyword in [
        ("sop_class_uid", "SOPClassUID"),
        ("study_instance_uid", "StudyInstanceUID"),
        ("series_instance_uid", "SeriesInstanceUID"),
        ("modality", "Modality"),
        ("photometric_interpretation", "PhotometricInterpretation"),
        ("manufacturer", "Manufacturer"),
        ("body_part_examined", "BodyPartExamined"),
    ]:
        expected = str(ref.get(keyword, "") or "").strip() or None
        assert row[column] == expected, column
    for column, keyword in [
        ("rows", "Rows"),
        ("columns", "Columns"),
        ("bits_stored", "BitsStored"),
        ("number_of_frames", "NumberOfFrames"),
    ]:
        assert row[column] == as_int(ref.get(keyword)), column
    if ref.get("PixelSpacing"):
        assert row["pixel_spacing"] == [float(v) for v in ref.PixelSpacing]
    if ref.get("SliceThickness") not in (None, ""):
        assert row["slice_thickness"] == pytest.approx(float(ref.SliceThickness))
    study_date = str(ref.get("StudyDate", "") or "")
    if len(study_date) == 8 and study_date.isdigit():
        assert row["study_date"] == dt.datetime.strptime(study_date, "%Y%m%d").date()


def test_values_are_typed():
    _, parsed = next((p, x) for p, x in INSTANCES if p.name == "CT_small.dcm")
    row = header_row(parsed.dataset)
    assert isinstance(row["study_date"], dt.date)
    assert isinstance(row["rows"], int) and row["rows"] == 128
    assert row["pixel_spacing"] == [0.661468, 0.661468]
    assert row["rescale_intercept"] == -1024.0
    assert row["sop_class_name"] == "CT Image Storage"


def test_json_follows_the_dicom_json_model_and_omits_bulk_data():
    _, parsed = next((p, x) for p, x in INSTANCES if p.name == "examples_overlay.dcm")
    body = json.loads(header_json(parsed.dataset, bulk_data_threshold=64))
    assert body["00080060"] == {"vr": "CS", "Value": ["MR"]}
    assert "7FE00010" not in body
    overlay = body.get("60003000")
    assert overlay is not None and overlay["BulkDataURI"].startswith("urn:medspark:omitted")
    assert "00020010" in body  # file meta, so the transfer syntax travels with the header


@pytest.mark.parametrize(
    "name,keyword,expected",
    [
        ("chrRuss.dcm", "PatientName", "Люкceмбypг"),  # noqa: RUF001
        ("chrGreek.dcm", "PatientName", "Διονυσιος"),
        ("chrH31.dcm", "PatientName", "Yamada^Tarou=山田^太郎=やまだ^たろう"),
    ],
)
def test_character_sets_are_decoded(name, keyword, expected):
    data = (PYDICOM_CHARSET_FILES / name).read_bytes()
    parsed = read_header(io.BytesIO(data), len(data), sniff(data[:132]))
    body = json.loads(header_json(parsed.dataset, 1024))
    tag = f"{pydicom.datadict.tag_for_keyword(keyword):08X}"
    value = body[tag]["Value"][0]
    groups = ("Alphabetic", "Ideographic", "Phonetic")
    assert "=".join(value[g] for g in groups if value.get(g)) == expected
