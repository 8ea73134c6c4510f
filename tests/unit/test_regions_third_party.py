"""SEGs written by highdicom over real pydicom series, in every shape the standard allows, read
and placed by medspark exactly as highdicom reads them."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from medspark.dicom.pixels import read_image_dataset
from medspark.regions.grid import SeriesGrid, grid_of
from medspark.regions.segmentation import place_segment, read_segmentation
from medspark.volume.build import build_volume
from tests.third_party_regions import (
    frames_reversed,
    groups_per_frame,
    highdicom,
    highdicom_masks,
    highdicom_seg,
    pydicom_file,
    pydicom_series,
)

pytest.importorskip("highdicom")

CONTIGUOUS = "98892001/CT5N"  # five axial CT slices 2.5 mm apart
SPARSE = "77654033/CT2"  # four CT slices, one 200 mm from the others: no volume
RADIOGRAPH = "77654033/CR1"  # one CR image: no plane position at all


def _bytes(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _grid(sources: list[pydicom.Dataset]) -> SeriesGrid:
    volume = build_volume([_bytes(s) for s in sources], [None] * len(sources), stack=True)
    return grid_of(volume, [str(s.SOPInstanceUID) for s in sources])


def _shapes(count: int, rows: int = 16, columns: int = 16) -> dict[str, np.ndarray]:
    """Two overlapping regions and a fractional map over `count` slices."""
    yy, xx = np.mgrid[:rows, :columns] * (16 / np.array([rows, columns]))[:, None, None]
    first = np.zeros((count, rows, columns), dtype=bool)
    second = np.zeros_like(first)
    for k in range(count):
        first[k] = (yy - 7) ** 2 + (xx - 6) ** 2 <= (3 + k % 3) ** 2
        second[k, 5 : 11 + k % 2, 6:13] = True
    fraction = np.clip(
        1.2 - np.hypot(yy - 8, xx - 8)[None] / (4.0 + np.arange(count)[:, None, None]), 0, 1
    )
    return {"first": first, "second": second, "fraction": fraction}


def _case(name: str):
    """(source datasets, SEG written by highdicom) of one shape."""
    if name == "sparse_binary" or name == "sparse_fractional":
        sources = pydicom_series(SPARSE)
    elif name == "radiograph":
        sources = pydicom_series(RADIOGRAPH)
    elif "jpeg2000" in name:  # the codec takes frames of 32 pixels and more
        sources = [pydicom_file("CT_small.dcm")]
    else:
        sources = pydicom_series(CONTIGUOUS)
    shapes = _shapes(len(sources), int(sources[0].Rows), int(sources[0].Columns))
    one = {1: ("lesion", shapes["first"])}
    two = {1: ("lesion", shapes["first"]), 2: ("organ", shapes["second"])}
    fractional = {1: ("probability", shapes["fraction"])}
    seg = {
        "binary_one_segment": lambda: highdicom_seg(sources, one),
        "binary_two_overlapping": lambda: highdicom_seg(sources, two),
        "binary_per_frame_groups": lambda: groups_per_frame(highdicom_seg(sources, one)),
        "binary_frames_reversed": lambda: frames_reversed(highdicom_seg(sources, two)),
        "fractional_rle": lambda: highdicom_seg(
            sources, fractional, "FRACTIONAL", transfer_syntax=RLELossless
        ),
        "fractional_probability": lambda: highdicom_seg(sources, fractional, "FRACTIONAL"),
        "fractional_occupancy_jpegls": lambda: highdicom_seg(
            sources,
            fractional,
            "FRACTIONAL",
            fractional_type="OCCUPANCY",
            transfer_syntax=JPEGLSLossless,
        ),
        "fractional_jpeg2000": lambda: highdicom_seg(
            sources, fractional, "FRACTIONAL", transfer_syntax=JPEG2000Lossless
        ),
        "labelmap": lambda: highdicom_seg(sources, two, "LABELMAP"),
        "labelmap_jpegls": lambda: highdicom_seg(
            sources, two, "LABELMAP", transfer_syntax=JPEGLSLossless
        ),
        "labelmap_jpeg2000": lambda: highdicom_seg(
            sources, two, "LABELMAP", transfer_syntax=JPEG2000Lossless
        ),
        "labelmap_rle_per_frame": lambda: groups_per_frame(
            highdicom_seg(sources, two, "LABELMAP", transfer_syntax=RLELossless)
        ),
        "sparse_binary": lambda: highdicom_seg(sources, two),
        "sparse_fractional": lambda: highdicom_seg(sources, fractional, "FRACTIONAL"),
        "radiograph": lambda: highdicom_seg(sources, one),
    }[name]()
    return sources, seg


CASES = (
    "binary_one_segment",
    "binary_two_overlapping",
    "binary_per_frame_groups",
    "binary_frames_reversed",
    "fractional_rle",
    "fractional_probability",
    "fractional_occupancy_jpegls",
    "fractional_jpeg2000",
    "labelmap",
    "labelmap_jpegls",
    "labelmap_jpeg2000",
    "labelmap_rle_per_frame",
    "sparse_binary",
    "sparse_fractional",
    "radiograph",
)


@pytest.mark.parametrize("name", CASES)
def test_every_segment_lands_where_highdicom_reads_it(name):
    sources, written = _case(name)
    expected = highdicom_masks(written, [str(s.SOPInstanceUID) for s in sources])
    seg = read_segmentation(read_image_dataset(_bytes(written), None))
    grid = _grid(sources)
    assert sorted(seg.segments) == sorted(expected)
    for number, segment in seg.segments.items():
        placed = place_segment(segment, seg, grid)
        by_uid = {source[0]: placed[k] for k, source in enumerate(grid.sources)}
        ours = np.stack([by_uid[str(s.SOPInstanceUID)] for s in sources])
        assert ours.sum() == expected[number].sum() > 0, (name, number)
        assert np.array_equal(ours, expected[number]), (name, number)


def test_the_shapes_are_what_they_claim():
    """The cases really are in the shapes named: shared and per-frame groups, compressed,
    reversed, no plane positions."""
    _, one = _case("binary_one_segment")
    shared = one.SharedFunctionalGroupsSequence[0]
    assert "SegmentIdentificationSequence" in shared
    assert "SegmentIdentificationSequence" not in one.PerFrameFunctionalGroupsSequence[0]
    _, moved = _case("binary_per_frame_groups")
    assert "PlaneOrientationSequence" in moved.PerFrameFunctionalGroupsSequence[0]
    assert "PlaneOrientationSequence" not in moved.SharedFunctionalGroupsSequence[0]
    _, reversed_seg = _case("binary_frames_reversed")
    _, forward = _case("binary_two_overlapping")

    def z(seg, i):
        return float(seg.PerFrameFunctionalGroupsSequence[i].PlanePositionSequence[0]
                     .ImagePositionPatient[2])  # fmt: skip

    assert z(reversed_seg, 0) == z(forward, -1)
    _, labelmap = _case("labelmap_jpegls")
    assert labelmap.SegmentationType == "LABELMAP"
    assert labelmap.file_meta.TransferSyntaxUID == JPEGLSLossless
    _, radiograph = _case("radiograph")
    assert "PlanePositionSequence" not in radiograph.PerFrameFunctionalGroupsSequence[0]
    assert highdicom.__version__.startswith("0.28")


def test_series_that_are_no_volume_become_stacks_of_their_images():
    contiguous = _grid(pydicom_series(CONTIGUOUS))
    sparse = _grid(pydicom_series(SPARSE))
    radiograph = _grid(pydicom_series(RADIOGRAPH))
    assert not contiguous.is_stack and contiguous.shape[0] == 5
    assert sparse.is_stack and sparse.shape[0] == 4 and "missing between 4" in sparse.stack_reason
    assert sparse.plane_offsets_mm[1] == pytest.approx(202.5, abs=0.01)
    assert radiograph.is_stack and not radiograph.has_geometry
    assert radiograph.spacing[1:] == (0.1, 0.1)  # Imager Pixel Spacing
