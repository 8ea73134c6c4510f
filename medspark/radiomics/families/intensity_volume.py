"""Intensity-volume histogram (IBSI 1, 3.5) over the bins of its own discretisation.

The intensity fraction of bin i is (x_i - x_first) / (x_last - x_first) over every bin of the
range (empty ones too); the volume fraction of bin i is the share of region voxels in bin i or
above.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from medspark.radiomics.family import WHOLE_REGION, Family, FeatureValues, features
from medspark.radiomics.intensity_volume_bins import ivh_bins
from medspark.radiomics.options import IvhDiscretisation

FEATURES = features(
    ("volume_at_intensity_10", "BC2M", "Volume at intensity fraction 10%"),
    ("volume_at_intensity_90", "BC2M", "Volume at intensity fraction 90%"),
    ("intensity_at_volume_10", "GBPN", "Intensity at volume fraction 10%"),
    ("intensity_at_volume_90", "GBPN", "Intensity at volume fraction 90%"),
    (
        "volume_fraction_difference",
        "DDTU",
        "Volume fraction difference between intensity fractions",
    ),
    ("intensity_difference", "CNV2", "Intensity fraction difference between volume fractions"),
    ("area_under_curve", "9CMM", "Area under the IVH curve"),
)


def compute(region, aggregations: Sequence[str] = (), **_: object) -> dict[str, FeatureValues]:
    """IVH features at 10 % and 90 %."""
    bins = (
        region.ivh
        if region.ivh is not None
        else ivh_bins(region.intensities, region.grey_levels, (None, None), IvhDiscretisation())
    )
    levels = bins.intensities
    counts = np.bincount(bins.index, minlength=levels.size)
    volume = np.cumsum(counts[::-1])[::-1] / bins.index.size
    span = levels[-1] - levels[0]
    fraction = (levels - levels[0]) / span if span > 0 else np.zeros(levels.size)

    def volume_at(x: float) -> float:
        above = np.flatnonzero(fraction >= x)
        return float(volume[above[0]]) if above.size else 0.0

    def intensity_at(x: float) -> float:
        below = np.flatnonzero(volume <= x)
        return float(levels[below[0]]) if below.size else float(levels[-1] + bins.step)

    v10, v90 = volume_at(0.1), volume_at(0.9)
    i10, i90 = intensity_at(0.1), intensity_at(0.9)
    return {
        WHOLE_REGION: {
            "volume_at_intensity_10": v10,
            "volume_at_intensity_90": v90,
            "intensity_at_volume_10": i10,
            "intensity_at_volume_90": i90,
            "volume_fraction_difference": v10 - v90,
            "intensity_difference": i10 - i90,
            "area_under_curve": float(np.trapezoid(volume, fraction)) if span > 0 else None,
        }
    }


FAMILY = Family("ivh", "ivh", "Intensity-volume histogram", FEATURES, False, compute)
