"""Wrap a 2D array as a DICOM Part-10 instance (for sample data, tests and benchmarks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import UID, ExplicitVRLittleEndian, generate_uid


def array_to_dicom(
    pixels: np.ndarray,
    path: Path,
    *,
    sop_class_uid: str,
    modality: str,
    patient_id: str,
    study_instance_uid: str | None = None,
    rescale: tuple[float, float] | None = None,
    window: tuple[float, float] | None = None,
    pixel_spacing: tuple[float, float] | None = None,
    bits_stored: int | None = None,
) -> str:
    """Write an unsigned 8- or 16-bit grey image as one instance; returns its SOP Instance UID."""
    if pixels.dtype not in (np.uint8, np.uint16) or pixels.ndim != 2:
        raise ValueError("expected a 2D uint8 or uint16 array")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = UID(sop_class_uid)
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class_uid, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_instance_uid or generate_uid()
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID, ds.Modality = patient_id, modality
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    allocated = pixels.dtype.itemsize * 8
    stored = bits_stored or allocated
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = (
        allocated,
        stored,
        stored - 1,
        0,
    )
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if pixel_spacing is not None:
        ds.PixelSpacing = list(pixel_spacing)
    ds.PixelData = np.ascontiguousarray(pixels).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return str(ds.SOPInstanceUID)
