"""Every table spec's columns are pinned to its version: adding, removing, renaming or retyping
a column fails here until the version is raised (and the pin updated), so readers of older
stored tables get a version error instead of columns read as nulls."""

from __future__ import annotations

import hashlib

import pyarrow as pa
import pytest

from medspark import schemas
from medspark.schemas import IDENTIFIER_COLUMNS, TableSpec
from tests.conftest import DOCUMENTED_IDENTIFIERS

PINNED = {
    "audit": (1, "99909438e933289e"),
    "exports": (3, "692dcd3587abca36"),
    "exports_nifti": (1, "71c9a6456df5956c"),
    "features": (2, "caf42cb4298d6f48"),
    "metadata": (2, "a8885a0361901f8b"),
    "plan": (1, "50d1a270ea54d189"),
    "predictions": (2, "6fec49123fc5131f"),
    "predictions_patient": (2, "03a141cfdbe47050"),
    "predictions_study": (2, "7d3b25b25a480c37"),
    "quarantine": (1, "dbf4916ae3579fa5"),
    "roi_features": (2, "6589583e51a14f1e"),
    "seen": (1, "d93a8286f6057817"),
    "shards": (1, "20ae7ca464062153"),
    "volumes": (1, "980dd043ecabc1d0"),
}


def _specs() -> dict[str, TableSpec]:
    return {v.name: v for v in vars(schemas).values() if isinstance(v, TableSpec)}


def columns_digest(spec: TableSpec) -> str:
    body = ";".join(f"{field.name}:{field.type}" for field in spec.schema)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def test_every_spec_is_pinned_to_its_version_and_columns():
    found = {name: (spec.version, columns_digest(spec)) for name, spec in _specs().items()}
    assert found == PINNED


def test_a_new_column_changes_the_digest():
    spec = schemas.FEATURES
    grown = TableSpec(
        spec.name, spec.version, spec.key, spec.schema.append(pa.field("x", pa.int8()))
    )
    assert columns_digest(grown) != columns_digest(spec)


def test_every_table_declares_each_identifier_column_it_has():
    for name, spec in _specs().items():
        present = set(DOCUMENTED_IDENTIFIERS) & set(spec.schema.names)
        assert present <= set(spec.identifiers), (name, present - set(spec.identifiers))


def test_specs_declare_their_place_partitions_and_identifiers():
    specs = _specs()
    assert specs["quarantine"].partitions == ("stage",)
    assert specs["seen"].place == "_etl/seen" and specs["metadata"].place == "metadata"
    for name in ("metadata", "features", "volumes", "roi_features", "predictions", "exports"):
        assert specs[name].identifiers, name
        assert set(specs[name].identifiers) - {"file", "header_json"} <= set(IDENTIFIER_COLUMNS)
    assert specs["predictions_patient"].identifiers == ("patient_id",)
    assert "file" in specs["exports"].identifiers  # DEST paths are built from pseudonyms
    assert "header_json" in specs["metadata"].identifiers  # the header repeats every identifier
    assert specs["audit"].identifiers == () and specs["quarantine"].identifiers == ()
    with pytest.raises(ValueError, match="not in the schema"):
        TableSpec("t", 1, ("missing",), pa.schema([("a", pa.int8())]))
