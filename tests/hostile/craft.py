"""Hostile inputs made from pydicom's real test files: planted PHI, colliding names, bombs."""

from __future__ import annotations

import io
import os
import socket
import struct
import warnings
import zipfile
import zlib
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import (
    EncapsulatedPDFStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    RLELossless,
)

from medspark.dicom.pixels import DEFLATED_IMAGE_FRAME_COMPRESSION as DeflatedImageFrameCompression
from tests.conftest import pydicom_file

# Values planted where the hostile probe found them leaking; none may reach a shared output.
PHI = {
    "preamble": "PREAMBLE-PHI-Quixote-770101",
    "meta_private": "META-PHI-Xanadu-Private",
    "concatenation_source": "1.2.826.0.1.3680043.99.424242.17",
    "unknown_public": "UNKNOWN-PHI-Ozymandias",
    "overlay_description": "OVERLAY-PHI-Description-Ahab",
    "overlay_label": "OVERLAY-PHI-Label-Ishmael",
    "document_title": "PDFTITLE-PHI-Gargantua",
    "text_value": "TEXTVALUE-PHI-Pantagruel",
    "trial_subject": "SUBJ-Jane-Doe-0042",
    "patient_name": "Hostile^Wilhelmina^Quartz",
    "patient_id": "MRN-HOSTILE-660066",
    "accession": "ACC-HOSTILE-5151",
}
UNKNOWN_PUBLIC_TAG = 0x44440010


def dataset(name: str, suffix: str) -> pydicom.FileDataset:
    """A pydicom test file with its own instance UIDs (so copies are not duplicates)."""
    ds = pydicom.dcmread(pydicom_file(name))
    ds.SOPInstanceUID = f"{ds.SOPInstanceUID}.{suffix}"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    return ds


def to_bytes(ds: Dataset, preamble: bytes | None = None) -> bytes:
    buffer = io.BytesIO()
    if preamble is not None:
        ds.preamble = preamble.ljust(128, b"\0")[:128]
    if ds.file_meta.get("TransferSyntaxUID") == DeflatedImageFrameCompression:
        return explicit_little_by_hand(ds)  # pydicom 3.0 will not write this syntax
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def explicit_little_by_hand(ds: Dataset) -> bytes:
    fp = DicomBytesIO()
    fp.write(b"\0" * 128 + b"DICM")
    write_file_meta_info(fp, ds.file_meta, enforce_standard=True)
    fp.is_little_endian, fp.is_implicit_VR = True, False
    write_dataset(fp, ds)
    return fp.getvalue()


def instance(name: str, suffix: str, patient: str) -> bytes:
    """A real file under a patient ID of our choosing."""
    ds = dataset(name, suffix)
    ds.PatientID = patient
    return to_bytes(ds)


def planted_ct() -> tuple[bytes, list[str]]:
    """CT_small with PHI in the preamble, file meta, UIDs, unknown attributes and overlays."""
    ds = dataset("CT_small.dcm", "901")
    ds.PatientName = PHI["patient_name"]
    ds.PatientID = PHI["patient_id"]
    ds.AccessionNumber = PHI["accession"]
    ds.ClinicalTrialSubjectID = PHI["trial_subject"]
    ds.file_meta.PrivateInformationCreatorUID = "1.2.826.0.1.3680043.99.1"
    ds.file_meta.PrivateInformation = PHI["meta_private"].encode()
    ds.SOPInstanceUIDOfConcatenationSource = PHI["concatenation_source"]
    ds.add_new(UNKNOWN_PUBLIC_TAG, "LO", PHI["unknown_public"])
    ds.add_new(0x60000022, "LO", PHI["overlay_description"])
    ds.add_new(0x60001500, "LO", PHI["overlay_label"])
    ds.BurnedInAnnotation = "NO"
    originals = [str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)]
    return to_bytes(ds, PHI["preamble"].encode()), originals


