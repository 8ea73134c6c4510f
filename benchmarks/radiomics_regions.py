"""Regions per second: medspark's radiomics core and MIRP on the same regions, in one run.

Regions: ellipsoids of several sizes on real MR (pydicom-data's emri_small.dcm, 10 x 64 x 64) and
on real CT (pydicom-data's 693_UNCR.dcm, 512 x 512, stacked to 8 slices), every IBSI family,
32 fixed bins, 3D merged texture (MIRP's default aggregation), one process each. Then the same
regions again with four IBSI 2 filters (mean 5 voxels, Laplacian of Gaussian 2 mm, Laws E5L5S5
energy, Daubechies 2 HHH wavelet; mirror boundary), each adding the 18 statistics of its
response map.

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
from medspark.radiomics.describe import describe_filtered, describe_region
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


FILTERS = [
    {"kind": "mean", "size": 5},
    {"kind": "log", "sigma_mm": 2.0},
    {"kind": "laws", "kernels": "E5L5S5", "energy_delta": 7},
    {"kind": "wavelet", "wavelet": "db2", "configuration": "HHH"},
]
MIRP_FILTERS = {
    "filter_kernels": ["mean", "laplacian_of_gaussian", "laws", "separable_wavelet"],
    "response_map_feature_families": "statistics",
    "mean_filter_kernel_size": 5,
    "mean_filter_boundary_condition": "reflect",
    "laplacian_of_gaussian_sigma": 2.0,
    "laplacian_of_gaussian_kernel_truncate": 4.0,
    "laplacian_of_gaussian_boundary_condition": "reflect",
    "laws_kernel": "E5L5S5",
    "laws_compute_energy": True,
    "laws_delta": 7,
    "laws_rotation_invariance": False,
    "laws_boundary_condition": "reflect",
    "separable_wavelet_families": "db2",
    "separable_wavelet_set": "HHH",
    "separable_wavelet_rotation_invariance": False,
    "separable_wavelet_boundary_condition": "reflect",
}


def ours(cases, settings: RadiomicsSettings) -> float:
    began = time.perf_counter()
    for volume, mask, _ in cases:
        region = prepare_region(volume, mask, (1.0, 1.0, 1.0), settings)
        describe_region(region, settings)
        describe_filtered(region, settings)
    return time.perf_counter() - began


def mirp(cases, **extra) -> float:
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
                **extra,
            )
    return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=12)
    parser.add_argument("--skip-mirp", action="store_true")
    args = parser.parse_args()
    cases = regions(args.regions)
    plain = RadiomicsSettings(aggregation=["3d_merged"])
    filtered = RadiomicsSettings(aggregation=["3d_merged"], filters=FILTERS)
    voxels = sum(int(m.sum()) for _, m, _ in cases)
    print(f"{len(cases)} regions, {voxels} voxels in all")
    timings = {"unfiltered": (ours(cases, plain), None), "4 filters": (ours(cases, filtered), None)}
    if not args.skip_mirp:
        timings = {
            "unfiltered": (timings["unfiltered"][0], mirp(cases)),
            "4 filters": (timings["4 filters"][0], mirp(cases, **MIRP_FILTERS)),
        }
    for name, (mine, theirs) in timings.items():
        line = f"{name}: medspark {mine:.2f} s ({len(cases) / mine:.2f} regions/s)"
        if theirs is not None:
            line += f", MIRP 2.5 {theirs:.2f} s ({len(cases) / theirs:.2f} regions/s)"
            line += f", {theirs / mine:.1f}x"
        print(line)


if __name__ == "__main__":
    main()
