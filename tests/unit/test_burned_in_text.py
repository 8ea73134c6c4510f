"""Burned-in text: real frames with their own identifiers drawn in, found, judged and redacted."""

from __future__ import annotations

import cv2
import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medspark.config import FeatureSettings
from medspark.dicom.reasons import Reason
from medspark.dicom.sources import ArchiveLimits
from medspark.imaging import burned_in_text
from medspark.imaging.burned_in_text import (
    TextBox,
    clean_frame,
    header_values,
    matched_kinds,
    ocr_image,
)
from medspark.imaging.extract import FeatureOptions, extract_instance
from tests.burned_text import burn, readable

# Real ultrasound (RGB, palette), secondary capture, X-ray (16-bit MONOCHROME1) and test-pattern
# frames from pydicom and pydicom-data, one font / size / place / contrast each.
SOURCES = (
    "US1_UNCR.dcm",
    "OBXXXX1A.dcm",
    "JPGLosslessP14SV1_1s_1f_8b.dcm",
    "mlut_18.dcm",
    "RG3_UNCR.dcm",
    "SC_rgb.dcm",
)


@pytest.fixture(scope="module")
def burned(tmp_path_factory):
    folder = tmp_path_factory.mktemp("burned")
    cases = []
    for variant, name in enumerate(SOURCES):
        strings, inks = burn(get_testdata_file(name), folder / name, variant=variant)
        ink = inks[0]
        dataset = pydicom.dcmread(folder / name)
        cleaned, judgement = clean_frame(dataset.pixel_array, header_values(dataset))
        cases.append((name, dataset.pixel_array, cleaned, judgement, strings, ink))
    return cases


def test_the_visible_planted_ink_is_redacted(burned):
    """At most a sliver of a character may survive at a line's end (under 1 % of the ink, and
    unreadable: the next test); over all frames at least 99.8 % of it goes."""
    left = total = 0
    for name, original, cleaned, judgement, _, ink in burned:
        assert ink.sum() > 50, name
        if original.ndim == 3:
            unchanged = (cleaned[ink] == original[ink]).all(axis=-1)
        else:
            unchanged = cleaned[ink] == original[ink]
        assert unchanged.mean() < 0.01, name
        left, total = left + int(unchanged.sum()), total + int(ink.sum())
        assert len(judgement.redact) >= 3 and set(judgement.kinds) - {"same_line"}, name
    print(f"planted ink left: {left} of {total} pixels")
    assert left <= 0.002 * total


def test_an_independent_ocr_reads_planted_text_before_and_none_after(burned):
    before = after = 0
    for _, original, cleaned, _, strings, ink in burned:
        before += len(readable(ocr_image(original), ink, strings))
        after += len(readable(ocr_image(cleaned), ink, strings))
    print(f"Tesseract read {before} planted strings before redaction, {after} after")
    assert before >= 5 and after == 0


