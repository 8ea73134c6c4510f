"""The statistics of filtered images (IBSI 2 phase 2's features) against MIRP's, on real MR.

pydicom-data's emri_small.dcm (10 frames of 64 x 64) with an elliptical region over six
slices, 1 mm voxels, mirror boundary: for each filter both tools support, the 18
intensity-based statistics of its response map over the region agree within 0.1 %. medspark
filters the region's crop (with the filter's reach around it), MIRP the whole image.
"""

from __future__ import annotations

import warnings

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from skimage.draw import ellipse

from medspark.config import RadiomicsSettings
from medspark.radiomics.catalogue import BY_KEY
from medspark.radiomics.describe import describe_filtered
from medspark.radiomics.processing import prepare_region
from tests.conftest import needs

# medspark's filter, MIRP's settings for it, and the prefix of MIRP's feature names
FILTERS = [
    (
        {"kind": "mean", "size": 5},
        {"filter_kernels": "mean", "mean_filter_kernel_size": 5},
        "mean_d_5",
    ),
    (
        {"kind": "log", "sigma_mm": 1.5},
        {"filter_kernels": "laplacian_of_gaussian", "laplacian_of_gaussian_sigma": 1.5},
        "log_s_1.5",
    ),
    (
        {"kind": "laws", "kernels": "L5E5E5", "rotation_invariant": True, "energy_delta": 3},
        {
            "filter_kernels": "laws",
            "laws_kernel": "L5E5E5",
            "laws_rotation_invariance": True,
            "laws_pooling_method": "max",
            "laws_compute_energy": True,
            "laws_delta": 3,
        },
        "laws_l5e5e5_energy_delta_3_invar",
    ),
    (
        {"kind": "wavelet", "wavelet": "coif1", "configuration": "HHL"},
        {
            "filter_kernels": "separable_wavelet",
            "separable_wavelet_families": "coif1",
            "separable_wavelet_set": "HHL",
            "separable_wavelet_rotation_invariance": False,
        },
        "wavelet_coif1_hhl",
    ),
]
BOUNDARY = "mirror"
MIRP_BOUNDARY = "reflect"


def _mr_and_region() -> tuple[np.ndarray, np.ndarray]:
    volume = pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array.astype(np.float64)
    mask = np.zeros(volume.shape, dtype=bool)
    for k in range(2, 8):
        rows, columns = ellipse(32, 30, 14 - abs(k - 5), 10, shape=volume.shape[1:])
        mask[k, rows, columns] = True
    return volume, mask


@pytest.mark.parametrize("ours, theirs, prefix", FILTERS, ids=[f[0]["kind"] for f in FILTERS])
def test_filtered_statistics_agree_with_mirp(ours, theirs, prefix):
    try:
        import mirp
    except ImportError:
        mirp = None
    needs(mirp is not None, "mirp (pip install -e '.[test]')")
    volume, mask = _mr_and_region()
    settings = RadiomicsSettings(filters=[{**ours, "boundary": BOUNDARY}])
    (row,) = describe_filtered(prepare_region(volume, mask, (1.0, 1.0, 1.0), settings), settings)
    boundary = {
        f"{theirs['filter_kernels']}_boundary_condition": MIRP_BOUNDARY,
    }
    if theirs["filter_kernels"] == "laplacian_of_gaussian":
        boundary = {"laplacian_of_gaussian_boundary_condition": MIRP_BOUNDARY}
    if theirs["filter_kernels"] == "mean":
        boundary = {"mean_filter_boundary_condition": MIRP_BOUNDARY}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = mirp.extract_features(
            image=volume,
            mask=mask,
            image_voxel_spacing=(1.0, 1.0, 1.0),
            base_feature_families="none",
            response_map_feature_families="statistics",
            by_slice=False,
            **theirs,
            **boundary,
        )[0]
    family = BY_KEY["statistics"]
    compared, differ = 0, []
    for feature in family.features:
        columns = [
            c for c in found.columns if c.startswith(prefix) and c.endswith(MIRP_STAT[feature.name])
        ]
        assert len(columns) == 1, (prefix, feature.name)
        other = float(found[columns[0]].iloc[0])
        mine = row[family.column(feature)]
        compared += 1
        if abs(mine - other) > max(1e-6, 1e-3 * abs(other)):
            differ.append((feature.name, mine, other))
    assert compared == 18
    assert differ == []


MIRP_STAT = {
    "mean": "stat_mean",
    "variance": "stat_var",
    "skewness": "stat_skew",
    "kurtosis": "stat_kurt",
    "median": "stat_median",
    "minimum": "stat_min",
    "p10": "stat_p10",
    "p90": "stat_p90",
    "maximum": "stat_max",
    "iqr": "stat_iqr",
    "range": "stat_range",
    "mad": "stat_mad",
    "rmad": "stat_rmad",
    "medad": "stat_medad",
    "cov": "stat_cov",
    "qcod": "stat_qcod",
    "energy": "stat_energy",
    "rms": "stat_rms",
}
