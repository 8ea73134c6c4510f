"""Every requested family of one region, as rows: one per aggregation method."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from medspark.radiomics.catalogue import BY_KEY
from medspark.radiomics.family import WHOLE_REGION
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
        )
        for aggregation, values in computed.items():
            row = rows.setdefault(aggregation, {})
            for feature in family.features:
                row[family.column(feature)] = values.get(feature.name)
    return rows


def settings_columns(settings: RadiomicsSettings) -> dict[str, Any]:
    """The processing settings recorded on every roi_features row."""
    method = settings.discretisation
    return {
        "resample_mm": list(settings.resample_mm) if settings.resample_mm else None,
        "interpolation": settings.interpolation if settings.resample_mm else None,
        "resegment_low": settings.resegment[0] if settings.resegment else None,
        "resegment_high": settings.resegment[1] if settings.resegment else None,
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
