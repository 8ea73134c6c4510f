"""Write a CT series and the regions drawn on it as DICOM SEG and RT Structure Set files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    RLELossless,
    SegmentationStorage,
    generate_uid,
)

RT_STRUCTURE_SET_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@dataclass(frozen=True)
class CtSeries:
    """A written series: its UIDs and geometry, voxel (k, r, c) at origin + k*dz + r*dy + c*dx."""

    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    patient_id: str
    sop_uids: list[str]
    origin: tuple[float, float, float]
    spacing: tuple[float, float, float]  # (slice, row, column) mm
    shape: tuple[int, int, int]

    def position(self, k: float) -> list[float]:
        return [self.origin[0], self.origin[1], self.origin[2] + k * self.spacing[0]]

    def patient_points(self, k: int, rows_columns: np.ndarray) -> np.ndarray:
        """(row, column) pixel coordinates on slice k -> (x, y, z) in mm (axial)."""
        rc = np.asarray(rows_columns, dtype=np.float64)
        x = self.origin[0] + rc[:, 1] * self.spacing[2]
        y = self.origin[1] + rc[:, 0] * self.spacing[1]
        z = np.full(len(rc), self.origin[2] + k * self.spacing[0])
        return np.stack([x, y, z], axis=1)


def _base(path: Path, sop_class: str, sop_uid: str, series: CtSeries) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = sop_class, sop_uid
    ds.PatientID, ds.PatientName = series.patient_id, "Region^Test"
    ds.StudyInstanceUID = series.study_uid
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20240101", "120000", "A1"
    return ds


def write_ct_series(
    folder: Path,
    volume: np.ndarray,
    spacing: tuple[float, float, float],
    patient_id: str = "RAD-1",
    origin: tuple[float, float, float] = (-20.0, -30.0, 100.0),
    study_uid: str | None = None,
) -> CtSeries:
    """One axial CT file per slice of `volume` (slice, row, column), in HU."""
    folder.mkdir(parents=True, exist_ok=True)
    series = CtSeries(
        study_uid or generate_uid(),
        generate_uid(),
        generate_uid(),
        patient_id,
        [generate_uid() for _ in range(volume.shape[0])],
        origin,
        spacing,
        volume.shape,
    )
    for k, sop_uid in enumerate(series.sop_uids):
        ds = _base(folder / f"ct{k:03d}", CTImageStorage, sop_uid, series)
        ds.Modality, ds.SeriesInstanceUID = "CT", series.series_uid
        ds.FrameOfReferenceUID = series.frame_of_reference_uid
        ds.SeriesNumber, ds.InstanceNumber = 1, volume.shape[0] - k  # file order is not position
        ds.ImagePositionPatient = series.position(k)
        ds.ImageOrientationPatient = list(AXIAL)
        ds.PixelSpacing = [spacing[1], spacing[2]]
        ds.SliceThickness = spacing[0]
        ds.Rows, ds.Columns = volume.shape[1:]
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope = 0, 1
        ds.PixelData = volume[k].astype(np.int16).tobytes()
        ds.save_as(folder / f"ct{k:03d}", enforce_file_format=True)
    return series


def _item(**values) -> Dataset:
    item = Dataset()
    for name, value in values.items():
        setattr(item, name, value)
    return item


def _rle_packbits(data: bytes) -> bytes:
    out = bytearray()
    for start in range(0, len(data), 128):
        chunk = data[start : start + 128]
        out.append(len(chunk) - 1)
        out += chunk
    return bytes(out)


def write_seg(
    path: Path,
    series: CtSeries,
    segments: dict[int, tuple[str, np.ndarray]],
    *,
    rle: bool = False,
    reverse_frames: bool = True,
    shift_mm: float = 0.0,
    reference_series: bool = True,
) -> str:
    """A BINARY SEG of the masks (slice, row, column); frames listed in reverse slice order."""
    sop_uid = generate_uid()
    ds = _base(path, SegmentationStorage, sop_uid, series)
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "SEG", generate_uid(), 300
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = series.frame_of_reference_uid
    ds.SegmentationType = "BINARY"
    ds.ContentLabel = "REGIONS"
    ds.SegmentSequence = Sequence(
        [
            _item(SegmentNumber=n, SegmentLabel=label, SegmentAlgorithmType="MANUAL")
            for n, (label, _) in sorted(segments.items())
        ]
    )
    if reference_series:
        ds.ReferencedSeriesSequence = Sequence(
            [
                _item(
                    SeriesInstanceUID=series.series_uid,
                    ReferencedInstanceSequence=Sequence(
                        [
                            _item(ReferencedSOPClassUID=CTImageStorage, ReferencedSOPInstanceUID=u)
                            for u in series.sop_uids
                        ]
                    ),
                )
            ]
        )
    ds.SharedFunctionalGroupsSequence = Sequence(
        [
            _item(
                PlaneOrientationSequence=Sequence([_item(ImageOrientationPatient=list(AXIAL))]),
                PixelMeasuresSequence=Sequence(
                    [
                        _item(
                            PixelSpacing=[series.spacing[1], series.spacing[2]],
                            SliceThickness=series.spacing[0],
                        )
                    ]
                ),
            )
        ]
    )
    frames, groups = [], []
    for number, (_, mask) in sorted(segments.items()):
        slices = [k for k in range(mask.shape[0]) if mask[k].any()]
        for k in reversed(slices) if reverse_frames else slices:
            frames.append(mask[k].astype(np.uint8))
            position = series.position(k)
            position[2] += shift_mm
            groups.append(
                _item(
                    SegmentIdentificationSequence=Sequence([_item(ReferencedSegmentNumber=number)]),
                    PlanePositionSequence=Sequence([_item(ImagePositionPatient=position)]),
                )
            )
    ds.PerFrameFunctionalGroupsSequence = Sequence(groups)
    ds.NumberOfFrames = len(frames)
    ds.Rows, ds.Columns = series.shape[1:]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 1, 1, 0, 0
    ds.LossyImageCompression = "00"
    if rle:
        encoded = []
        for frame in frames:
            packed = np.packbits(frame.ravel(), bitorder="little").tobytes()
            header = np.zeros(16, dtype="<u4")
            header[:2] = (1, 64)
            body = header.tobytes() + _rle_packbits(packed)
            encoded.append(body + b"\0" * (len(body) % 2))
        ds.PixelData = encapsulate(encoded)
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = RLELossless
    else:
        packed = np.packbits(np.concatenate([f.ravel() for f in frames]), bitorder="little")
        ds.PixelData = packed.tobytes() + b"\0" * (packed.size % 2)
    ds.save_as(path, enforce_file_format=True)
    return sop_uid


def write_rtstruct(
    path: Path,
    series: CtSeries,
    rois: dict[int, tuple[str, list[tuple[int, np.ndarray, str]]]],
    reference_series: str | None = None,
) -> str:
    """An RT Structure Set; each ROI's contours as (slice, (row, column) points, type)."""
    sop_uid = generate_uid()
    ds = _base(path, RT_STRUCTURE_SET_STORAGE, sop_uid, series)
    ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "RTSTRUCT", generate_uid(), 400
    ds.StructureSetLabel = "REGIONS"
    ds.ReferencedFrameOfReferenceSequence = Sequence(
        [
            _item(
                FrameOfReferenceUID=series.frame_of_reference_uid,
                RTReferencedStudySequence=Sequence(
                    [
                        _item(
                            ReferencedSOPClassUID="1.2.840.10008.3.1.2.3.1",
                            ReferencedSOPInstanceUID=series.study_uid,
                            RTReferencedSeriesSequence=Sequence(
                                [_item(SeriesInstanceUID=reference_series or series.series_uid)]
                            ),
                        )
                    ]
                ),
            )
        ]
    )
    ds.StructureSetROISequence = Sequence(
        [
            _item(
                ROINumber=n,
                ROIName=name,
                ReferencedFrameOfReferenceUID=series.frame_of_reference_uid,
            )
            for n, (name, _) in sorted(rois.items())
        ]
    )
    ds.ROIContourSequence = Sequence(
        [
            _item(
                ReferencedROINumber=n,
                ContourSequence=Sequence(
                    [
                        _item(
                            ContourGeometricType=kind,
                            NumberOfContourPoints=len(points),
                            ContourData=[
                                round(float(v), 4) for v in series.patient_points(k, points).ravel()
                            ],
                        )
                        for k, points, kind in contours
                    ]
                ),
            )
            for n, (_, contours) in sorted(rois.items())
        ]
    )
    ds.save_as(path, enforce_file_format=True)
    return sop_uid


