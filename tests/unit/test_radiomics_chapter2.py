"""IBSI 1 chapter 2 settings, each against hand-computed values: in-plane resampling, cubic
interpolation, the mask's partial-volume threshold, intensity rounding, re-segmentation by
outliers, the intensity-volume histogram's own bins and exact spatial autocorrelation."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from medspark.config import RadiomicsSettings
from medspark.radiomics.intensity_volume_bins import ivh_bins
from medspark.radiomics.options import IvhDiscretisation
from medspark.radiomics.processing import prepare_region, rounds_intensities
from medspark.radiomics.spatial_autocorrelation import estimated, exact


def _ramp(shape=(6, 10, 12)) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=np.float64)
    return 100 * z + 10 * y + x


def test_a_null_axis_keeps_its_spacing_in_plane_resampling():
    values = _ramp()
    settings = RadiomicsSettings(resample_mm=(2.0, 2.0, None))
    region = prepare_region(values, np.ones(values.shape, bool), (3.0, 1.0, 1.0), settings)
    assert region.spacing == (3.0, 2.0, 2.0)
    assert region.values.shape == (6, 5, 6)
    assert region.values[:, 0, 0].tolist() == pytest.approx([100 * z + 5 + 0.5 for z in range(6)])


def test_cubic_interpolation_reproduces_a_cubic_polynomial_inside_the_image():
    x = np.arange(40, dtype=np.float64)
    values = np.broadcast_to(0.01 * x**3 - 0.2 * x**2 + x, (3, 4, 40)).copy()
    mask = np.ones(values.shape, bool)
    errors = {}
    for interpolation in ("linear", "cubic"):
        settings = RadiomicsSettings(resample_mm=(0.5, 1, 1), interpolation=interpolation)
        region = prepare_region(values, mask, (1, 1, 1), settings)
        assert region.values.shape == (3, 4, 80)
        # column j of the 0.5 mm grid sits at original index 0.5 j - 0.25
        positions = 0.5 * np.arange(80) - 0.25
        truth = 0.01 * positions**3 - 0.2 * positions**2 + positions
        errors[interpolation] = np.abs(region.values[1, 1] - truth)[20:60].max()
    assert errors["cubic"] < 1e-3 < 0.01 < errors["linear"]


def test_the_mask_threshold_decides_which_partial_voxels_stay():
    values = np.zeros((1, 1, 8))
    mask = np.zeros((1, 1, 8), bool)
    mask[0, 0, 2:6] = True
    kept = {
        threshold: int(
            prepare_region(
                values,
                mask,
                (1, 1, 1),
                RadiomicsSettings(resample_mm=(0.5, 1, 1), mask_threshold=threshold),
            ).morphology_mask.sum()
        )
        for threshold in (0.2, 0.5, 0.9)
    }
    # 8 columns at 1 mm -> 16 at 0.5 mm; the region's edge samples hold 0.25 and 0.75 of it
    assert kept == {0.2: 10, 0.5: 8, 0.9: 6}


def test_intensities_are_rounded_for_ct_by_default_and_as_asked():
    auto = RadiomicsSettings()
    assert rounds_intensities(auto, "CT") and not rounds_intensities(auto, "MR")
    assert rounds_intensities(RadiomicsSettings(intensity_rounding="on"), "MR")
    assert not rounds_intensities(RadiomicsSettings(intensity_rounding="off"), "CT")
    values = np.array([[[-0.4, 0.6, 1.5, 2.49]]])
    region = prepare_region(values, np.ones(values.shape, bool), (1, 1, 1), auto, modality="CT")
    assert region.values.ravel().tolist() == [0.0, 1.0, 2.0, 2.0]


def test_outlier_resegmentation_keeps_mean_plus_minus_k_sd_inside_the_range():
    values = np.array([[[-2000.0] + [0.0] * 9 + [10.0] * 10 + [300.0]]])
    mask = np.ones(values.shape, bool)
    # the region's mean -76.2 and SD 434.7 (as drawn): 1 SD keeps -510.9 .. 358.6
    alone = prepare_region(
        values, mask, (1, 1, 1), RadiomicsSettings(resegment_outliers_sd=1.0), modality="MR"
    )
    assert sorted(set(alone.intensities.tolist())) == [0.0, 10.0, 300.0]
    both = RadiomicsSettings(resegment=(-1000, 100), resegment_outliers_sd=1.0)
    region = prepare_region(values, mask, (1, 1, 1), both, modality="MR")
    assert sorted(set(region.intensities.tolist())) == [0.0, 10.0]
    assert alone.morphology_mask.sum() == 21


def test_ivh_bins_of_each_discretisation():
    intensities = np.array([-3.0, -1.0, 0.0, 0.0, 2.0])
    levels = np.array([1, 2, 2, 2, 4])
    texture = ivh_bins(intensities, levels, (None, None), IvhDiscretisation())
    assert texture.intensities.tolist() == [1, 2, 3, 4] and texture.index.tolist() == [
        0,
        1,
        1,
        1,
        3,
    ]
    raw = ivh_bins(intensities, levels, (-4.5, 2.5), IvhDiscretisation(method="none"))
    assert raw.intensities.tolist() == [-4, -3, -2, -1, 0, 1, 2]
    assert raw.index.tolist() == [1, 3, 4, 4, 6] and raw.step == 1
    width = ivh_bins(
        intensities, levels, (-4.0, None), IvhDiscretisation(method="fixed_bin_width", bin_width=2)
    )
    assert width.intensities.tolist() == [-3, -1, 1, 3] and width.index.tolist() == [0, 1, 2, 2, 3]
    number = ivh_bins(
        intensities, levels, (None, None), IvhDiscretisation(method="fixed_bin_number", bins=5)
    )
    assert number.intensities.tolist() == [1, 2, 3, 4, 5]
    assert number.index.tolist() == [0, 2, 3, 3, 4]


def test_exact_autocorrelation_equals_the_pairwise_definition_across_blocks():
    generator = np.random.default_rng(5)
    positions = generator.uniform(0, 30, (700, 3))
    intensities = positions[:, 0] + generator.normal(0, 5, 700)
    n = intensities.size
    distance = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    weights = 1 / distance
    deviation = intensities - intensities.mean()
    moran = n / weights.sum() * (deviation @ weights @ deviation) / np.sum(deviation**2)
    geary = (
        (n - 1)
        * np.sum(weights * (intensities[:, None] - intensities[None]) ** 2)
        / (2 * weights.sum() * np.sum(deviation**2))
    )
    assert exact(positions, intensities) == pytest.approx((moran, geary), rel=1e-10)
    sampled = estimated(positions, intensities)
    assert sampled[0] > 0 and sampled[1] < 1  # the gradient shows as positive autocorrelation


def test_invalid_chapter_two_settings_are_refused():
    for bad in (
        {"resample_mm": (2.0, -1.0, None)},
        {"interpolation": "spline"},
        {"mask_threshold": 0},
        {"resegment_outliers_sd": -3},
        {"ivh": {"method": "fixed_bin_width"}},
        {"filters": [{"kind": "mean", "size": 4}]},
        {"filters": [{"kind": "laws", "kernels": "L5X5"}]},
        {"filters": [{"kind": "gabor", "sigma_mm": 5, "lambda_mm": 2, "theta_step_deg": 50}]},
        {"filters": [{"kind": "wavelet", "wavelet": "nosuch", "configuration": "LL"}]},
        {"filters": [{"kind": "simoncelli", "boundary": "mirror"}]},
    ):
        with pytest.raises(ValidationError):
            RadiomicsSettings(**bad)
    assert RadiomicsSettings(resample_mm=(None, None, None)).resample_mm is None
