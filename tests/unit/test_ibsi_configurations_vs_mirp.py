"""IBSI 1's five image-processing configurations (A-E, the CT radiomics phantom's) computed
by medspark and by MIRP, the reference implementation, on real CT from pydicom-data.

eCT_Supplemental.dcm: an enhanced CT of two 512 x 512 frames (0.39 mm pixels, 10 mm apart),
in HU, with an elliptical cylinder through both frames as the region. Both tools read the same
arrays (MIRP through NIfTI files) and each configuration's settings, as IBSI 1 table 5.1 and
MIRP's own IBSI tests set them up. Compared: every feature of every family both name, at the
configuration's aggregations; a value agrees within 0.1 % (or 1e-6 absolute near zero).

Two conventions differ, and only they may:
- the local intensity peaks where the 1 cm3 sphere leaves the image (here in z, the CT has two
  frames): MIRP fills outside the image with CT's lowest intensity, medspark averages the voxels
  of the sphere inside the image;
- the intensity-volume histogram without discretisation when re-segmentation by outliers gives
  a range of non-integer bounds (configuration D): medspark counts whole-HU bins between the
  bounds; MIRP mixes the bounds' fractional positions into its bins.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from medspark.config import RadiomicsSettings
from medspark.radiomics.describe import describe_region
from medspark.radiomics.processing import prepare_region
from tests.conftest import SHARED_DATA, needs
from tests.ibsi_reference import reference_rows

CT_SPACING = (10.0, 0.388672, 0.388672)
AGREEMENT_REQUIRED = 0.95
CONVENTIONS_APART = {
    "li_local_peak",
    "li_global_peak",
    "ivh_volume_at_intensity_90",
    "ivh_volume_fraction_difference",
}
RELATIVE, ABSOLUTE = 1e-3, 1e-6

# MIRP's names of the features the IBSI table names differently
MIRP_NAMES = {
    "morph_volume": "morph_volume",
    "morph_approximate_volume": "morph_vol_approx",
    "morph_surface_area": "morph_area_mesh",
    "morph_surface_to_volume_ratio": "morph_av",
    "morph_compactness_1": "morph_comp_1",
    "morph_compactness_2": "morph_comp_2",
    "morph_spherical_disproportion": "morph_sph_dispr",
    "morph_sphericity": "morph_sphericity",
    "morph_asphericity": "morph_asphericity",
    "morph_centre_of_mass_shift": "morph_com",
    "morph_maximum_3d_diameter": "morph_diam",
    "morph_major_axis_length": "morph_pca_maj_axis",
    "morph_minor_axis_length": "morph_pca_min_axis",
    "morph_least_axis_length": "morph_pca_least_axis",
    "morph_elongation": "morph_pca_elongation",
    "morph_flatness": "morph_pca_flatness",
    "morph_volume_density_aabb": "morph_vol_dens_aabb",
    "morph_area_density_aabb": "morph_area_dens_aabb",
    "morph_volume_density_aee": "morph_vol_dens_aee",
    "morph_area_density_aee": "morph_area_dens_aee",
    "morph_volume_density_convex_hull": "morph_vol_dens_conv_hull",
    "morph_area_density_convex_hull": "morph_area_dens_conv_hull",
    "morph_integrated_intensity": "morph_integ_int",
    "morph_morans_i": "morph_moran_i",
    "morph_gearys_c": "morph_geary_c",
    "li_local_peak": "loc_peak_loc",
    "li_global_peak": "loc_peak_glob",
    "ivh_volume_at_intensity_10": "ivh_v10",
    "ivh_volume_at_intensity_90": "ivh_v90",
    "ivh_intensity_at_volume_10": "ivh_i10",
    "ivh_intensity_at_volume_90": "ivh_i90",
    "ivh_volume_fraction_difference": "ivh_diff_v10_v90",
    "ivh_intensity_difference": "ivh_diff_i10_i90",
}
WHOLE_REGION_FAMILIES = ("morphology", "local_intensity", "ivh", "statistics", "histogram")
MIRP_AGGREGATION = {
    "2d_averaged": ("2d_avg", "2d"),
    "2d_slice_merged": ("2d_s_mrg", None),
    "3d_averaged": ("3d_avg", None),
    "3d_merged": ("3d_v_mrg", "3d"),
}


@dataclass(frozen=True)
class Configuration:
    """One IBSI configuration in medspark's settings and in MIRP's."""

    ours: dict[str, Any]
    theirs: dict[str, Any]
    by_slice: bool
    discretisation_suffix: str
    aggregations: tuple[str, ...]
    ellipse: tuple[int, int] = field(default=(40, 30))


FBW_25 = {"method": "fixed_bin_width", "bin_width": 25}
FBN_32 = {"method": "fixed_bin_number", "bins": 32}
MIRP_FBW_25 = {
    "base_discretisation_method": "fixed_bin_size",
    "base_discretisation_bin_width": 25.0,
}
MIRP_FBN_32 = {"base_discretisation_method": "fixed_bin_number", "base_discretisation_n_bins": 32}
ISOTROPIC_2MM = {"resample_mm": (2.0, 2.0, 2.0)}
TWO_D = ("2d_averaged", "2d_slice_merged")
THREE_D = ("3d_averaged", "3d_merged")

CONFIGURATIONS = {
    "A": Configuration(
        {"resegment": (-500, 400), "discretisation": FBW_25, "ivh": {"method": "none"}},
        {
            "resegmentation_intensity_range": [-500.0, 400.0],
            **MIRP_FBW_25,
            "ivh_discretisation_method": "none",
        },
        True,
        "fbs_w25.0",
        TWO_D,
    ),
    "B": Configuration(
        {
            "resample_mm": (2.0, 2.0, None),
            "resegment": (-500, 400),
            "discretisation": FBN_32,
            "ivh": {"method": "none"},
        },
        {
            "new_spacing": 2.0,
            "spline_order": 1,
            "resegmentation_intensity_range": [-500.0, 400.0],
            **MIRP_FBN_32,
            "ivh_discretisation_method": "none",
        },
        True,
        "fbn_n32",
        TWO_D,
        (120, 90),
    ),
    "C": Configuration(
        {
            **ISOTROPIC_2MM,
            "resegment": (-1000, 400),
            "discretisation": FBW_25,
            "ivh": {"method": "fixed_bin_width", "bin_width": 2.5},
        },
        {
            "new_spacing": 2.0,
            "spline_order": 1,
            "resegmentation_intensity_range": [-1000.0, 400.0],
            **MIRP_FBW_25,
            "ivh_discretisation_method": "fixed_bin_size",
            "ivh_discretisation_bin_width": 2.5,
        },
        False,
        "fbs_w25.0",
        THREE_D,
        (120, 90),
    ),
    "D": Configuration(
        {
            **ISOTROPIC_2MM,
            "resegment_outliers_sd": 3.0,
            "discretisation": FBN_32,
            "ivh": {"method": "none"},
        },
        {
            "new_spacing": 2.0,
            "spline_order": 1,
            "resegmentation_sigma": 3.0,
            **MIRP_FBN_32,
            "ivh_discretisation_method": "none",
        },
        False,
        "fbn_n32",
        THREE_D,
        (120, 90),
    ),
    "E": Configuration(
        {
            **ISOTROPIC_2MM,
            "interpolation": "cubic",
            "resegment": (-1000, 400),
            "resegment_outliers_sd": 3.0,
            "discretisation": FBN_32,
            "ivh": {"method": "fixed_bin_number", "bins": 1000},
        },
        {
            "new_spacing": 2.0,
            "spline_order": 3,
            "resegmentation_intensity_range": [-1000.0, 400.0],
            "resegmentation_sigma": 3.0,
            **MIRP_FBN_32,
            "ivh_discretisation_method": "fixed_bin_number",
            "ivh_discretisation_n_bins": 1000,
        },
        False,
        "fbn_n32",
        THREE_D,
        (120, 90),
    ),
}


def _mirp_name(family: str, ibsi_name: str, aggregation: str, suffix: str) -> str | None:
    base = ibsi_name.replace(".", "_")
    if family == "statistics":
        return base
    if family == "histogram":
        return f"{base}_{suffix}"
    averaged, zoned = MIRP_AGGREGATION[aggregation]
    if family == "glcm":
        return f"{base}_d1_{averaged}_{suffix}"
    if family == "glrlm":
        return f"{base}_{averaged}_{suffix}"
    if zoned is None:
        return None
    if family == "ngldm":
        return f"{base}_d1_a0.0_{zoned}_{suffix}"
    return f"{base}_{zoned}_{suffix}"


def _ct_and_region(ellipse: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    import pydicom
    from pydicom.data import get_testdata_file

    ds = pydicom.dcmread(get_testdata_file("eCT_Supplemental.dcm"))
    rescale = ds.SharedFunctionalGroupsSequence[0].PixelValueTransformationSequence[0]
    slope, intercept = float(rescale.RescaleSlope), float(rescale.RescaleIntercept)
    hounsfield = ds.pixel_array.astype(np.float64) * slope + intercept
    _, rows, columns = np.indices(hounsfield.shape)
    a, b = ellipse
    mask = ((rows - 250) / a) ** 2 + ((columns - 260) / b) ** 2 <= 1.0
    return hounsfield, mask


def _mirp_features(folder, hounsfield, mask, configuration: Configuration):
    import mirp
    import nibabel

    affine = np.diag([CT_SPACING[2], CT_SPACING[1], CT_SPACING[0], 1.0])
    image, region = folder / "image.nii.gz", folder / "mask.nii.gz"
    nibabel.save(nibabel.Nifti1Image(hounsfield.T.astype(np.float32), affine), image)
    nibabel.save(nibabel.Nifti1Image(mask.T.astype(np.uint8), affine), region)
    spatial = (
        {
            "glcm_spatial_method": ["2d_average", "2d_slice_merge"],
            "glrlm_spatial_method": ["2d_average", "2d_slice_merge"],
            **{f"{m}_spatial_method": ["2d"] for m in ("glszm", "gldzm", "ngtdm", "ngldm")},
        }
        if configuration.by_slice
        else {
            "glcm_spatial_method": ["3d_average", "3d_volume_merge"],
            "glrlm_spatial_method": ["3d_average", "3d_volume_merge"],
            **{f"{m}_spatial_method": ["3d"] for m in ("glszm", "gldzm", "ngtdm", "ngldm")},
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mirp.extract_features(
            image=str(image),
            mask=str(region),
            image_modality="CT",
            by_slice=configuration.by_slice,
            anti_aliasing=False,
            base_feature_families="all",
            no_approximation=True,
            glcm_distance=1.0,
            ngldm_distance=1.0,
            ngldm_difference_level=0.0,
            **spatial,
            **configuration.theirs,
        )[0]


def compare(tmp_path, name: str) -> tuple[dict[str, list[str]], list[tuple]]:
    """Per family the columns compared, and the (column, aggregation, ours, MIRP) that differ."""
    configuration = CONFIGURATIONS[name]
    hounsfield, mask = _ct_and_region(configuration.ellipse)
    settings = RadiomicsSettings(aggregation=list(configuration.aggregations), **configuration.ours)
    prepared = prepare_region(hounsfield, mask, CT_SPACING, settings, modality="CT")
    ours = describe_region(prepared, settings)
    theirs = _mirp_features(tmp_path, hounsfield, mask, configuration)
    compared: dict[str, list[str]] = defaultdict(list)
    differ = []
    seen = set()
    wanted = []
    for row in reference_rows(SHARED_DATA / "ibsi_digital_phantom" / "reference_values.csv"):
        if row.family in WHOLE_REGION_FAMILIES:
            aggregations: tuple[str, ...] = ("3d",)
        else:
            aggregations = configuration.aggregations
        for aggregation in aggregations:
            if (row.column, aggregation) in seen:
                continue
            seen.add((row.column, aggregation))
            mirp_name = MIRP_NAMES.get(row.column) or (
                _mirp_name(
                    row.family, row.ibsi_name, aggregation, configuration.discretisation_suffix
                )
                if row.ibsi_name and row.family not in ("morphology", "local_intensity", "ivh")
                else None
            )
            if mirp_name and mirp_name in theirs.columns:
                wanted.append((row.family, row.column, aggregation, mirp_name))
    for family, column, aggregation, mirp_name in wanted:
        mine = ours.get(aggregation, {}).get(column)
        other = float(theirs[mirp_name].iloc[0])
        compared[family].append(f"{column}@{aggregation}")
        if mine is None or not np.isfinite(other):
            if not (mine is None and not np.isfinite(other)):
                differ.append((column, aggregation, mine, other))
            continue
        if abs(mine - other) > max(ABSOLUTE, RELATIVE * abs(other)):
            differ.append((column, aggregation, mine, other))
    return compared, differ


@pytest.fixture(scope="module")
def mirp_available():
    try:
        import mirp  # noqa: F401
    except ImportError:
        needs(False, "mirp (pip install -e '.[test]')")
    needs((SHARED_DATA / "ibsi_digital_phantom").is_dir(), "shared/data/ibsi_digital_phantom")


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_configuration_agrees_with_mirp(tmp_path, mirp_available, name):
    compared, differ = compare(tmp_path, name)
    total = sum(len(c) for c in compared.values())
    print(name, {family: len(columns) for family, columns in compared.items()}, differ)
    assert len(compared) >= 10, f"families compared: {sorted(compared)}"
    assert total >= 150
    assert 1 - len(differ) / total >= AGREEMENT_REQUIRED, differ
    assert {column for column, *_ in differ} <= CONVENTIONS_APART, differ
