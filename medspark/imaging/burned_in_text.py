"""Burned-in text in the pixels: find it (PP-OCR through rapidocr's ONNX models), judge which
of it is PHI against the instance's own header, and redact those boxes.

The detector loads once per Python worker. Nothing here logs or returns the text read or the
header values; callers get boxes and the kinds of attribute matched.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.abc import Traversable
from importlib.resources import as_file, files

import cv2
import numpy as np
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from rapidfuzz import fuzz

TEXT_CONFIDENCE = 0.5
"""Recognition confidence from which a detected region counts as text (`deid.text_confidence`):
below it, a region the detector outlines is taken for image structure (anatomy, a test
pattern, an edge) and left alone unless what was read in it matches the header or a date or
digit pattern."""
COVERED = 0.5
"""On a second look, a region with more than this share of its area already redacted is the
black box's edge, not text left over."""
MATCH_SCORE = 85.0
MARGIN_FRACTION = 0.25
MIN_OCR_SIDE = 400
MAX_OCR_SIDE = 1280
"""The longest side the detector works at: larger frames are reduced to it, thin ones not
enlarged past it."""
DETECTOR_SHORT_SIDE = 736
"""The detector's working scale (PP-OCR's): it enlarges a frame until its shorter side is this."""

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
_LINE_KINDS = set(_PERSON_KEYWORDS.values()) | {
    "patient_id",
    "accession_number",
    "other_patient_id",
}
"""Matches whose line is redacted with them: names and identifiers split into words by the
detector, whose other words may not match on their own (a date or a pattern is whole)."""
_DATE_PATTERN = re.compile(r"\d{1,4}[./\-]\d{1,2}[./\-]\d{2,4}|(?:19|20)\d{6}")
_DIGITS_PATTERN = re.compile(r"\d{6,}")
_DATE_START = re.compile(r"(?:^|\s)\d{1,2}[/\-](?:\d{1,2}[/\-]?)?(?:\s|$)")
"""The start of a date cut off by the detector or by the image ("14/", "14/02"); not "1.06"."""
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
    """What the frame holds: every region the detector outlined, those read as text, the boxes
    to redact and the attribute kinds matched."""

    boxes: list[TextBox]
    redact: list[tuple[int, int, int, int]]
    kinds: list[str]
    text: list[TextBox] = field(default_factory=list)
    lines: list[tuple[int, int, int, int]] = field(default_factory=list)
    """The redacted boxes whose line is redacted with them (names, identifiers)."""


DETECTOR_MODEL = "ch_PP-OCRv4_det_infer.onnx"
RECOGNISER_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
_MODEL_FILES = contextlib.ExitStack()  # model files unpacked from a zipped package, kept open


def model_resource(name: str) -> Traversable:
    """One of the PP-OCR models shipped in the package (ocr_models/NOTICE.md)."""
    return files("medspark.imaging") / "ocr_models" / name


def _model_file(name: str) -> str:
    """A path onnxruntime can open for a shipped model (unpacked to a temporary file when
    medspark runs from a zip, as on executors)."""
    return str(_MODEL_FILES.enter_context(as_file(model_resource(name))))


@lru_cache(maxsize=1)
def _engine():
    try:
        from rapidocr import RapidOCR
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise TextDetectorUnavailable(
            "rapidocr is not installed (pip install medspark installs it)"
        ) from exc
    # One thread per model: Spark already runs one task per core, and fewer thread pools keep
    # the worker inside spark.executor.pyspark.memory (an address-space limit). The PP-OCRv4
    # models are medspark's package data (ocr_models/NOTICE.md); nothing is downloaded.
    return RapidOCR(
        params={
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            "Det.model_path": _model_file(DETECTOR_MODEL),
            "Rec.model_path": _model_file(RECOGNISER_MODEL),
        }
    )


def _set_detector_side(engine, side: float) -> None:
    if engine.text_det is None:  # loaded on the first call
        engine.cfg.Det.limit_side_len = side
    else:
        engine.text_det.limit_side_len = side


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


