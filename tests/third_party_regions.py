"""Segmentations written by highdicom (the reference DICOM SEG library) over real series, in the
shapes other tools write them, and highdicom's own reading of them to compare with."""

from __future__ import annotations

import copy
import glob
import os
from collections.abc import Sequence

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from pydicom.dataset import Dataset
from pydicom.pixels import pack_bits

try:
    import highdicom
except ImportError:  # a test dependency; tests that need it skip without it
    highdicom = None

SEGMENT_CODES = ("Tissue", "Bone")


def pydicom_file(name: str) -> Dataset:
    """One of pydicom's test files, e.g. 'CT_small.dcm'."""
    return pydicom.dcmread(get_testdata_file(name))


def pydicom_series(folder: str) -> list[Dataset]:
    """The instances of one of pydicom's dicomdirtests series (e.g. '77654033/CT2')."""
    root = os.path.dirname(get_testdata_file("CT_small.dcm"))
    files = sorted(glob.glob(os.path.join(root, "dicomdirtests", folder, "*")))
    return [pydicom.dcmread(f) for f in files]


def highdicom_seg(
    sources: Sequence[Dataset],
    segments: dict[int, tuple[str, np.ndarray]],
    kind: str = "BINARY",
    *,
    transfer_syntax: str = pydicom.uid.ExplicitVRLittleEndian,
    fractional_type: str = "PROBABILITY",
) -> Dataset:
    """A SEG written by highdicom: `segments[n] = (label, array (len(sources), rows, columns))`,
    booleans for BINARY and LABELMAP, values in [0, 1] for FRACTIONAL."""
    hd = highdicom
    from pydicom.sr.codedict import codes

    sources = [_with_type_2_attributes(s) for s in sources]
    numbers = sorted(segments)
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=n,
            segment_label=segments[n][0],
            segmented_property_category=codes.SCT.Tissue,
            segmented_property_type=getattr(codes.SCT, SEGMENT_CODES[i % len(SEGMENT_CODES)]),
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        )
        for i, n in enumerate(numbers)
    ]
    if kind == "LABELMAP":
        pixels = np.zeros(segments[numbers[0]][1].shape, dtype=np.uint16)
        for n in numbers:
            pixels[segments[n][1].astype(bool)] = n
    elif len(numbers) == 1:
        pixels = segments[numbers[0]][1]
    else:
        pixels = np.stack([segments[n][1] for n in numbers], axis=-1)
    if kind == "BINARY":
        pixels = pixels.astype(bool)
    elif kind == "FRACTIONAL":
        pixels = pixels.astype(np.float32)
    return hd.seg.Segmentation(
        source_images=list(sources),
        pixel_array=pixels,
        segmentation_type=kind,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=300,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer="highdicom",
        manufacturer_model_name="test",
        software_versions=hd.__version__,
        device_serial_number="1",
        fractional_type=fractional_type,
        transfer_syntax_uid=transfer_syntax,
    )


TYPE_2_ATTRIBUTES = ("PatientBirthDate", "PatientSex", "StudyID", "ReferringPhysicianName",
                     "AccessionNumber", "StudyDate", "StudyTime")  # fmt: skip


def _with_type_2_attributes(source: Dataset) -> Dataset:
    """The source with the patient and study attributes highdicom copies (Type 2: present, may
    be empty) added empty where missing."""
    missing = [k for k in TYPE_2_ATTRIBUTES if k not in source]
    if not missing:
        return source
    source = copy.deepcopy(source)
    for keyword in missing:
        setattr(source, keyword, "")
    return source


def groups_per_frame(seg: Dataset) -> Dataset:
    """The same SEG with every shared functional group repeated in each frame's own item
    (PS3.3 C.7.6.16 allows either), as dcmqi and vendor tools write them."""
    seg = copy.deepcopy(seg)
    shared = seg.SharedFunctionalGroupsSequence[0]
    for item in seg.PerFrameFunctionalGroupsSequence:
        for element in shared:
            item.add(copy.deepcopy(element))
    seg.SharedFunctionalGroupsSequence = [Dataset()]
    return seg


def frames_reversed(seg: Dataset) -> Dataset:
    """The same uncompressed SEG with its frames (and their per-frame groups) in reverse order."""
    seg = copy.deepcopy(seg)
    frames = seg.pixel_array.reshape(int(seg.NumberOfFrames), seg.Rows, seg.Columns)[::-1]
    if int(seg.BitsAllocated) == 1:
        seg.PixelData = pack_bits(frames.astype(np.uint8))
    else:
        seg.PixelData = np.ascontiguousarray(frames).tobytes()
    seg.PerFrameFunctionalGroupsSequence = list(seg.PerFrameFunctionalGroupsSequence)[::-1]
    return seg


def highdicom_masks(seg: Dataset, source_uids: Sequence[str]) -> dict[int, np.ndarray]:
    """{segment number: boolean array (len(source_uids), rows, columns)} as highdicom reads the
    SEG (fractional values above one half count as inside)."""
    hd = highdicom

    read = hd.seg.Segmentation.from_dataset(copy.deepcopy(seg), copy=False)
    masks = {}
    for number in read.segment_numbers:
        pixels = read.get_pixels_by_source_instance(
            source_sop_instance_uids=list(source_uids),
            segment_numbers=[number],
            combine_segments=False,
            ignore_spatial_locations=True,
            assert_missing_frames_are_empty=True,
        )[..., 0]
        masks[int(number)] = pixels > 0.5 if pixels.dtype.kind == "f" else pixels > 0
    return masks