def planted_pdf() -> bytes:
    """An encapsulated PDF with PHI in its title and a top-level Text Value."""
    source = dataset("CT_small.dcm", "902")
    ds = Dataset()
    for keyword in ("StudyInstanceUID", "StudyDate", "Modality"):
        setattr(ds, keyword, source.get(keyword))
    ds.PatientName = PHI["patient_name"]
    ds.PatientID = PHI["patient_id"]
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = source.SOPInstanceUID
    ds.SeriesInstanceUID = f"{source.SeriesInstanceUID}.902"
    ds.Modality = "DOC"
    ds.DocumentTitle = PHI["document_title"]
    ds.TextValue = PHI["text_value"]
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocument = b"%PDF-1.4\n% a tiny document\n%%EOF\n"
    ds.BurnedInAnnotation = "NO"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return to_bytes(ds)


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A zip archive; member names may repeat and may end in '/'."""
    buffer = io.BytesIO()
    with (
        warnings.catch_warnings(),  # repeated names are the point
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
    ):
        warnings.simplefilter("ignore")
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()


def zero_zip(path: Path, member_bytes: int) -> None:
    """A small zip whose one member inflates to `member_bytes` zero bytes (a zip bomb)."""
    chunk = b"\0" * (1 << 20)
    with (
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
        archive.open("zeros.dcm", "w", force_zip64=True) as stream,
    ):
        for _ in range(member_bytes // len(chunk)):
            stream.write(chunk)


def nested_bomb(levels: int, fan_out: int, leaf_bytes: int) -> bytes:
    """Zips of zips, `fan_out` copies per level, around a DICOM-looking leaf."""
    leaf = b"\0" * 128 + b"DICM" + b"\0" * (leaf_bytes - 132)
    data = zip_bytes([("leaf.dcm", leaf)])
    for _ in range(levels):
        data = zip_bytes([(f"part{i}.zip", data) for i in range(fan_out)])
    return data


def _image(rows: int, columns: int, frames: int, syntax: str, pixel_data: bytes) -> bytes:
    source = dataset("CT_small.dcm", f"9{rows}{frames}")
    ds = Dataset()
    for keyword in ("PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"):
        setattr(ds, keyword, source.get(keyword))
    ds.SOPClassUID = source.SOPClassUID
    ds.Modality = "OT"
    ds.BurnedInAnnotation = "NO"
    ds.Rows, ds.Columns = rows, columns
    ds.NumberOfFrames = frames
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 8, 8, 7, 0
    ds.PixelData = pixel_data
    ds["PixelData"].VR = "OB"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = syntax
    if syntax != ExplicitVRLittleEndian:
        ds["PixelData"].is_undefined_length = True
    return to_bytes(ds)


def _encapsulated(frames: list[bytes]) -> bytes:
    items = [struct.pack("<HHI", 0xFFFE, 0xE000, 0)]  # empty basic offset table
    for frame in frames:
        padded = frame + (b"\0" if len(frame) % 2 else b"")
        items.append(struct.pack("<HHI", 0xFFFE, 0xE000, len(padded)) + padded)
    return b"".join(items)


def rle_zero_frame(rows: int, columns: int) -> bytes:
    """A real RLE Lossless frame (PS3.5 G) of zeros: one segment of 128-byte runs."""
    runs = columns // 128
    row = bytes([0x81, 0x00]) * runs
    if columns % 128:
        row += bytes([257 - (columns % 128), 0x00])
    segment = row * rows
    header = struct.pack("<16I", 1, 64, *([0] * 14))
    return header + segment


def rle_bomb(rows: int, columns: int) -> bytes:
    """An RLE image of rows x columns zeros; small on disk, huge once decoded."""
    return _image(rows, columns, 1, RLELossless, _encapsulated([rle_zero_frame(rows, columns)]))


def deflate_bomb(rows: int, columns: int, inflates_to: int) -> bytes:
    """A Deflated Image Frame whose stream inflates far past rows x columns."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    chunk = b"\0" * (1 << 20)
    body = b"".join(compressor.compress(chunk) for _ in range(inflates_to >> 20))
    body += compressor.flush()
    return _image(rows, columns, 1, DeflatedImageFrameCompression, _encapsulated([body]))


def many_frames(frames: int) -> bytes:
    """A tiny native image whose header declares `frames` frames."""
    return _image(8, 8, frames, ExplicitVRLittleEndian, b"\0" * 64)


def nan_rescale() -> bytes:
    ds = dataset("CT_small.dcm", "903")
    ds.RescaleSlope = "NaN"
    ds.RescaleIntercept = "inf"
    return to_bytes(ds)


def deeply_nested(levels: int) -> bytes:
    """CT_small's header followed by Content Sequences nested `levels` deep (written by hand:
    undefined lengths, explicit VR little endian), then nothing else."""
    ds = dataset("CT_small.dcm", "904")
    for tag in [t for t in list(ds.keys()) if t >= 0x0040A730]:
        del ds[tag]
    opening = struct.pack("<HH2sHI", 0x0040, 0xA730, b"SQ", 0, 0xFFFFFFFF)
    item = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)
    closing = struct.pack("<HHI", 0xFFFE, 0xE00D, 0) + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
    return to_bytes(ds) + (opening + item) * levels + closing * levels


def huge_text_value(size: int) -> bytes:
    """MR_small with a retained text attribute (Manufacturer) of `size` characters, written in
    Implicit VR (whose 32-bit lengths let any element be that long)."""
    ds = dataset("MR_small.dcm", "905")
    ds.Manufacturer = "M" * size
    ds.file_meta.TransferSyntaxUID = ImplicitVRLittleEndian
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return to_bytes(ds)


def special_files(folder: Path, outside: Path) -> dict[str, Path]:
    """A FIFO, a socket, a broken link, links out of INPUT and a link loop, by name."""
    folder.mkdir(parents=True, exist_ok=True)
    made = {"fifo": folder / "a-fifo", "socket": folder / "a-socket"}
    os.mkfifo(made["fifo"])
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(made["socket"]))
    listener.close()
    made["broken_link"] = folder / "broken-link"
    made["broken_link"].symlink_to(folder / "does-not-exist")
    made["outside_file_link"] = folder / "link-to-outside.dcm"
    made["outside_file_link"].symlink_to(outside)
    made["parent_link_1"] = folder / "up1"
    made["parent_link_1"].symlink_to("..")
    made["parent_link_2"] = folder / "up2"
    made["parent_link_2"].symlink_to("..")
    made["secrets_link"] = folder / "shadow"
    made["secrets_link"].symlink_to("/etc/shadow")
    return made
