"""Header reading and integrity checks, file by file, without Spark."""

import io

import pydicom
import pytest

from medspark.dicom.read import read_header, reject_if_not_instance
from medspark.dicom.reasons import Reason, Rejection
from medspark.dicom.sniff import ContentKind, sniff
from tests.conftest import pydicom_file


def parse(data: bytes):
    return read_header(io.BytesIO(data), len(data), sniff(data[:132]))


def rejection_reason(data: bytes) -> Reason:
    with pytest.raises(Rejection) as caught:
        parsed = parse(data)
        reject_if_not_instance(parsed.dataset)
    return caught.value.reason


def test_reads_header_and_locates_native_pixel_data():
    data = pydicom_file("CT_small.dcm").read_bytes()
    parsed = parse(data)
    reference = pydicom.dcmread(io.BytesIO(data))
    assert parsed.dataset.SOPInstanceUID == reference.SOPInstanceUID
    assert "PixelData" not in parsed.dataset
    assert parsed.transfer_syntax_uid == reference.file_meta.TransferSyntaxUID
    info = parsed.pixel_data
    assert info is not None and not info.encapsulated
    assert info.length == len(reference.PixelData)
    assert data[info.value_offset : info.value_offset + info.length] == reference.PixelData


def test_encapsulated_pixel_data_is_recognised():
    parsed = parse(pydicom_file("JPEG2000.dcm").read_bytes())
    assert parsed.pixel_data.encapsulated and parsed.pixel_data.length is None


def test_non_image_instances_have_no_pixel_data():
    for name in ("rtplan.dcm", "test-SR.dcm", "reportsi.dcm"):
        parsed = parse(pydicom_file(name).read_bytes())
        reject_if_not_instance(parsed.dataset)
        assert parsed.pixel_data is None


def test_pydicom_truncated_files_are_rejected_as_truncated():
    assert rejection_reason(pydicom_file("MR_truncated.dcm").read_bytes()) == Reason.TRUNCATED
    assert rejection_reason(pydicom_file("rtplan_truncated.dcm").read_bytes()) == Reason.TRUNCATED


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9, 0.999])
def test_files_cut_anywhere_are_truncated_or_not_instances(keep):
    data = pydicom_file("CT_small.dcm").read_bytes()
    cut = data[: int(len(data) * keep)]
    assert rejection_reason(cut) in (Reason.TRUNCATED, Reason.MISSING_SOP_INSTANCE_UID)


def test_encapsulated_file_cut_inside_pixel_data_is_truncated():
    data = pydicom_file("JPEG2000.dcm").read_bytes()
    assert rejection_reason(data[:-40]) == Reason.TRUNCATED


def test_part10_without_preamble_is_read():
    data = pydicom_file("CT_small.dcm").read_bytes()[128:]
    assert data[:4] == b"DICM"
    parsed = parse(data)
    assert parsed.dataset.Modality == "CT"
    assert parsed.pixel_data is not None and parsed.pixel_data.length == 32768


def test_datasets_without_file_meta_get_an_inferred_transfer_syntax():
    little = parse(pydicom_file("ExplVR_LitEndNoMeta.dcm").read_bytes())
    big = parse(pydicom_file("ExplVR_BigEndNoMeta.dcm").read_bytes())
    implicit = parse(pydicom_file("rtstruct.dcm").read_bytes())
    assert little.transfer_syntax_inferred and little.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert big.transfer_syntax_uid == "1.2.840.10008.1.2.2"
    assert implicit.transfer_syntax_uid == "1.2.840.10008.1.2"
    assert not parse(pydicom_file("CT_small.dcm").read_bytes()).transfer_syntax_inferred


def test_dicomdir_and_missing_sop_uid_are_not_instances():
    dicomdir = pydicom_file("dicomdirtests/DICOMDIR").read_bytes()
    assert rejection_reason(dicomdir) == Reason.DICOMDIR
    no_uid = pydicom_file("meta_missing_tsyntax.dcm").read_bytes()
    assert rejection_reason(no_uid) == Reason.MISSING_SOP_INSTANCE_UID


def test_deflated_transfer_syntax_reports_pixel_data():
    parsed = parse(pydicom_file("image_dfl.dcm").read_bytes())
    assert parsed.transfer_syntax_uid == "1.2.840.10008.1.2.1.99"
    assert parsed.pixel_data is not None


def test_random_bytes_after_a_dicm_prefix_are_rejected():
    data = b"\0" * 128 + b"DICM" + bytes(range(256)) * 4
    assert rejection_reason(data) in (
        Reason.HEADER_PARSE_ERROR,
        Reason.TRUNCATED,
        Reason.NOT_DICOM,
        Reason.MISSING_SOP_INSTANCE_UID,
    )


def test_kind_is_taken_from_content():
    assert sniff(pydicom_file("CT_small.dcm").read_bytes()[:132]) is ContentKind.DICOM_PART10
