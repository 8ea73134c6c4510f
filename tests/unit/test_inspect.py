"""The whole per-file ingest over every file pydicom ships: each file gives a record."""

import hashlib

import pytest

from medspark.dicom.deid import DeidPolicy
from medspark.dicom.inspect import InspectOptions, inspect_file
from tests.conftest import TEST_KEY, all_pydicom_files, pydicom_file

OPTIONS = InspectOptions(run_id="unit", deid=DeidPolicy(TEST_KEY))


def inspect(path, **kw):
    opts = InspectOptions(run_id="unit", deid=DeidPolicy(TEST_KEY), **kw) if kw else OPTIONS
    return list(inspect_file(str(path), path.stat().st_size, opts))


@pytest.mark.parametrize("path", all_pydicom_files(), ids=lambda p: p.name)
def test_every_file_yields_a_record_with_a_hash(path):
    rows = inspect(path)
    assert len(rows) == 1
    row = rows[0]
    assert row["outcome"] in ("metadata", "quarantine")
    if row["outcome"] == "quarantine":
        assert row["reason"] and row["detail"] and row["stage"]
    else:
        assert row["sop_instance_uid"].startswith("2.25.")
        assert row["header_json"].startswith("{")
    if "!/" not in row["path"]:
        assert row["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert row["file_size"] == path.stat().st_size


def test_streaming_path_for_large_files_gives_the_same_record():
    path = pydicom_file("CT_small.dcm")
    in_memory = inspect(path)[0]
    streamed = inspect(path, in_memory_limit_bytes=1024)[0]
    for column in ("sha256", "file_size", "sop_instance_uid", "pixel_data_offset", "header_json"):
        assert streamed[column] == in_memory[column]


def test_empty_and_unreadable_files(tmp_path):
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert inspect(empty)[0]["reason"] == "empty_file"
    missing = tmp_path / "gone"
    rows = list(inspect_file(str(missing), 10, OPTIONS))
    assert rows[0]["reason"] == "unreadable"


def test_paths_can_be_replaced_by_a_keyed_hash():
    path = pydicom_file("CT_small.dcm")
    row = inspect(path, hash_paths=True)[0]
    assert row["path"].startswith("hmac:") and "CT_small" not in row["path"]
    from medspark.dicom.keys import unseal

    assert "CT_small" not in row["path_token"]
    assert unseal(TEST_KEY, row["path_token"]) == str(path)
