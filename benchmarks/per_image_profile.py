"""Milliseconds per call of every per-image function, on real images of pydicom and pydicom-data.

    python benchmarks/per_image_profile.py [--repeat 20] [--profile local]

For each image (512² CT, 484² MR, 1024² MR, a 1955 x 1841 CR, an RGB ultrasound) it times, in
one process with one OpenCV thread: reading the bytes, hashing them, the header inspection
(parse + de-identification + header row), pixel decoding, intensities and windowing, the
profile's preprocessing, then each feature family of `describe_frame`, and the whole
`extract_instance`. Prints a table of medians (ms) and each function's share of the total.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pydicom

from medspark.config import load_settings
from medspark.dicom.deid import policy_from_settings
from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.pixels import iter_frames, read_image_dataset
from medspark.imaging.extract import extract_instance, pixel_spacing
from medspark.imaging.first_order import first_order
from medspark.imaging.intensity import intensities
from medspark.imaging.preprocess import Frame, apply_steps
from medspark.imaging.render import png_thumbnail
from medspark.imaging.shape import foreground_mask, shape_features, to_uint8
from medspark.imaging.structure import edge_features, hu_moment_features, keypoint_features
from medspark.imaging.texture import glcm_features
from medspark.spark.records.extraction import feature_options

IMAGES = {
    "CT 512²": "693_UNCI.dcm",
    "MR 484²": "MR-SIEMENS-DICOM-WithOverlays.dcm",
    "MR 1024²": "MR2_UNCI.dcm",
    "CR 1955x1841": "RG1_UNCI.dcm",
    "US RGB 480x640": "US1_UNCR.dcm",
}


def find(name: str) -> Path:
    try:
        import data_store

        root = Path(data_store.__file__).parent / "data"
    except ImportError:
        root = Path(pydicom.__file__).parent / "data" / "test_files"
    matches = list(root.rglob(name))
    if not matches:
        raise SystemExit(f"{name} not found: install pydicom-data (pip install pydicom-data)")
    return matches[0]


def median_ms(function: Callable[[], object], repeat: int) -> float:
    function()
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        function()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def profile(path: Path, repeat: int, profile_name: str) -> dict[str, float]:
    settings = load_settings(profile_name)
    features = settings.features
    key = PseudonymKey(b"profile-only-key-0123456789abcdef", "profile")
    inspect_options = InspectOptions("profile", deid=policy_from_settings(settings.deid, key))
    options = feature_options(settings, "profile")
    data = path.read_bytes()
    dataset = read_image_dataset(data, None)
    pixels = next(iter_frames(dataset, [0]))[1]
    rendered = intensities(pixels, dataset, 0, features.window)
    frame = apply_steps(
        Frame(rendered.values, rendered.display, pixel_spacing(dataset, 0)), features.preprocess
    )
    display8 = to_uint8(frame.display)
    mask = foreground_mask(display8)
    region = mask if mask is not None else np.ones(frame.values.shape, dtype=bool)
    row = {**next(inspect_file(str(path), len(data), InspectOptions("profile"))),
           "examine_pixels": False}  # fmt: skip
    bins, width, lower = features.bins, features.bin_width, features.bin_lower_bound
    steps: dict[str, Callable[[], object]] = {
        "read bytes": path.read_bytes,
        "sha256": lambda: hashlib.sha256(data).hexdigest(),
        "inspect (header, deid)": lambda: list(inspect_file(str(path), len(data), inspect_options)),
        "decode": lambda: next(iter_frames(read_image_dataset(data, None), [0])),
        "intensities": lambda: intensities(pixels, dataset, 0, features.window),
        "preprocess": lambda: apply_steps(
            Frame(rendered.values, rendered.display, None), features.preprocess
        ),
        "to_uint8": lambda: to_uint8(frame.display),
        "foreground_mask (Otsu)": lambda: foreground_mask(display8),
        "first_order": lambda: first_order(frame.values, region, bins, width, lower),
        "shape_features": lambda: shape_features(mask, frame.spacing),
        "edge_features (Canny)": lambda: edge_features(display8),
        "hu_moment_features": lambda: hu_moment_features(display8),
        "glcm_features": lambda: glcm_features(
            frame.values, region, bins, features.glcm_distance, width, lower
        ),
        "keypoint_features (ORB)": lambda: keypoint_features(display8),
        "png_thumbnail": lambda: png_thumbnail(display8, features.thumbnail_size),
    }
    timings = {name: median_ms(step, repeat) for name, step in steps.items()}
    timings["extract_instance (whole)"] = median_ms(
        lambda: list(extract_instance(row, options, data)), repeat
    )
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--profile", default="local")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    columns = {
        label: profile(find(name), args.repeat, args.profile) for label, name in IMAGES.items()
    }
    names = list(next(iter(columns.values())))
    print(f"{'ms (median of ' + str(args.repeat) + ')':<28}" + "".join(f"{c:>16}" for c in columns))
    for name in names:
        print(f"{name:<28}" + "".join(f"{columns[c][name]:>16.2f}" for c in columns))


if __name__ == "__main__":
    main()
