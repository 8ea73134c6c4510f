"""Burned-in text in the pixels: find it (PP-OCR through rapidocr's ONNX models), judge which
of it is PHI against the instance's own header, and redact those boxes.

The detector loads once per Python worker. Nothing here logs or returns the text read or the
header values; callers get boxes and the kinds of attribute matched.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from rapidfuzz import fuzz

READABLE_SCORE = 0.6
"""Recognition confidence under which a box counts as unreadable text (and is redacted)."""
NOISE_SCORE = 0.3
"""Recognition confidence under which a detected box is taken for image structure, not text."""
MATCH_SCORE = 85.0
MARGIN_FRACTION = 0.25
MIN_OCR_SIDE = 400
MAX_OCR_SIDE = 1280
"""The longest side the detector works at: larger frames are reduced to it, thin ones not
enlarged past it."""
DETECTOR_SHORT_SIDE = 736
"""The detector's working scale (PP-OCR's): it enlarges a frame until its shorter side is this."""
MIN_TEXT_HEIGHT = 8

_PERSON_KEYWORDS = {
    "PatientName": "patient_name",
    "ReferringPhysicianName": "referring_physician",
    "PerformingPhysicianName": "performing_physician",
    "OperatorsName": "operator",
}
_ID_KEYWORDS = {
    "PatientID": "patient_id",
    "AccessionNumber": "accession_number",
    "OtherPatientIDs": "other_patient_id",
    "InstitutionName": "institution",
    "StationName": "station",
}
_DATE_KEYWORDS = {
    "PatientBirthDate": "birth_date",
    "StudyDate": "study_date",
    "SeriesDate": "series_date",
    "AcquisitionDate": "acquisition_date",
    "ContentDate": "content_date",
}
_DATE_PATTERN = re.compile(r"\d{1,4}[./\-]\d{1,2}[./\-]\d{2,4}|(?:19|20)\d{6}")
_DIGITS_PATTERN = re.compile(r"\d{6,}")
_OCR_LOOKALIKES = str.maketrans({"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "S": "5",
                                 "B": "8", "Z": "2", "G": "6"})  # fmt: skip


class TextDetectorUnavailable(RuntimeError):
    """No text detector is installed; at-risk images are held back."""


@dataclass(frozen=True)
class TextBox:
    """Text found in a frame: its box (x0, y0, x1, y1) in pixels, what was read, how sure."""

    box: tuple[int, int, int, int]
    text: str = field(repr=False)
    score: float


@dataclass(frozen=True)
class Judgement:
    """What the frame holds: every box, the boxes to redact and the attribute kinds matched."""

    boxes: list[TextBox]
    redact: list[tuple[int, int, int, int]]
    kinds: list[str]


@lru_cache(maxsize=1)
def _engine():
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise TextDetectorUnavailable(
            "rapidocr-onnxruntime is not installed (scripts/install.sh installs it)"
        ) from exc
    # One thread per model: Spark already runs one task per core, and fewer thread pools keep
    # the worker inside spark.executor.pyspark.memory (an address-space limit).
    return RapidOCR(intra_op_num_threads=1, inter_op_num_threads=1)


def ocr_image(frame: np.ndarray) -> np.ndarray:
    """8-bit image for the detector: colour kept (as BGR), grey scaled to its full range."""
    values = frame.astype(np.float32)
    low, high = float(values.min()), float(values.max())
    scaled = np.clip((values - low) * (255.0 / max(high - low, 1e-6)), 0, 255).astype(np.uint8)
    if scaled.ndim == 3 and scaled.shape[-1] >= 3:
        return np.ascontiguousarray(scaled[..., 2::-1][..., :3])
    if scaled.ndim == 3:
        scaled = scaled[..., 0]
    return np.stack([scaled] * 3, axis=-1)


def _detect(image: np.ndarray, keep_unrecognised: bool) -> list[TextBox]:
    # small frames are enlarged (small text reads better), large ones reduced (bounded memory)
    factor = max(float(np.ceil(MIN_OCR_SIDE / min(image.shape[:2]))), 1.0)
    factor = min(factor, MAX_OCR_SIDE / max(image.shape[:2]))
    if factor != 1:
        smaller = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=smaller)
    engine = _engine()
    engine.text_det.limit_side_len = detector_short_side(image.shape[0], image.shape[1])
    found, _ = engine(image, text_score=0.0, box_thresh=0.3)
    boxes = []
    for points, text, score in found or []:
        corners = np.asarray(points, dtype=np.float64) / factor
        x0, y0 = np.floor(corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
        if float(score) < NOISE_SCORE and not (keep_unrecognised and y1 - y0 >= MIN_TEXT_HEIGHT):
            continue
        boxes.append(TextBox((int(x0), int(y0), int(x1), int(y1)), str(text), float(score)))
    return boxes


def detector_short_side(height: int, width: int) -> float:
    """The shorter side the detector enlarges a frame of this size to: its working scale, less
    for a thin frame, so that the longer side stays within MAX_OCR_SIDE (a 10 x 45 pixel frame
    would otherwise be run at 3,300 x 736, seconds of work for no more text)."""
    return min(DETECTOR_SHORT_SIDE, MAX_OCR_SIDE * min(height, width) / max(height, width))


def brightest_view(frame: np.ndarray) -> np.ndarray:
    """White where the frame is within 2 % of its maximum, black elsewhere: burned-in text is
    nearly always drawn at full intensity, and stands out there from busy backgrounds."""
    values = frame.astype(np.float32)
    if values.ndim == 3:
        values = values.max(axis=-1)
    low, high = float(values.min()), float(values.max())
    mask = values >= high - 0.02 * (high - low)
    return np.stack([np.where(mask, 255, 0).astype(np.uint8)] * 3, axis=-1)


def find_text(frame: np.ndarray) -> list[TextBox]:
    """Every text box the detector finds in the frame (stored pixels, grey or colour), looking
    at it as it is and at its brightest pixels alone; boxes found in the second view that
    cannot be read are kept (as unreadable text)."""
    boxes = _detect(ocr_image(frame), keep_unrecognised=False)
    for extra in _detect(brightest_view(frame), keep_unrecognised=True):
        if not any(_overlap(extra.box, b.box) > 0.5 for b in boxes):
            boxes.append(extra)
    return boxes


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection over the smaller box's area."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return width * height / max(smaller, 1)


def _normal(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def _date_forms(value: str) -> list[str]:
    digits = re.sub(r"\D", "", value)
    if len(digits) != 8:
        return [digits] if digits else []
    y, m, d = digits[:4], digits[4:6], digits[6:]
    return [digits, d + m + y, m + d + y, d + m + y[2:], m + d + y[2:], y[2:] + m + d]


def header_values(dataset: Dataset) -> dict[str, list[str]]:
    """The instance's identifying values, normalised, by attribute kind (held in memory only)."""
    values: dict[str, list[str]] = {}

    def add(kind: str, text: str) -> None:
        normal = _normal(text)
        if len(normal) >= 2:
            values.setdefault(kind, []).append(normal)

    for keyword, kind in _PERSON_KEYWORDS.items():
        for person in _many(dataset.get(keyword)):
            text = str(person)
            add(kind, text)
            for part in re.split(r"[\^ ,]+", text):
                if len(_normal(part)) >= 3:
                    add(kind, part)
    for keyword, kind in _ID_KEYWORDS.items():
        for value in _many(dataset.get(keyword)):
            add(kind, str(value))
    for keyword, kind in _DATE_KEYWORDS.items():
        for value in _many(dataset.get(keyword)):
            for form in _date_forms(str(value)):
                add(kind, form)
    return values


