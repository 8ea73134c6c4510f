"""Burned-in text: how much planted PHI is redacted, how many clean frames are touched, what a
frame costs, and how many images a real export holds back before and after.

1. Planted: the instance's own name, ID and birth date drawn into real frames (pydicom and
   pydicom-data: ultrasound, secondary capture, X-ray, test pattern; 4 variants of font, size,
   place and contrast each). A frame is fully redacted when no visible planted pixel survives.
2. Clean: real frames with no planted text (CT, MR, the at-risk originals' own pixels are not
   counted: some carry the modality's own burned-in annotations). A clean frame is wrongly
   redacted when any box is filled.
3. Held back: the at-risk images among pydicom's test files (the demo input) under
   deid.pixels hold_back (before) and detect_and_redact (after), from the features job's rules.

Usage: .venv/bin/python benchmarks/burned_in_text.py
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from medspark.imaging.burned_in_text import clean_frame, header_values
from tests.burned_text import burn

PLANTED = ("US1_UNCR.dcm", "OBXXXX1A.dcm", "JPGLosslessP14SV1_1s_1f_8b.dcm", "mlut_18.dcm",
           "RG3_UNCR.dcm", "SC_rgb.dcm", "examples_rgb_color.dcm", "color-pl.dcm")  # fmt: skip
CLEAN = ("CT_small.dcm", "MR_small.dcm", "693_UNCR.dcm", "MR2_UNCR.dcm", "emri_small.dcm",
         "liver.dcm", "rtdose.dcm")  # fmt: skip


def _first_frame(dataset: pydicom.Dataset) -> np.ndarray:
    pixels = dataset.pixel_array
    return pixels[0] if int(dataset.get("NumberOfFrames") or 1) > 1 else pixels


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    full = frames = 0
    timings = []
    for name in PLANTED:
        for variant in range(4):
            target = folder / f"{variant}-{name}"
            _, inks = burn(get_testdata_file(name), target, variant=variant)
            dataset = pydicom.dcmread(target)
            frame = _first_frame(dataset)
            view = None
            if dataset.get("PhotometricInterpretation") == "PALETTE COLOR":
                view = pydicom.pixels.apply_color_lut(frame, dataset)
            began = time.perf_counter()
            cleaned, _ = clean_frame(frame, header_values(dataset), view)
            timings.append((time.perf_counter() - began) * 1000)
            ink = inks[0]
            same = cleaned[ink] == frame[ink]
            left = int((same.all(axis=-1) if same.ndim == 2 else same).sum())
            frames += 1
            full += left == 0
            if left:
                print(f"  {name} variant {variant}: {left} of {int(ink.sum())} ink pixels left")
    touched = 0
    for name in CLEAN:
        dataset = pydicom.dcmread(get_testdata_file(name))
        frame = _first_frame(dataset)
        began = time.perf_counter()
        _, judgement = clean_frame(frame, header_values(dataset))
        timings.append((time.perf_counter() - began) * 1000)
        touched += bool(judgement.redact)
    print(f"planted-PHI frames fully redacted: {full} of {frames} ({100 * full / frames:.0f} %)")
    print(f"clean frames wrongly redacted: {touched} of {len(CLEAN)}")
    print(
        f"cost per frame: median {np.median(timings):.0f} ms, p90 {np.percentile(timings, 90):.0f}"
        f" ms over {len(timings)} frames"
    )


if __name__ == "__main__":
    main()