def test_a_thin_strip_is_read_without_enlarging_it_past_the_longest_side():
    """A real ultrasound frame's 40-row band with the patient's name and ID drawn in: found and
    redacted, the detector working at the frame's width (MAX_OCR_SIDE), not at 736 rows."""
    dataset = pydicom.dcmread(get_testdata_file("US1_UNCR.dcm"))
    dataset.PatientName, dataset.PatientID = "KOWALSKI^ANNA", "7730419"
    strip = np.ascontiguousarray(dataset.pixel_array[200:240])
    ink = np.zeros(strip.shape[:2], np.uint8)
    cv2.putText(ink, "KOWALSKI, ANNA  ID 7730419", (10, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 255)
    strip[ink > 0] = 255
    cleaned, judgement = clean_frame(strip, header_values(dataset))
    assert {"patient_name", "patient_id"} <= set(judgement.kinds)
    assert (cleaned[ink > 0] != strip[ink > 0]).any(axis=-1).all()
    assert burned_in_text.detector_short_side(80, 1280) == 80  # the strip, enlarged to 1280 wide
    assert burned_in_text.detector_short_side(512, 512) == burned_in_text.DETECTOR_SHORT_SIDE
    assert burned_in_text.detector_short_side(768, 1024) == burned_in_text.DETECTOR_SHORT_SIDE


@pytest.mark.parametrize("name", ["CT_small.dcm", "MR_small.dcm", "emri_small.dcm"])
def test_frames_without_text_are_not_altered(name):
    dataset = pydicom.dcmread(get_testdata_file(name))
    frame = dataset.pixel_array if dataset.pixel_array.ndim == 2 else dataset.pixel_array[0]
    cleaned, judgement = clean_frame(frame, header_values(dataset))
    assert judgement.redact == [] and np.array_equal(cleaned, frame)


def test_identifiers_match_through_ocr_confusions_and_date_formats():
    dataset = pydicom.Dataset()
    dataset.PatientName, dataset.PatientID, dataset.PatientBirthDate = (
        "KOWALSKI^ANNA",
        "7730419",
        "19610214",
    )
    values = header_values(dataset)
    assert "patient_id" in matched_kinds("ID: 773O419", values)
    assert "patient_name" in matched_kinds("Kowalskl, Anna", values)
    assert "birth_date" in matched_kinds("14.02.1961", values)
    assert "birth_date" in matched_kinds("02/14/61", values)
    assert matched_kinds("L  5 cm  TGC", values) == []
    assert matched_kinds("14/", values) == ["date_fragment"]  # a date cut short: a doubt
    assert matched_kinds("1.06 cm", values) == matched_kinds("C5-1", values) == []
    assert "KOWALSKI" not in repr(TextBox((0, 0, 1, 1), "KOWALSKI", 0.9))


def test_a_detector_failure_releases_nothing(tmp_path, monkeypatch):
    burn(get_testdata_file("US1_UNCR.dcm"), tmp_path / "us", variant=0)

    def broken(_frame):
        raise RuntimeError("model crashed")

    monkeypatch.setattr(burned_in_text, "find_text", broken)
    options = FeatureOptions("unit", FeatureSettings(), ArchiveLimits(1 << 30, 2, 64 << 20))
    row = {"path": str(tmp_path / "us"), "sop_instance_uid": "2.25.9", "examine_pixels": True}
    (record,) = list(extract_instance(row, options))
    assert record["outcome"] == "quarantine"
    assert record["reason"] == Reason.BURNED_IN_TEXT_UNCHECKED


def test_examined_rows_say_what_was_found_but_not_what_it_said(tmp_path):
    burn(get_testdata_file("US1_UNCR.dcm"), tmp_path / "us", variant=0)
    options = FeatureOptions(
        "unit", FeatureSettings(tensor=True), ArchiveLimits(1 << 30, 2, 64 << 20)
    )
    row = {"path": str(tmp_path / "us"), "sop_instance_uid": "2.25.9", "examine_pixels": True}
    (record,) = list(extract_instance(row, options))
    assert record["pixels_examined"] and record["pixel_phi_boxes"] >= 3
    assert len(record["pixel_redactions"]) == record["pixel_phi_boxes"]
    regions = record["pixel_text_regions"]
    assert all(len(r) == 5 and 0 <= r[4] <= 1 for r in regions)
    assert len(regions) >= record["pixel_text_boxes"] >= 3
    assert "KOWALSKI" not in repr(record) and "7730419" not in repr(record)


def test_volumes_are_built_from_redacted_pixels(tmp_path):
    """The features job's redactions reach the volumes (and radiomics, registration) builder."""
    from medspark.dicom.redaction_boxes import boxes_by_frame
    from medspark.volume.build import build_volume

    burn(get_testdata_file("OBXXXX1A_2frame.dcm"), tmp_path / "cine", variant=1)
    data = (tmp_path / "cine").read_bytes()
    rows = [{"frame": 1, "boxes": [[10, 20, 60, 40]]}, {"frame": 2, "boxes": []}]
    plain = build_volume([data], [None])
    redacted = build_volume([data], [None], redactions=[boxes_by_frame(rows)])
    assert boxes_by_frame(rows) == {1: [[10, 20, 60, 40]]}
    changed = np.argwhere(plain.values != redacted.values)
    assert changed.size and set(changed[:, 1]) <= set(range(20, 40))
    assert set(changed[:, 2]) <= set(range(10, 60))


def _text_free_frame() -> np.ndarray:
    """A real CT slice (pydicom's CT_small) as an 8-bit secondary capture, enlarged to 512²."""
    pixels = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float64)
    scaled = (pixels - pixels.min()) * 255 / (pixels.max() - pixels.min())
    return cv2.resize(scaled.astype(np.uint8), (512, 512), interpolation=cv2.INTER_CUBIC)


def test_a_frame_with_one_line_of_text_loses_only_that_lines_box():
    frame = _text_free_frame()
    ink = np.zeros(frame.shape, np.uint8)
    cv2.putText(ink, "KOWALSKI, ANNA", (150, 470), cv2.FONT_HERSHEY_SIMPLEX, 0.9, 255, 2)
    frame[ink > 0] = 255
    dataset = pydicom.Dataset()
    dataset.PatientName = "KOWALSKI^ANNA"
    cleaned, judgement = clean_frame(frame, header_values(dataset))
    rows, columns = np.nonzero(ink)
    height = int(rows.max() - rows.min() + 1)
    allowed = np.zeros(frame.shape, dtype=bool)
    allowed[max(0, rows.min() - height) : rows.max() + height + 1,
            max(0, columns.min() - height) : columns.max() + height + 1] = True  # fmt: skip
    changed = cleaned != frame
    assert changed[ink > 0].all()  # every planted pixel filled
    assert not (changed & ~allowed).any()  # nothing outside the line and a text height around it
    assert changed.sum() <= 2.5 * (np.ptp(rows) + 1) * (np.ptp(columns) + 1)
    assert "patient_name" in judgement.kinds


def test_a_frame_with_strong_edges_and_no_characters_is_not_changed():
    """Stripes, rings, a grid and hard-edged blocks over a real CT slice: the detector may
    outline some of it, but nothing is read as text, so nothing is filled."""
    frame = _text_free_frame()
    frame[40:120, 40:472:8] = 255  # vertical stripes
    for radius in range(20, 120, 12):
        cv2.circle(frame, (380, 300), radius, 255, 2)
    frame[300:460:16, 30:230] = 0
    frame[300:460, 30:230:16] = 0
    cv2.rectangle(frame, (260, 140), (470, 200), 255, -1)
    cv2.rectangle(frame, (280, 155), (450, 185), 0, -1)
    cleaned, judgement = clean_frame(frame, header_values(pydicom.Dataset()))
    assert judgement.redact == [] and np.array_equal(cleaned, frame)
    assert judgement.text == []  # outlined regions are recorded, none counted as text
