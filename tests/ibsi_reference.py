"""The IBSI digital phantom's reference table (shared/data), matched to roi_features columns."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from medspark.radiomics.catalogue import FAMILIES

CSV_FAMILIES = {
    "Morphological features": "morphology",
    "Local intensity features": "local_intensity",
    "Intensity-based statistical features": "statistics",
    "Intensity histogram features": "histogram",
    "Intensity-volume histogram features": "ivh",
    "Grey level co-occurrence based features": "glcm",
    "Grey level run length based features": "glrlm",
    "Grey level size zone based features": "glszm",
    "Grey level distance zone based features": "gldzm",
    "Neighbourhood grey tone difference based features": "ngtdm",
    "Neighbouring grey level dependence based features": "ngldm",
}
AGGREGATIONS = {
    "": "3d",
    "2D, averaged": "2d_averaged",
    "2D, slice-merged": "2d_slice_merged",
    "2.5D, direction-merged": "2.5d_direction_merged",
    "2.5D, merged": "2.5d_merged",
    "3D, averaged": "3d_averaged",
    "3D, merged": "3d_merged",
    "2D": "2d_averaged",
    "2.5D": "2.5d_merged",
    "3D": "3d_merged",
}
# The table gives the histogram's 10th percentile the minimum's identifier and the 90th the 10th's.
ID_EXCEPTIONS = {("ih_p10", "1PR8"), ("ih_p90", "GPMT")}


@dataclass(frozen=True)
class ReferenceRow:
    family: str
    column: str
    ibsi_name: str
    ibsi_id: str
    column_ibsi_id: str
    aggregation: str
    value: float
    tolerance: float


def _precision(text: str) -> float:
    """Half a unit of the last digit given: '0.0946' -> 5e-5, '1.2E3' -> 50."""
    mantissa, _, exponent = text.lower().partition("e")
    digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
    return 0.5 * 10 ** (int(exponent or 0) - digits)


def _normal(title: str) -> str:
    return title.replace("\u2019", "'").strip().lower()


def reference_rows(path: Path) -> list[ReferenceRow]:
    """Every row of reference_values.csv with the column that holds its feature."""
    by_title = {}
    for family in FAMILIES:
        for feature in family.features:
            by_title[(family.key, _normal(feature.title))] = (family, feature)
    rows = []
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            key = CSV_FAMILIES[row["family"]]
            title = _normal(f"{row['feature']} {row['parameter']}")
            family, feature = by_title[(key, title)]
            text = row["value"]
            rows.append(
                ReferenceRow(
                    key,
                    family.column(feature),
                    row["ibsi_name"],
                    row["ibsi_id"],
                    feature.ibsi_id,
                    AGGREGATIONS[row["aggregation"]],
                    float(text),
                    max(_precision(text), float(row["tolerance"] or 0)),
                )
            )
    return rows


def reference_misses(by_aggregation: dict[str, dict], csv_path: Path) -> list[tuple]:
    """(column, aggregation, reference, found) of every reference value a region's rows (keyed
    by aggregation) miss or give outside the value's tolerance."""
    return [
        (row.column, row.aggregation, row.value, by_aggregation[row.aggregation][row.column])
        for row in reference_rows(csv_path)
        if by_aggregation[row.aggregation][row.column] is None
        or abs(by_aggregation[row.aggregation][row.column] - row.value) > row.tolerance
    ]