def _detect(image: np.ndarray) -> list[TextBox]:
    """Every region the detector outlines, with what the recogniser read in it and how sure."""
    # small frames are enlarged (small text reads better), large ones reduced (bounded memory)
    factor = max(float(np.ceil(MIN_OCR_SIDE / min(image.shape[:2]))), 1.0)
    factor = min(factor, MAX_OCR_SIDE / max(image.shape[:2]))
    if factor != 1:
        smaller = cv2.INTER_AREA if factor < 1 else cv2.INTER_CUBIC
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=smaller)
    engine = _engine()
    _set_detector_side(engine, detector_short_side(image.shape[0], image.shape[1]))
    found = engine(image, text_score=0.0, box_thresh=0.3)
    if found.boxes is None or found.txts is None:
        return []
    boxes = []
    for points, text, score in zip(found.boxes, found.txts, found.scores, strict=True):
        corners = np.asarray(points, dtype=np.float64) / factor
        x0, y0 = np.floor(corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int)
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
    """Every region the detector outlines in the frame (stored pixels, grey or colour), looking
    at it as it is and at its brightest pixels alone (burned-in text is drawn at full
    intensity); a region found in both views is kept once, as the better read. A doubtful
    region (nothing read, an unsure read, or far fewer characters than its size holds: often
    two lines taken for one) gets a second, closer look, the fragments of one line together;
    the text read there replaces the regions it surely reads."""
    views = (ocr_image(frame), brightest_view(frame))
    boxes = _detect(views[0])
    for extra in _detect(views[1]):
        twins = [i for i, b in enumerate(boxes) if _overlap(extra.box, b.box) > 0.5]
        if not twins:
            boxes.append(extra)
        elif len(twins) == 1 and extra.score > boxes[twins[0]].score:
            boxes[twins[0]] = extra
    settled = [b for b in boxes if not doubtful_read(b)]
    regions = line_groups([b.box for b in boxes if doubtful_read(b)])
    closer: list[TextBox] = []
    for region in sorted(regions, key=_box_area, reverse=True)[:MAX_CLOSER_LOOKS]:
        for view in views:
            found = [b for b in _detect_within(view, region) if is_text(b)]
            found = [b for b in found if covered(b.box, [s.box for s in settled]) <= COVERED]
            if found:
                closer += found
                settled += found
                break
    sure = [b.box for b in closer if not doubtful_read(b)]
    resolved = [b for b in boxes if doubtful_read(b) and sure and covered(b.box, sure) > COVERED]
    return [b for b in boxes if b not in resolved] + closer


MAX_CLOSER_LOOKS = 8
"""Lines of doubtful regions looked at again per frame, the largest first (a detector run each)."""
SURE_SCORE = 0.8
"""Recognition confidence under which what was read is doubtful and the region looked at again."""


def _box_area(box: tuple[int, int, int, int]) -> int:
    return max(box[2] - box[0], 0) * max(box[3] - box[1], 0)


def doubtful_read(found: TextBox) -> bool:
    """Whether a region may hold text the recogniser did not read: nothing read as text, a read
    it is unsure of, or fewer than half the characters a line of its height and width holds
    (a character being about 0.6 of the box height wide)."""
    x0, y0, x1, y1 = found.box
    characters = sum(not c.isspace() for c in found.text)
    expected = (x1 - x0) / (0.6 * max(y1 - y0, 1))
    return found.score < SURE_SCORE or not is_text(found) or characters < 0.5 * expected


