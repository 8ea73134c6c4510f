"""Every IBSI family on the digital phantom against all 482 rows of the reference table."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

from medspark.config import RadiomicsSettings
from medspark.radiomics.catalogue import FAMILIES, feature_columns, feature_fields
from medspark.radiomics.describe import describe_region
from medspark.radiomics.family import AGGREGATIONS
from medspark.radiomics.processing import prepare_region
from tests.conftest import SHARED_DATA, needs
from tests.ibsi_reference import ID_EXCEPTIONS, reference_rows

PHANTOM = SHARED_DATA / "ibsi_digital_phantom"
# The phantom is used as it is: its integer grey levels 1..6 are the discretised levels.
AS_IS = RadiomicsSettings(
    aggregation=list(AGGREGATIONS),
    discretisation={"method": "fixed_bin_width", "bin_width": 1, "lower_bound": 0.5},
)


@pytest.fixture(scope="module")
def phantom_rows():
    needs((PHANTOM / "image.nii.gz").is_file(), "shared/data/ibsi_digital_phantom")
    import nibabel

    image = np.asarray(nibabel.load(PHANTOM / "image.nii.gz").dataobj).astype(np.float64)
    mask = np.asarray(nibabel.load(PHANTOM / "mask.nii.gz").dataobj) > 0
    # NIfTI (x, y, z) -> (slice, row, column)
    region = prepare_region(image.T, mask.T, (2.0, 2.0, 2.0), AS_IS)
    return describe_region(region, AS_IS)


def test_every_reference_value_is_matched(phantom_rows):
    reference = reference_rows(PHANTOM / "reference_values.csv")
    assert len(reference) == 482
    misses = []
    for row in reference:
        value = phantom_rows[row.aggregation].get(row.column)
        if value is None or not math.isfinite(value) or abs(value - row.value) > row.tolerance:
            misses.append((row.column, row.aggregation, row.value, value))
    print(f"IBSI digital phantom: {482 - len(misses)} of 482 reference values matched")
    assert misses == []


def test_every_column_carries_the_reference_identifier():
    needs((PHANTOM / "reference_values.csv").is_file(), "shared/data/ibsi_digital_phantom")
    reference = reference_rows(PHANTOM / "reference_values.csv")
    mismatched = {
        (r.column, r.ibsi_id)
        for r in reference
        if r.ibsi_id != r.column_ibsi_id and (r.column, r.ibsi_id) not in ID_EXCEPTIONS
    }
    assert mismatched == set()
    covered = {r.column for r in reference}
    # Every family of the catalogue is checked; only the IVH area has no phantom value.
    assert set(feature_columns()) - covered == {"ivh_area_under_curve"}


def test_feature_fields_hold_their_ibsi_ids_in_arrow_metadata():
    schema = pa.schema(feature_fields())
    ids = {f.name: f.metadata[b"ibsi_id"].decode() for f in schema}
    assert ids["glcm_joint_max"] == "GYBY"
    assert ids["morph_volume"] == "RNU0"
    assert len(ids) == sum(len(f.features) for f in FAMILIES) == 170


def test_families_without_aggregation_fill_only_the_3d_row(phantom_rows):
    assert set(phantom_rows) == {"3d", *AGGREGATIONS}
    assert "morph_volume" in phantom_rows["3d"]
    assert "morph_volume" not in phantom_rows["3d_merged"]
    assert "glcm_joint_max" not in phantom_rows["3d"]


def test_the_docs_list_the_families_as_the_catalogue_declares_them():
    from pathlib import Path

    from medspark.radiomics.catalogue import markdown_table

    page = (Path(__file__).parents[2] / "docs" / "radiomics.md").read_text()
    assert markdown_table() in page
