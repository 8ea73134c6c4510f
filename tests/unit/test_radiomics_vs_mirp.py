"""The families agree with MIRP, an independent IBSI implementation, on real MR data.

pydicom-data's emri_small.dcm (10 frames of 64x64, a real MR acquisition) with an elliptical
region over six slices, 32 fixed bins, features from the 3D merged matrices. Voxels are taken as
isotropic 1 mm because MIRP reads the spacing of a numpy image differently from its NIfTI path.
"""

from __future__ import annotations

import warnings
from collections import defaultdict

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file
from skimage.draw import ellipse

from medspark.config import RadiomicsSettings
from medspark.radiomics.describe import describe_region
from medspark.radiomics.processing import prepare_region
from tests.conftest import SHARED_DATA, needs
from tests.ibsi_reference import reference_rows

MIRP_SUFFIX = {
    "statistics": "",
    "histogram": "_fbn_n32",
    "glcm": "_d1_3d_v_mrg_fbn_n32",
    "glrlm": "_3d_v_mrg_fbn_n32",
    "glszm": "_3d_fbn_n32",
    "gldzm": "_3d_fbn_n32",
    "ngtdm": "_3d_fbn_n32",
    "ngldm": "_d1_a0.0_3d_fbn_n32",
}


@pytest.fixture(scope="module")
def both():
    try:
        import mirp
    except ImportError:
        mirp = None
    needs(mirp is not None, "mirp (pip install -e '.[test]')")
    needs((SHARED_DATA / "ibsi_digital_phantom").is_dir(), "shared/data/ibsi_digital_phantom")
    volume = pydicom.dcmread(get_testdata_file("emri_small.dcm")).pixel_array.astype(np.float64)
    mask = np.zeros(volume.shape, dtype=bool)
    for k in range(2, 8):
        rows, columns = ellipse(32, 30, 14 - abs(k - 5), 10, shape=volume.shape[1:])
        mask[k, rows, columns] = True
    settings = RadiomicsSettings(aggregation=["3d_merged"])
    ours = describe_region(prepare_region(volume, mask, (1.0, 1.0, 1.0), settings), settings)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = mirp.extract_features(
            image=volume,
            mask=mask,
            image_voxel_spacing=(1.0, 1.0, 1.0),
            base_discretisation_method="fixed_bin_number",
            base_discretisation_n_bins=32,
            base_feature_families="all",
            by_slice=False,
            ibsi_compliant=True,
        )[0]
    return ours, theirs


def test_at_least_five_families_agree_with_mirp(both):
    ours, theirs = both
    compared: dict[str, list[str]] = defaultdict(list)
    differ = []
    seen = set()
    for row in reference_rows(SHARED_DATA / "ibsi_digital_phantom" / "reference_values.csv"):
        if row.family not in MIRP_SUFFIX or row.column in seen or not row.ibsi_name:
            continue
        seen.add(row.column)
        name = row.ibsi_name.replace(".", "_") + MIRP_SUFFIX[row.family]
        if name not in theirs.columns:
            continue
        aggregation = "3d" if row.family in ("statistics", "histogram") else "3d_merged"
        mine, other = ours[aggregation][row.column], float(theirs[name].iloc[0])
        compared[row.family].append(row.column)
        if not abs(mine - other) <= 1e-6 * max(1.0, abs(other)):
            differ.append((row.column, mine, other))
    print({family: len(columns) for family, columns in compared.items()})
    assert differ == []
    assert len([f for f, columns in compared.items() if len(columns) >= 4]) >= 5
    assert sum(len(c) for c in compared.values()) >= 100
