from medspark.dicom.sniff import ContentKind, sniff
from tests.conftest import pydicom_file


def head(name: str) -> bytes:
    return pydicom_file(name).read_bytes()[:132]


def test_part10_file_with_preamble():
    assert sniff(head("CT_small.dcm")) == ContentKind.DICOM_PART10


def test_magic_at_offset_zero_is_part10():
    body = pydicom_file("CT_small.dcm").read_bytes()[128:]
    assert sniff(body[:132]) == ContentKind.DICOM_PART10


def test_raw_datasets_in_either_byte_order():
    assert sniff(head("ExplVR_LitEndNoMeta.dcm")) == ContentKind.DICOM_RAW
    assert sniff(head("ExplVR_BigEndNoMeta.dcm")) == ContentKind.DICOM_RAW
    assert sniff(head("rtstruct.dcm")) == ContentKind.DICOM_RAW


def test_archives_empty_and_junk():
    assert sniff(b"") == ContentKind.EMPTY
    assert sniff(head("zipMR.gz")) == ContentKind.GZIP
    assert sniff(b"PK\x03\x04" + b"\0" * 40) == ContentKind.ZIP
    assert sniff(head("README.txt")) == ContentKind.OTHER
    assert sniff(head("crayons.icc")) == ContentKind.OTHER
    assert sniff(b'{"00080005": {}}') == ContentKind.OTHER
