"""A CT series whose geometry is known, written shuffled on disk, for the volume tests."""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

ROWS, COLUMNS = 96, 96
PIXEL_MM = (0.8, 0.8)
SLICE_MM = 2.5
SLICES = 40
RADIUS_MM = 20.0
TILT_DEGREES = 20.0


@dataclass(frozen=True)
class Series:
    folder: Path
    series_uid: str
    volume_hu: np.ndarray  # (slice, row, column) in ascending position along the normal
    orientation: tuple[float, ...]
    positions: list[tuple[float, float, float]]

    @property
    def sphere_mm3(self) -> float:
        return 4 / 3 * np.pi * RADIUS_MM**3


def orientation(tilt_degrees: float = TILT_DEGREES) -> tuple[float, ...]:
    """Rows along x; columns tilted about x by `tilt_degrees` (an oblique acquisition)."""
    t = np.radians(tilt_degrees)
    return (1.0, 0.0, 0.0, 0.0, float(np.cos(t)), float(-np.sin(t)))


def sphere_volume(offset_mm: tuple[float, float, float] = (0, 0, 0), angle: float = 0.0):
    """HU values: a +200 HU sphere (radius 20 mm) in -1000 HU air, in the slice grid."""
    k, r, c = np.meshgrid(np.arange(SLICES), np.arange(ROWS), np.arange(COLUMNS), indexing="ij")
    z = (k - (SLICES - 1) / 2) * SLICE_MM - offset_mm[0]
    y = (r - (ROWS - 1) / 2) * PIXEL_MM[0]
    x = (c - (COLUMNS - 1) / 2) * PIXEL_MM[1]
    a = np.radians(angle)
    x, y = np.cos(a) * x - np.sin(a) * y - offset_mm[2], np.sin(a) * x + np.cos(a) * y
    y = y - offset_mm[1]
    inside = x**2 + y**2 + z**2 <= RADIUS_MM**2
    # an off-centre block makes the in-plane rotation observable
    block = (np.abs(x - 10) < 6) & (np.abs(y + 14) < 3) & (np.abs(z) < 12)
    return np.where(inside | block, 200.0, -1000.0).astype(np.float32), inside


def write_series(
    folder: Path,
    volume_hu: np.ndarray,
    *,
    patient_id: str = "SYNTH-1",
    study_uid: str | None = None,
    drop: tuple[int, ...] = (),
    seed: int = 3,
) -> Series:
    """One file per slice, named and numbered in a shuffled order unrelated to position."""
    folder.mkdir(parents=True, exist_ok=True)
    series_uid, study_uid = generate_uid(), study_uid or generate_uid()
    frame_of_reference = generate_uid()
    iop = orientation()
    normal = np.cross(iop[:3], iop[3:])
    rng = random.Random(seed)
    numbers = list(range(1, SLICES + 1))
    rng.shuffle(numbers)
    positions = []
    for k in range(SLICES):
        position = tuple(float(v) for v in np.array([-40.0, -30.0, 100.0]) + k * SLICE_MM * normal)
        positions.append(position)
        if k in drop:
            continue
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
        ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = study_uid, series_uid
        ds.FrameOfReferenceUID = frame_of_reference
        ds.PatientID, ds.Modality, ds.BurnedInAnnotation = patient_id, "CT", "NO"
        ds.InstanceNumber = numbers[k]
        ds.ImagePositionPatient = list(position)
        ds.ImageOrientationPatient = list(iop)
        ds.PixelSpacing, ds.SliceThickness = list(PIXEL_MM), SLICE_MM
        ds.Rows, ds.Columns = ROWS, COLUMNS
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.WindowCenter, ds.WindowWidth = 40, 400
        ds.PixelData = (volume_hu[k] + 1024).astype(np.int16).tobytes()
        ds.save_as(folder / f"IM{rng.randrange(10**8):08d}", enforce_file_format=True)
    return Series(folder, series_uid, volume_hu, iop, positions)