def ibsi_phantom(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """The IBSI 1 digital phantom (image.nii.gz, mask.nii.gz in `folder`) as (slice, row,
    column) int16 values and a boolean mask."""
    import nibabel

    image = np.asarray(nibabel.load(folder / "image.nii.gz").dataobj).T.astype(np.int16)
    mask = np.asarray(nibabel.load(folder / "mask.nii.gz").dataobj).T > 0
    return image, mask


def ellipse_outline() -> np.ndarray:
    """A 32-point ellipse in the soft tissue at the centre of 693_UNCR (rows, columns)."""
    angles = np.linspace(0, 2 * np.pi, 32, endpoint=False)
    return np.stack([256 + 40 * np.sin(angles), 250 + 30 * np.cos(angles)], axis=1)


def real_ct_with_ellipse(folder: Path, patient_id: str) -> tuple[CtSeries, np.ndarray, np.ndarray]:
    """pydicom-data's 693_UNCR.dcm (real CT, 512 x 512) written as a one-slice series, with the
    ellipse outline drawn on it and its rasterised mask (1, rows, columns)."""
    from pydicom.data import get_testdata_file
    from skimage.draw import polygon

    ct_file = pydicom.dcmread(get_testdata_file("693_UNCR.dcm"))
    hounsfield = ct_file.pixel_array * float(ct_file.RescaleSlope) + float(ct_file.RescaleIntercept)
    spacing = (5.0, *(float(v) for v in ct_file.PixelSpacing))
    series = write_ct_series(folder, hounsfield[None].astype(np.int16), spacing, patient_id)
    outline = ellipse_outline()
    region = np.zeros((1, *hounsfield.shape), dtype=bool)
    rows, columns = polygon(outline[:, 0], outline[:, 1], shape=hounsfield.shape)
    region[0, rows, columns] = True
    return series, outline, region
