"""The per-frame feature groups are declared once: the features table, the classifier's default
prefixes, the settings' switches and the docs' table all follow the declarations, and each
group computes exactly the columns it declares."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from medspark.config import ModelSettings
from medspark.imaging.extract import describe_frame
from medspark.imaging.feature_groups import GROUPS, columns_of_kind, markdown_table
from medspark.imaging.options import FeatureSettings
from medspark.imaging.preprocess import Frame
from medspark.schemas import FEATURES

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "scripts"))
from docs_tables import section  # noqa: E402

SWITCHES = {g.switch for g in GROUPS if g.switch}


def _frame() -> Frame:
    values = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array.astype(np.float64)
    display = (values - values.min()) / max(float(np.ptp(values)), 1.0)
    return Frame(values, display, (0.66, 0.66))


def test_the_table_holds_every_declared_column_with_its_type_in_kind_order():
    names = FEATURES.schema.names
    declared = [c.name for kind in ("measure", "count", "bytes") for c in columns_of_kind(kind)]
    assert [n for n in names if n in declared] == declared
    assert len({c.name for g in GROUPS for c in g.columns}) == len(declared)
    types = {"measure": "double", "count": "int32", "bytes": "binary"}
    for group in GROUPS:
        for column in group.columns:
            assert str(FEATURES.schema.field(column.name).type) == types[column.kind]


def test_every_switch_is_a_boolean_setting_and_every_boolean_setting_switches_a_group():
    booleans = {
        name for name, field in FeatureSettings.model_fields.items() if field.annotation is bool
    }
    assert booleans == SWITCHES


def test_the_classifier_selects_every_groups_measures_and_counts_by_default():
    prefixes = tuple(ModelSettings().feature_prefixes)
    measured = [c.name for kind in ("measure", "count") for c in columns_of_kind(kind)]
    assert all(name.startswith(prefixes) for name in measured)
    assert not any(c.name.startswith(prefixes) for c in columns_of_kind("bytes"))


@pytest.mark.parametrize("off", sorted(SWITCHES))
def test_each_group_computes_exactly_its_columns_and_its_switch_drops_them(off):
    everything = FeatureSettings(**dict.fromkeys(SWITCHES, True))
    record = describe_frame(_frame(), everything)
    declared = {c.name for g in GROUPS for c in g.columns}
    assert declared <= set(record)
    assert set(record) - declared == {"mask", "height", "width", "pixel_spacing_mm"}
    without = describe_frame(_frame(), everything.model_copy(update={off: False}))
    dropped = {c.name for g in GROUPS if g.switch == off for c in g.columns}
    assert set(record) - set(without) == dropped


def test_the_docs_table_is_the_declarations_table():
    page = (REPO / "docs" / "features.md").read_text()
    found = section(page, "feature-groups")
    assert found is not None, "docs/features.md lost its feature-groups markers"
    assert found.group(1) == markdown_table(), "run: .venv/bin/python scripts/docs_tables.py"
    for group in GROUPS:
        assert all(f"`{c.name}`" in found.group(1) for c in group.columns)
