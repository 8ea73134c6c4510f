"""Regions per second: medspark's radiomics core and MIRP on the same regions, in one run.

Regions: ellipsoids of several sizes on real MR (pydicom-data's emri_small.dcm, 10 x 64 x 64) and
on real CT (pydicom-data's 693_UNCR.dcm, 512 x 512, stacked to 8 slices), every IBSI family,
32 fixed bins, 3D merged texture (MIRP's default aggregation), one process each.

Usage: .venv/bin/python benchmarks/radiomics_regions.py [--regions 12] [--skip-mirp]
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import numpy as np
import pydicom
from pydicom.data import get_testdata_file
from skimage.draw import ellipse

from medspark.config import RadiomicsSettings
from medspark.radiomics.describe import describe_region
from medspark.radiomics.processing import prepare_region


def regions(count: int) -> list[tuple[np.ndarray, np.ndarray, str]]:
    mr = pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array.astype(np.float64)
    ct_slice = pydicom.dcmread(get_testdata_file("693_UNCR.dcm"))
    ct_values = ct_slice.pixel_array * float(ct_slice.RescaleSlope) + float(
        ct_slice.RescaleIntercept
    )
    ct = np.stack([np.roll(ct_values, 3 * k, axis=1) for k in range(8)]).astype(np.float64)
    found = []
    for n in range(count):
        volume, name = (mr, "MR") if n % 2 == 0 else (ct, "CT")
        radius = 6 + 3 * (n // 2) if name == "MR" else 15 + 10 * (n // 2)
        mask = np.zeros(volume.shape, dtype=bool)
        centre = (volume.shape[1] // 2, volume.shape[2] // 2)
        for k in range(1, volume.shape[0] - 1):
            rows, columns = ellipse(*centre, radius, radius * 0.7, shape=volume.shape[1:])
            mask[k, rows, columns] = True
        found.append((volume, mask, f"{name} {int(mask.sum())} voxels"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=12)
    parser.add_argument("--skip-mirp", action="store_true")
    args = parser.parse_args()
    cases = regions(args.regions)
    settings = RadiomicsSettings(aggregation=["3d_merged"])
    began = time.perf_counter()
    for volume, mask, _ in cases:
        describe_region(prepare_region(volume, mask, (1.0, 1.0, 1.0), settings), settings)
    ours = time.perf_counter() - began
    voxels = sum(int(m.sum()) for _, m, _ in cases)
    print(f"{len(cases)} regions, {voxels} voxels in all")
    print(f"medspark: {ours:.2f} s, {len(cases) / ours:.2f} regions/s")
    if args.skip_mirp:
        return
    from mirp import extract_features

    logging.disable(logging.INFO)
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for volume, mask, _ in cases:
            extract_features(
                image=volume,
                mask=mask,
                image_voxel_spacing=(1.0, 1.0, 1.0),
                base_discretisation_method="fixed_bin_number",
                base_discretisation_n_bins=32,
                base_feature_families="all",
                by_slice=False,
                ibsi_compliant=True,
            )
    theirs = time.perf_counter() - began
    print(f"MIRP 2.5: {theirs:.2f} s, {len(cases) / theirs:.2f} regions/s")
    print(f"medspark is {theirs / ours:.1f}x MIRP's speed on these regions")


if __name__ == "__main__":
    main()
