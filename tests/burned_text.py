"""Burn an instance's own identifiers into its pixels, as modalities and workstations do."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pydicom
from pydicom.pixels import apply_color_lut
from pydicom.uid import ExplicitVRLittleEndian, RLELossless, generate_uid

FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX)


def planted_strings(name: str, patient_id: str, birth: str) -> list[str]:
    family, given = name.split("^")
    return [f"{family}, {given}", patient_id, f"{birth[6:]}/{birth[4:6]}/{birth[:4]}"]


def burn(
    source: Path,
    target: Path,
    *,
    name: str = "KOWALSKI^ANNA",
    patient_id: str = "7730419",
    birth: str = "19610214",
    variant: int = 0,
) -> tuple[list[str], np.ndarray]:
    """Write `source` to `target` uncompressed, with the patient's name, ID and birth date drawn
    into every frame (font, size, place and contrast varying with `variant`). Returns the
    strings and the masks of visible ink (frames x rows x columns; where the text differs from
    what was under it by more than a tenth of the range)."""
    dataset = pydicom.dcmread(source)
    pixels = dataset.pixel_array
    dataset.PatientName, dataset.PatientID, dataset.PatientBirthDate = name, patient_id, birth
    frames = pixels if int(dataset.get("NumberOfFrames") or 1) > 1 else pixels[None]
    height, width = frames.shape[1:3]
    scale = max(0.5, width / 900) * (1.0 + 0.3 * (variant % 3))
    thickness = max(1, round(scale * 2))
    top = 0.08 + 0.1 * (variant % 4)
    lines = planted_strings(name, patient_id, birth)
    low, high = int(frames.min()), int(frames.max())
    level = high if variant % 2 == 0 else low + int((high - low) * 0.8)  # full or 80 % contrast
    ink = np.zeros((height, width), dtype=np.uint8)
    font = [FONTS[(variant + n) % 3] for n in range(len(lines))]
    sizes = [cv2.getTextSize(t, f, scale, thickness)[0] for t, f in zip(lines, font, strict=True)]
    widest, line_height = max(w for w, _ in sizes), max(h for _, h in sizes)
    fit = min(1.0, (width - 6) / widest, (height - 6) / (len(lines) * 1.6 * line_height))
    scale, thickness = scale * fit, max(1, round(thickness * fit))
    step = int(1.6 * line_height * fit)
    y = min(int(height * top) + step, height - step * (len(lines) - 1) - 4)
    for number, text in enumerate(lines):
        (text_width, _), _ = cv2.getTextSize(text, font[number], scale, thickness)
        x = min(int(width * (0.03 + 0.4 * (variant % 2))), width - text_width - 3)
        cv2.putText(ink, text, (max(2, x), y + number * step), font[number], scale, 255, thickness)
    burned = frames.copy()
    burned[:, ink > 0] = level
    seen_before, seen_after, span = frames, burned, max(high - low, 1)
    if dataset.get("PhotometricInterpretation") == "PALETTE COLOR":  # what a person sees
        seen_before, seen_after = apply_color_lut(frames, dataset), apply_color_lut(burned, dataset)
        span = max(int(seen_before.max()) - int(seen_before.min()), 1)
    contrast = np.abs(seen_after.astype(np.float64) - seen_before.astype(np.float64))
    if contrast.ndim == 4:
        contrast = contrast.max(axis=-1)
    visible = (contrast > 0.1 * span) & (ink > 0)
    out = burned if int(dataset.get("NumberOfFrames") or 1) > 1 else burned[0]
    original = dataset.file_meta.TransferSyntaxUID
    dataset.PixelData = np.ascontiguousarray(out).tobytes()
    if int(dataset.get("SamplesPerPixel") or 1) > 1:
        dataset.PlanarConfiguration = 0  # the decoded colour written back is interleaved
    if original.is_compressed:
        dataset.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        if dataset.get("PhotometricInterpretation", "").startswith("YBR"):
            dataset.PhotometricInterpretation = "RGB"
        if original == RLELossless:
            dataset.compress(RLELossless, generate_instance_uid=False)
    dataset.BurnedInAnnotation = "YES"
    dataset.SOPInstanceUID = dataset.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    dataset.save_as(target, enforce_file_format=True)
    return lines, visible


def readable(image: np.ndarray, ink: np.ndarray, strings: list[str]) -> list[str]:
    """The planted strings Tesseract (an OCR independent of medspark's) reads in the inked area
    of an 8-bit image, black text on white, scaled up."""
    import shutil

    from tests.conftest import needs

    needs(shutil.which("tesseract") is not None, "tesseract-ocr (apt-get install tesseract-ocr)")
    import pytesseract

    rows, columns = np.nonzero(ink)
    pad = 12
    top, bottom = max(0, rows.min() - pad), rows.max() + pad
    left, right = max(0, columns.min() - pad), columns.max() + pad
    crop = image[top:bottom, left:right]
    grey = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    grey = cv2.resize(grey, None, fx=3, fy=3, interpolation=cv2.INTER_CUBIC)
    level = np.percentile(grey, 99)
    binary = np.where(grey >= 0.8 * level, 0, 255).astype(np.uint8)
    text = pytesseract.image_to_string(binary, config="--psm 6").upper().replace(" ", "")
    return [s for s in strings if s.upper().replace(" ", "") in text]
