"""Burned-in text: how much planted PHI is left readable, how much of the image around it is
destroyed, how many text-free frames are touched, and what a frame costs.

1. Planted: the instance's own name, ID and birth date drawn into real frames (pydicom and
   pydicom-data: ultrasound, secondary capture, X-ray, test pattern; 4 variants of font, size,
   place and contrast each). Per frame: the planted ink left, the planted strings PP-OCR
   (medspark's detector) and Tesseract (an independent OCR) still read, and the collateral: the
   share of the frame's pixels changed outside the planted text's box padded by a fifth of the
   frame's shorter side.
2. Text-free: real frames with no text, as stored and as a workstation's secondary capture
   (8-bit, full range): CT, MR (brain 1024², knee 484²), NM, RT dose. A text-free frame is
   touched when any pixel changes.

Usage: .venv/bin/python benchmarks/burned_in_text.py
"""

from __future__ import annotations

import re
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from medspark.imaging.burned_in_text import clean_frame, find_text, header_values, ocr_image
from tests.burned_text import burn, readable

PLANTED = ("US1_UNCR.dcm", "OBXXXX1A.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "mlut_18.dcm",
           "RG3_UNCR.dcm", "SC_rgb.dcm", "examples_rgb_color.dcm", "color-pl.dcm")  # fmt: skip
TEXT_FREE = ("CT_small.dcm", "MR_small.dcm", "693_UNCR.dcm", "MR2_UNCR.dcm", "emri_small.dcm",
             "MR-SIEMENS-DICOM-WithOverlays.dcm", "JPEG2000_UNC.dcm", "rtdose.dcm")  # fmt: skip


def _first_frame(dataset: pydicom.Dataset) -> np.ndarray:
    pixels = dataset.pixel_array
    return pixels[0] if int(dataset.get("NumberOfFrames") or 1) > 1 else pixels


def secondary_capture(frame: np.ndarray) -> np.ndarray:
    """The frame as a workstation's screen capture stores it: 8-bit grey over its full range."""
    values = frame.astype(np.float64)
    low, high = float(values.min()), float(values.max())
    return np.round((values - low) * 255 / max(high - low, 1e-9)).astype(np.uint8)


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """Pixels (rows x columns) whose value changed in any channel."""
    differ = before != after
    return differ.any(axis=-1) if differ.ndim == 3 else differ


def collateral(before: np.ndarray, after: np.ndarray, ink: np.ndarray) -> float:
    """The share of the frame changed outside the planted text's box padded by a fifth of the
    frame's shorter side."""
    rows, columns = np.nonzero(ink)
    pad = min(ink.shape) // 5
    inside = np.zeros(ink.shape, dtype=bool)
    inside[max(0, rows.min() - pad) : rows.max() + pad + 1,
           max(0, columns.min() - pad) : columns.max() + pad + 1] = True  # fmt: skip
    return float((changed(before, after) & ~inside).sum()) / ink.size


def _normal(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


def ppocr_reads(frame: np.ndarray, strings: list[str]) -> list[str]:
    """The planted strings medspark's PP-OCR detector and recogniser still read in the frame."""
    text = "".join(_normal(box.text) for box in find_text(frame))
    return [s for s in strings if _normal(s) in text]


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    timings, losses, rows = [], [], []
    ink_left_frames = ppocr_leaks = tesseract_leaks = 0
    for name in PLANTED:
        for variant in range(4):
            target = folder / f"{variant}-{name}"
            strings, inks = burn(get_testdata_file(name), target, variant=variant)
            dataset = pydicom.dcmread(target)
            frame = _first_frame(dataset)
            view = None
            if dataset.get("PhotometricInterpretation") == "PALETTE COLOR":
                view = pydicom.pixels.apply_color_lut(frame, dataset)
            began = time.perf_counter()
            cleaned, _ = clean_frame(frame, header_values(dataset), view)
            timings.append((time.perf_counter() - began) * 1000)
            ink = inks[0]
            left = int((~changed(frame, cleaned) & ink).sum())
            seen_before = frame if view is None else view
            seen_after = (
                cleaned if view is None else pydicom.pixels.apply_color_lut(cleaned, dataset)
            )
            read_pp = ppocr_reads(seen_after, strings)
            read_tess = readable(ocr_image(seen_after), ink, strings)
            loss = collateral(seen_before, seen_after, ink)
            losses.append(loss)
            ink_left_frames += left > 0
            ppocr_leaks += len(read_pp)
            tesseract_leaks += len(read_tess)
            rows.append((f"{name} v{variant}", left, len(read_pp), len(read_tess), loss))
    touched = []
    for name in TEXT_FREE:
        dataset = pydicom.dcmread(get_testdata_file(name))
        stored = _first_frame(dataset)
        for kind, frame in (("stored", stored), ("secondary capture", secondary_capture(stored))):
            began = time.perf_counter()
            cleaned, judgement = clean_frame(frame, header_values(dataset))
            timings.append((time.perf_counter() - began) * 1000)
            share = float(changed(frame, cleaned).mean())
            if share or judgement.redact:
                touched.append((f"{name} ({kind})", share))
    print("planted frame               ink left  PP-OCR reads  Tesseract reads  collateral")
    for label, left, pp, tess, loss in rows:
        print(f"  {label:<32} {left:>6} {pp:>10} {tess:>12} {100 * loss:>14.2f} %")
    print(
        f"planted strings still readable: PP-OCR {ppocr_leaks}, Tesseract {tesseract_leaks}"
        f" (of {3 * len(rows)} in {len(rows)} frames; frames with ink left: {ink_left_frames})"
    )
    print(
        f"collateral outside the padded text box: median {100 * np.median(losses):.2f} %,"
        f" worst {100 * max(losses):.2f} % of the frame"
    )
    print(
        f"text-free frames touched: {len(touched)} of {2 * len(TEXT_FREE)}"
        + "".join(f"\n  {label}: {100 * share:.2f} % changed" for label, share in touched)
    )
    print(
        f"cost per frame: median {np.median(timings):.0f} ms, p90 "
        f"{np.percentile(timings, 90):.0f} ms over {len(timings)} frames"
    )


if __name__ == "__main__":
    main()
