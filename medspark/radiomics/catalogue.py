"""The feature families medspark computes, in table order, and what derives from them."""

from __future__ import annotations

import pyarrow as pa

from medspark.radiomics.families import (
    distance_zone,
    glcm,
    grey_level_dependence,
    grey_tone_difference,
    intensity_histogram,
    intensity_statistics,
    intensity_volume,
    local_intensity,
    morphology,
    run_length,
    size_zone,
)
from medspark.radiomics.family import Family

FAMILIES: tuple[Family, ...] = (
    morphology.FAMILY,
    local_intensity.FAMILY,
    intensity_statistics.FAMILY,
    intensity_histogram.FAMILY,
    intensity_volume.FAMILY,
    glcm.FAMILY,
    run_length.FAMILY,
    size_zone.FAMILY,
    distance_zone.FAMILY,
    grey_tone_difference.FAMILY,
    grey_level_dependence.FAMILY,
)
BY_KEY = {family.key: family for family in FAMILIES}


def feature_fields(families: tuple[Family, ...] = FAMILIES) -> list[pa.Field]:
    """One float64 column per feature, its IBSI identifier in the field metadata (`ibsi_id`)."""
    return [
        pa.field(
            family.column(feature),
            pa.float64(),
            metadata={"ibsi_id": feature.ibsi_id, "ibsi_family": family.title},
        )
        for family in families
        for feature in family.features
    ]


def feature_columns(families: tuple[Family, ...] = FAMILIES) -> tuple[str, ...]:
    return tuple(c for family in families for c in family.columns)


def markdown_table() -> str:
    """docs/radiomics.md's table of families: column prefix, feature count, aggregations."""
    lines = ["| family | column prefix | features | aggregations |", "|---|---|---|---|"]
    for family in FAMILIES:
        aggregation = "all six" if family.textural else "`3d` (none)"
        lines.append(
            f"| {family.title} | `{family.prefix}_` | {len(family.features)} | {aggregation} |"
        )
    return "\n".join(lines)
