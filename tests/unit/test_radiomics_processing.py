"""IBSI image processing of a region: resampling grid, re-segmentation, discretisation."""

from __future__ import annotations

import numpy as np
import pytest

from medspark.config import RadiomicsSettings
from medspark.imaging.discretise import discretise
from medspark.radiomics.processing import prepare_region
from medspark.regions.rejected import RegionRejected


def _ramp(shape=(6, 10, 12)) -> np.ndarray:
    z, y, x = np.indices(shape, dtype=np.float64)
    return 100 * z + 10 * y + x


def test_resampling_keeps_the_grid_centre_and_interpolates_linearly():
    values = _ramp()
    mask = np.ones(values.shape, dtype=bool)
    settings = RadiomicsSettings(resample_mm=(2.0, 2.0, 2.0))  # [x, y, z]
    region = prepare_region(values, mask, (1.0, 1.0, 1.0), settings)
    # 12 columns at 1 mm -> 6 at 2 mm, centres at original indices 0.5, 2.5, ... 10.5
    assert region.values.shape == (3, 5, 6)
    assert region.spacing == (2.0, 2.0, 2.0)
    assert region.values[0, 0, :].tolist() == pytest.approx(
        [50 + 5 + c for c in (0.5, 2.5, 4.5, 6.5, 8.5, 10.5)]
    )


def test_resegmentation_narrows_the_intensity_mask_but_not_the_shape():
    values = _ramp()
    mask = np.zeros(values.shape, dtype=bool)
    mask[1:5, 2:8, 2:10] = True
    plain = prepare_region(values, mask, (1.0, 1.0, 1.0), RadiomicsSettings())
    narrowed = prepare_region(
        values, mask, (1.0, 1.0, 1.0), RadiomicsSettings(resegment=(0.0, 250.0))
    )
    assert narrowed.morphology_mask.sum() == plain.morphology_mask.sum() == 4 * 6 * 8
    assert narrowed.intensity_mask.sum() == 48 + 24  # slice 1 whole, slice 2 up to 249
    assert narrowed.intensities.max() <= 250


def test_fixed_bin_width_from_a_lower_bound_gives_one_value_one_level_everywhere():
    """The issue's example: with the image's own minimum as bin 1, 25 HU lands in different
    levels in two images; from a fixed -1000 HU it lands in the same."""
    first = np.array([-1000.0, -300.0, 25.0, 40.0])
    second = np.array([-40.0, 0.0, 25.0, 300.0])
    own_minimum = (discretise(first, 32, 25.0)[2], discretise(second, 32, 25.0)[2])
    fixed = (discretise(first, 32, 25.0, -1000.0)[2], discretise(second, 32, 25.0, -1000.0)[2])
    assert own_minimum[0] != own_minimum[1]
    assert fixed == (42, 42)
    settings = RadiomicsSettings(
        discretisation={"method": "fixed_bin_width", "bin_width": 25, "lower_bound": -1000}
    )
    region = prepare_region(second.reshape(1, 1, 4), np.ones((1, 1, 4), bool), (1, 1, 1), settings)
    assert region.grey_levels.tolist() == [39, 41, 42, 53] and region.n_levels == 53


def test_fixed_bin_number_spans_the_region_range():
    values = np.arange(64, dtype=np.float64).reshape(1, 8, 8)
    region = prepare_region(
        values,
        np.ones(values.shape, bool),
        (1, 1, 1),
        RadiomicsSettings(discretisation={"method": "fixed_bin_number", "bins": 4}),
    )
    assert np.bincount(region.grey_levels).tolist() == [0, 16, 16, 16, 16]


@pytest.mark.parametrize(
    "mask,settings,reason",
    [
        (np.zeros((2, 4, 4), bool), RadiomicsSettings(), "roi_empty"),
        (np.ones((2, 4, 4), bool), RadiomicsSettings(max_region_voxels=10), "roi_too_large"),
        (np.ones((2, 4, 4), bool), RadiomicsSettings(resegment=(1e6, 2e6)), "roi_empty"),
        (
            np.ones((2, 4, 4), bool),
            RadiomicsSettings(discretisation={"method": "fixed_bin_width", "bin_width": 0.001}),
            "too_many_grey_levels",
        ),
    ],
)
def test_regions_that_cannot_be_described_say_why(mask, settings, reason):
    values = np.arange(32, dtype=np.float64).reshape(2, 4, 4) * 10
    with pytest.raises(RegionRejected) as caught:
        prepare_region(values, mask, (1, 1, 1), settings)
    assert caught.value.reason == reason


def test_profile_rejects_impossible_radiomics_settings():
    from pydantic import ValidationError

    for bad in (
        {"resegment": (5, 1)},
        {"resample_mm": (1, 0, 1)},
        {"discretisation": {"method": "fixed_bin_width"}},
        {"aggregation": ["4d"]},
        {"families": ["wavelets"]},
    ):
        with pytest.raises(ValidationError):
            RadiomicsSettings(**bad)
