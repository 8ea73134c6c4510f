"""One-shot tables are Delta tables too: after each command, every table folder under OUT has
a `_delta_log` listing exactly its files, so Delta readers and plain Parquet readers agree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.dataset as ds
import pytest

from medspark.cli import main
from tests.conftest import TEST_KEY, pydicom_file

pytestmark = pytest.mark.spark
FILES = ("CT_small.dcm", "MR_small.dcm", "JPEG2000.dcm", "rtplan.dcm", "SC_rgb_dcmtk_+eb+cr.dcm")


def _delta_files(table: Path) -> set[str]:
    from deltalake import DeltaTable

    root = str(table) + "/"
    return {
        uri.removeprefix("file://").removeprefix(root) for uri in DeltaTable(str(table)).file_uris()
    }


def _parquet_files(table: Path) -> set[str]:
    return {
        str(p.relative_to(table))
        for p in table.rglob("*.parquet")
        if not any(part.startswith(("_", ".")) for part in p.relative_to(table).parts)
    }


def test_every_one_shot_table_has_a_delta_log_of_exactly_its_files(tmp_path, monkeypatch):
    from deltalake import DeltaTable

    source = tmp_path / "in"
    source.mkdir()
    for name in FILES:
        shutil.copy(pydicom_file(name), source / name)
    (source / "empty").write_bytes(b"")
    out = tmp_path / "out"
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", TEST_KEY.secret.decode())
    assert main(["ingest", str(source), str(out)]) == 0
    assert main(["features", str(out)]) == 0  # replaces quarantine's stage=decode partition
    for name, key in (("metadata", "sop_instance_uid"), ("quarantine", "path"),
                      ("features", "sop_instance_uid")):  # fmt: skip
        table = out / name
        assert _delta_files(table) == _parquet_files(table), name
        by_delta = DeltaTable(str(table)).to_pyarrow_table()
        plain = ds.dataset(table, format="parquet", partitioning="hive").to_table()
        assert by_delta.num_rows == plain.num_rows > 0, name
        assert sorted(map(str, by_delta.column(key).to_pylist())) == sorted(
            map(str, plain.column(key).to_pylist())
        )
    assert DeltaTable(str(out / "metadata")).version() == 0  # unchanged: no new version
    assert DeltaTable(str(out / "features")).version() == 0