def _many(value) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, MultiValue | list | tuple):
        return [v for v in value if v not in (None, "")]
    return [value]


def matched_kinds(text: str, values: dict[str, list[str]]) -> list[str]:
    """Attribute kinds whose value the text contains (fuzzily), then pattern kinds."""
    normal = _normal(text)
    lookalike = normal.translate(_OCR_LOOKALIKES)
    kinds = []
    for kind, candidates in values.items():
        for candidate in candidates:
            threshold = 100.0 if len(candidate) < 4 else MATCH_SCORE
            probe = candidate.translate(_OCR_LOOKALIKES)
            if (
                candidate in normal
                or probe in lookalike
                or (len(normal) >= 3 and fuzz.partial_ratio(probe, lookalike) >= threshold)
            ):
                kinds.append(kind)
                break
    if _DATE_PATTERN.search(text):
        kinds.append("date_pattern")
    if _DIGITS_PATTERN.search(re.sub(r"\s", "", text)):
        kinds.append("digit_run")
    return kinds


def _same_line(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two boxes share most of their height and lie within three heights of each other."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    height = min(a[3] - a[1], b[3] - b[1])
    gap = max(a[0], b[0]) - min(a[2], b[2])
    return height > 0 and overlap >= 0.5 * height and gap <= 3 * max(a[3] - a[1], b[3] - b[1])


def _same_block(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two boxes are lines of one left-aligned block: starts within a line height of
    each other, at most one and a half line heights apart vertically."""
    height = max(a[3] - a[1], b[3] - b[1], 1)
    gap = max(a[1], b[1]) - min(a[3], b[3])
    return abs(a[0] - b[0]) <= height and gap <= 1.5 * height


def judge(
    boxes: Iterable[TextBox],
    values: dict[str, list[str]],
    shape,
    already: Iterable[tuple[int, int, int, int]] = (),
) -> Judgement:
    """Boxes to redact: those matching the header or a PHI pattern, those unreadable, and any
    text on the same line or in the same left-aligned block as one of those (or as a box
    `already` redacted)."""
    boxes = list(boxes)
    flagged, kinds = [], []
    for found in boxes:
        matched = matched_kinds(found.text, values)
        if found.score < READABLE_SCORE:
            matched.append("unreadable")
        if matched:
            flagged.append(found.box)
            kinds += matched
    changed = True
    while changed:  # text beside or stacked under PHI belongs to the same label
        changed = False
        near = list(already) + flagged
        for found in boxes:
            if found.box in flagged:
                continue
            if any(_same_line(found.box, b) for b in near):
                flagged.append(found.box)
                kinds.append("same_line")
                changed = True
            elif any(_same_block(found.box, b) for b in near):
                flagged.append(found.box)
                kinds.append("same_block")
                changed = True
    redact = [grow(box, shape) for box in flagged]
    return Judgement(boxes, redact, sorted(set(kinds)))


MAX_PASSES = 3


def clean_frame(
    frame: np.ndarray, values: dict[str, list[str]], view: np.ndarray | None = None
) -> tuple[np.ndarray, Judgement]:
    """The frame with its PHI text redacted, looking again after each redaction (a detector can
    split a line) until no more is found, at most MAX_PASSES times.

    `view` is what a person sees (palette colour applied), when it differs from the stored
    frame; text is looked for in it and the same boxes are filled in both.
    """
    view = frame if view is None else view
    first = judge(find_text(view), values, frame.shape)
    redacted, kinds = list(first.redact), set(first.kinds)
    cleaned = redact(frame, redacted) if redacted else frame
    seen = redact(view, redacted) if redacted else view
    latest = redacted
    for _ in range(MAX_PASSES - 1):
        if not latest:
            break
        found = _detect(ocr_image(seen), keep_unrecognised=False)
        again = judge(found, values, frame.shape, redacted)
        latest = [box for box in again.redact if box not in redacted]
        redacted += latest
        kinds |= set(again.kinds)
        cleaned, seen = redact(cleaned, latest), redact(seen, latest)
    return cleaned, Judgement(first.boxes, redacted, sorted(kinds))


def grow(box: tuple[int, int, int, int], shape) -> tuple[int, int, int, int]:
    """The box grown by a quarter of its height above and below and by about a character and a
    space (its height) left and right, inside the frame: detectors often stop a character
    short."""
    x0, y0, x1, y1 = box
    vertical = max(2, round((y1 - y0) * MARGIN_FRACTION))
    horizontal = max(3, y1 - y0)
    height, width = shape[0], shape[1]
    return (max(0, x0 - horizontal), max(0, y0 - vertical), min(width, x1 + horizontal),
            min(height, y1 + vertical))  # fmt: skip


def redact(frame: np.ndarray, boxes: Iterable[Iterable[int]]) -> np.ndarray:
    """A copy of the frame with each box filled with the frame's minimum (black)."""
    out = frame.copy()
    fill = out.min(axis=(0, 1)) if out.ndim == 3 else out.min()
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = fill
    return out
