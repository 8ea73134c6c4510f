"""Every requested family of one region, as rows: one per aggregation method, and one per
IBSI 2 filter with the intensity statistics of its response map."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from medspark.radiomics.catalogue import BY_KEY
from medspark.radiomics.family import WHOLE_REGION
from medspark.radiomics.filters import response_map
from medspark.radiomics.filters.columns import filter_columns
from medspark.radiomics.options import RadiomicsSettings
from medspark.radiomics.region import RegionImage


def describe_region(region: RegionImage, settings: RadiomicsSettings) -> dict[str, dict[str, Any]]:
    """{aggregation: {column: value}}; families without an aggregation fill the `3d` row."""
    families = [BY_KEY[key] for key in settings.families]
    rows: dict[str, dict[str, Any]] = {}
    aggregations: Sequence[str] = settings.aggregation
    for family in families:
        computed = family.compute(
            region,
            aggregations if family.textural else (WHOLE_REGION,),
            distance=settings.glcm_distance,
            exact_autocorrelation_voxels=settings.autocorrelation_exact_voxels,
        )
        for aggregation, values in computed.items():
            row = rows.setdefault(aggregation, {})
            for feature in family.features:
                row[family.column(feature)] = values.get(feature.name)
    return rows


FILTERED_FAMILY = "statistics"
"""The family computed on every filter's response map (IBSI 2 phase 2: 18 statistics)."""


def describe_filtered(region: RegionImage, settings: RadiomicsSettings) -> list[dict[str, Any]]:
    """One `3d` row per filter: its columns and the statistics of its response map over the
    region's intensity mask (the mask re-segmented on the unfiltered image)."""
    family = BY_KEY[FILTERED_FAMILY]
    rows = []
    for spec in settings.filters:
        filtered = replace(region, values=response_map(region.values, region.spacing, spec))
        values = family.compute(filtered, (WHOLE_REGION,))[WHOLE_REGION]
        row: dict[str, Any] = {"aggregation": WHOLE_REGION, **filter_columns(spec)}
        for feature in family.features:
            row[family.column(feature)] = values.get(feature.name)
        rows.append(row)
    return rows


def settings_columns(settings: RadiomicsSettings, rounded: bool) -> dict[str, Any]:
    """The processing settings recorded on every roi_features row."""
    method = settings.discretisation
    ivh = settings.ivh
    return {
        "resample_mm": list(settings.resample_mm) if settings.resample_mm else None,
        "interpolation": settings.interpolation if settings.resample_mm else None,
        "mask_threshold": settings.mask_threshold if settings.resample_mm else None,
        "intensities_rounded": rounded,
        "resegment_low": settings.resegment[0] if settings.resegment else None,
        "resegment_high": settings.resegment[1] if settings.resegment else None,
        "resegment_outliers_sd": settings.resegment_outliers_sd,
        "ivh_discretisation": ivh.method,
        "ivh_bins": ivh.bins if ivh.method == "fixed_bin_number" else None,
        "ivh_bin_width": ivh.bin_width if ivh.method == "fixed_bin_width" else None,
        "discretisation": method.method,
        "bins": method.bins if method.method == "fixed_bin_number" else None,
        "bin_width": method.bin_width if method.method == "fixed_bin_width" else None,
        "lower_bound": (
            method.lower_bound
            if method.lower_bound is not None or settings.resegment is None
            else settings.resegment[0]
        )
        if method.method == "fixed_bin_width"
        else None,
        "glcm_distance": settings.glcm_distance,
    }