def line_groups(boxes: Iterable[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Boxes joined into one box per line they lie on (fragments of one line read as one)."""
    groups: list[list[tuple[int, int, int, int]]] = []
    for box in sorted(boxes):
        group = next((g for g in groups if any(same_line(box, o, 4.0) for o in g)), None)
        if group is None:
            groups.append([box])
        else:
            group.append(box)
    return [
        (min(b[0] for b in g), min(b[1] for b in g), max(b[2] for b in g), max(b[3] for b in g))
        for g in groups
    ]


def _detect_within(image: np.ndarray, box: tuple[int, int, int, int]) -> list[TextBox]:
    """The regions the detector finds around a box of the image (a text height above and below,
    three along the line: a fragment's line is seen whole), in the image's coordinates."""
    x0, y0, x1, y1 = box
    down, along = max(8, y1 - y0), max(16, 3 * (y1 - y0))
    top, left = max(0, y0 - down), max(0, x0 - along)
    crop = image[top : min(image.shape[0], y1 + down), left : min(image.shape[1], x1 + along)]
    if min(crop.shape[:2]) < 4:
        return []
    return [
        TextBox((a + left, b + top, c + left, d + top), found.text, found.score)
        for found in _detect(np.ascontiguousarray(crop))
        for a, b, c, d in [found.box]
    ]


def is_text(found: TextBox, confidence: float = TEXT_CONFIDENCE) -> bool:
    """Whether the recogniser read characters in the region with the confidence asked."""
    return found.score >= confidence and any(c.isalnum() for c in found.text)


UNREADABLE_FLOOR = 0.3
"""Recognition confidence under which nothing was read at all (structure, not text)."""


def line_sized(box: tuple[int, int, int, int], shape) -> bool:
    """Whether a region is no taller than a line of burned-in text: 24 pixels or an eighth of
    the frame's shorter side."""
    return box[3] - box[1] <= max(24, min(shape[0], shape[1]) / 8)


def unreadable_text(found: TextBox, shape) -> bool:
    """Whether a region is text that could not be read surely: characters read, but with a
    confidence under SURE_SCORE, in a box shaped like a line of burned-in text (wider than
    tall, `line_sized`)."""
    x0, y0, x1, y1 = found.box
    return (
        UNREADABLE_FLOOR <= found.score < SURE_SCORE
        and sum(c.isalnum() for c in found.text) >= 2
        and x1 - x0 >= 1.5 * (y1 - y0)
        and line_sized(found.box, shape)
    )


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
    elif _DATE_START.search(text.strip()):
        kinds.append("date_fragment")
    if _DIGITS_PATTERN.search(re.sub(r"\s", "", text)):
        kinds.append("digit_run")
    return kinds


LINE_GAP = 1.5
"""How far apart (in text heights) two words may be and still be one label's line."""


def same_line(
    a: tuple[int, int, int, int], b: tuple[int, int, int, int], gap_heights: float = LINE_GAP
) -> bool:
    """Whether two boxes share most of their height and lie within `gap_heights` text heights
    of each other along the line."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    height = min(a[3] - a[1], b[3] - b[1])
    gap = max(a[0], b[0]) - min(a[2], b[2])
    return (
        height > 0
        and overlap >= 0.5 * height
        and gap <= gap_heights * max(a[3] - a[1], b[3] - b[1])
    )


def judge(
    boxes: Iterable[TextBox],
    values: dict[str, list[str]],
    shape,
    already: Iterable[tuple[int, int, int, int]] = (),
    confidence: float = TEXT_CONFIDENCE,
) -> Judgement:
    """Boxes to redact: every region in which the recogniser reads a header value or a PHI
    pattern (a date, a run of digits), however unsure it is; text it could not read surely
    (`unreadable_text`); pieces the detector split off a flagged region (`_same_token`); the
    text read with `confidence` on the same line as a name or an
    identifier; and, on a second look, whatever is still outlined on the line of a name or an
    identifier redacted before (`already`: what is left of its text). Each is redacted as its
    own box, padded in proportion to its height; regions in which nothing is read are left
    alone."""
    boxes = list(boxes)
    text = [f for f in boxes if is_text(f, confidence) and line_sized(f.box, shape)]
    flagged: list[TextBox] = []
    lines: list[TextBox] = []
    kinds: list[str] = []
    for found in boxes:
        matched = matched_kinds(found.text, values)
        if not matched and unreadable_text(found, shape):
            matched = ["unreadable"]
        if matched:
            flagged.append(found)
            kinds += matched
        if _LINE_KINDS & set(matched):
            lines.append(found)
    already = list(already)
    changed = True
    while changed:  # the rest of a line that holds a name or an identifier is the same label
        changed = False
        for found in boxes:
            if found in flagged:
                continue
            if any(_same_token(found.box, f.box) for f in flagged):
                flagged.append(found)
                kinds.append("same_token")
                changed = True
                continue
            beside = any(same_line(found.box, b.box) for b in lines) and found in text
            if beside or any(same_line(found.box, b) for b in already):
                flagged.append(found)
                lines.append(found)
                kinds.append("same_line")
                changed = True
    redact = [grow(found.box, shape) for found in flagged]
    read = text + [f for f in flagged if f not in text]
    return Judgement(boxes, redact, sorted(set(kinds)), read, [grow(f.box, shape) for f in lines])


def _same_token(fragment: tuple[int, int, int, int], whole: tuple[int, int, int, int]) -> bool:
    """Whether a region touches a flagged one along its line (within half a text height) and is
    no taller: a piece of the same word the detector split off, whatever was read in it."""
    height = whole[3] - whole[1]
    return fragment[3] - fragment[1] <= 1.5 * height and same_line(fragment, whole, 0.5)


def covered(box: tuple[int, int, int, int], redacted: Iterable[tuple[int, int, int, int]]) -> float:
    """The share of the box's area inside the redacted boxes (which may overlap each other)."""
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        return 1.0
    inside = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    for a0, b0, a1, b1 in redacted:
        inside[max(b0, y0) - y0 : max(min(b1, y1) - y0, 0),
               max(a0, x0) - x0 : max(min(a1, x1) - x0, 0)] = True  # fmt: skip
    return float(inside.mean())


MAX_PASSES = 3


def clean_frame(
    frame: np.ndarray,
    values: dict[str, list[str]],
    view: np.ndarray | None = None,
    confidence: float = TEXT_CONFIDENCE,
) -> tuple[np.ndarray, Judgement]:
    """The frame with its PHI text redacted, looking again after each redaction (a detector can
    split a line) until no more is found, at most MAX_PASSES times; a second look judges what is
    left of the text, not the edges of the boxes already filled.

    `view` is what a person sees (palette colour applied), when it differs from the stored
    frame; text is looked for in it and the same boxes are filled in both.
    """
    view = frame if view is None else view
    first = judge(find_text(view), values, frame.shape, confidence=confidence)
    redacted, kinds, lines = list(first.redact), set(first.kinds), list(first.lines)
    cleaned = redact(frame, redacted) if redacted else frame
    seen = redact(view, redacted) if redacted else view
    latest = redacted
    for _ in range(MAX_PASSES - 1):
        if not latest:
            break
        found = [b for b in _detect(ocr_image(seen)) if covered(b.box, redacted) <= COVERED]
        again = judge(found, values, frame.shape, lines, confidence)
        latest = [box for box in again.redact if box not in redacted]
        lines += again.lines
        redacted += latest
        kinds |= set(again.kinds)
        cleaned, seen = redact(cleaned, latest), redact(seen, latest)
    return cleaned, Judgement(first.boxes, redacted, sorted(kinds), first.text, lines)


def grow(box: tuple[int, int, int, int], shape) -> tuple[int, int, int, int]:
    """The box grown by a quarter of its height above and below and by about a character (half
    its height) left and right, inside the frame: detectors often stop a character short."""
    x0, y0, x1, y1 = box
    vertical = max(2, round((y1 - y0) * MARGIN_FRACTION))
    horizontal = max(3, round((y1 - y0) * 2 * MARGIN_FRACTION))
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
