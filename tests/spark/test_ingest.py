"""Ingest end to end in local Spark over a messy export built from real files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow.dataset as pads
import pydicom
import pytest

from medspark.dicom.keys import PseudonymKey
from medspark.spark.jobs.ingest import run_ingest
from medspark.spark.run import Run
from medspark.storage import local_path
from tests.conftest import TEST_KEY
from tests.spark.export_tree import build_export
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark


def read_table(out: Path, name: str) -> list[dict]:
    return pads.dataset(out / name, partitioning="hive").to_table().to_pylist()


def file_of(path: str) -> Path:
    return Path(local_path(path.split("!/")[0]))


@pytest.fixture(scope="module")
def ingested(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("ingest")
    tree = build_export(root / "export")
    out = root / "out"
    settings = make_settings(files_per_task=40)
    first = run_ingest(Run(spark, settings, str(out), str(tree.root), TEST_KEY))
    return tree, out, first, settings


def test_every_input_file_is_accounted_exactly_once(ingested):
    tree, out, result, _ = ingested
    metadata, quarantine = read_table(out, "metadata"), read_table(out, "quarantine")
    rows = metadata + quarantine
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)), "a path landed twice"
    plain = [file_of(p) for p in paths if "!/" not in p]
    assert len(plain) == len(set(plain))
    assert {file_of(p) for p in paths} == set(tree.files())
    zip_members = sorted(p.split("!/", 1)[1] for p in paths if "!/" in p and "cd-export" in p)
    assert zip_members == ["AUTORUN.INF", "DICOM/ST1/SE1/IM1", "DICOM/ST1/SE1/IM2"]
    assert result.summary["counts"]["accounted_files"] == len(tree.files())
    assert result.summary["counts"]["listed_files"] == len(tree.files())
    hidden = {k: file_of(r["path"]) for r in rows for k, v in tree.planted.items()
              if k.startswith("hidden") and file_of(r["path"]) == v}  # fmt: skip
    assert sorted(hidden) == [
        "hidden_deep",
        "hidden_success",
        "hidden_top_dot",
        "hidden_top_underscore",
    ]


def test_planted_files_get_their_reasons(ingested):
    tree, out, _, _ = ingested
    quarantine = {
        file_of(r["path"]): r for r in read_table(out, "quarantine") if "!/" not in r["path"]
    }
    expected = {
        "empty": "empty_file",
        "random": "not_dicom",
        "text": "not_dicom",
        "truncated": "truncated",
        "duplicate": "duplicate_sop_instance",
    }
    for name, reason in expected.items():
        assert quarantine[tree.planted[name]]["reason"] == reason, name
    duplicate = quarantine[tree.planted["duplicate"]]
    assert "CT_small_dcm" in duplicate["detail"] and "identical content" in duplicate["detail"]
    assert duplicate["stage"] == "deduplicate"
    dicomdirs = [p for p, r in quarantine.items() if r["reason"] == "dicomdir"]
    assert len(dicomdirs) == 8
    zipped = {
        r["path"].split("!/")[1]: r for r in read_table(out, "quarantine") if "!/" in r["path"]
    }
    assert zipped["AUTORUN.INF"]["reason"] == "not_dicom"
    for row in read_table(out, "quarantine"):
        assert row["reason"] and row["detail"] and row["stage"]


def test_metadata_matches_pydicom_reading(ingested):
    _, out, _, _ = ingested
    metadata = read_table(out, "metadata")
    assert len({r["sop_instance_uid"] for r in metadata}) == len(metadata)
    checked = 0
    for row in metadata:
        if "!/" in row["path"]:
            continue
        data = file_of(row["path"]).read_bytes()
        if data[:4] == b"DICM":  # a Part-10 file written without its preamble
            data = b"\0" * 128 + data
        reference = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
        assert row["sop_instance_uid"] == TEST_KEY.uid(str(reference.SOPInstanceUID))
        assert row["modality"] == (str(reference.get("Modality", "")).strip() or None)
        assert row["rows"] == (
            int(reference.Rows) if reference.get("Rows") not in (None, "") else None
        )
        if reference.get("PatientID"):
            assert row["patient_id"] == TEST_KEY.identifier(str(reference.PatientID), "patient")
        assert json.loads(row["header_json"])["00080018"]["Value"] == [row["sop_instance_uid"]]
        checked += 1
    assert checked >= 80


def test_special_files_are_read(ingested):
    tree, out, _, _ = ingested
    by_file = {file_of(r["path"]): r for r in read_table(out, "metadata") if "!/" not in r["path"]}
    no_preamble = by_file[tree.planted["no_preamble"]]
    assert no_preamble["modality"] == "MR" and no_preamble["has_pixel_data"]
    members = {
        r["path"].split("!/")[1]: r for r in read_table(out, "metadata") if "!/" in r["path"]
    }
    assert members["DICOM/ST1/SE1/IM1"]["modality"] == "RTPLAN"
    assert members["DICOM/ST1/SE1/IM1"]["has_pixel_data"] is False
    assert members["DICOM/ST1/SE1/IM2"]["pixel_data_encapsulated"] is True


def test_no_patient_names_or_ids_in_the_tables(ingested):
    tree, out, _, _ = ingested
    phi: set[str] = set()
    for path in tree.files():
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=True)
            values = [ds.get("PatientName"), ds.get("PatientID"), ds.get("AccessionNumber")]
        except Exception:
            continue
        phi.update(str(v) for v in values if v is not None and len(str(v).strip()) >= 5)
    assert len(phi) >= 5
    cells = []
    for name in ("metadata", "quarantine"):
        for row in read_table(out, name):
            cells.extend(str(v) for k, v in row.items() if k != "path" and v is not None)
    summary_text = "".join(p.read_text() for p in (out / "runs").glob("*.json"))
    blob = "\n".join(cells) + summary_text
    leaked = sorted(value for value in phi if value in blob)
    assert leaked == []


def test_run_summary_counts_what_was_written(ingested):
    _, out, result, _ = ingested
    summary = json.loads(Path(local_path(result.summary_uri)).read_text())
    counts = summary["counts"]
    assert counts["metadata"] == len(read_table(out, "metadata"))
    assert counts["quarantine"] == len(read_table(out, "quarantine"))
    # every listed file is one row, but cd-export.zip is three (one per member)
    assert counts["metadata"] + counts["quarantine"] == counts["listed_files"] + 2
    assert sum(counts["by_modality"].values()) == counts["metadata"]
    assert counts["by_reason"]["dicomdir"] == 8
    assert summary["versions"]["spark"].startswith("4.")
    assert summary["config"]["sha256"] and summary["deidentification"]["key"] == "test"
    assert set(summary["stages"]) == {"catalog", "inspect_write_and_count"}
    assert TEST_KEY.secret.decode() not in json.dumps(summary)


def test_rerun_into_the_same_output_does_not_duplicate(spark, ingested):
    tree, out, first, settings = ingested
    before = {
        name: sorted(r["path"] for r in read_table(out, name))
        for name in ("metadata", "quarantine")
    }
    second = run_ingest(Run(spark, settings, str(out), str(tree.root), TEST_KEY))
    after = {
        name: sorted(r["path"] for r in read_table(out, name))
        for name in ("metadata", "quarantine")
    }
    assert after == before
    assert second.run_id != first.run_id
    assert len(list((out / "runs").glob("*.json"))) == 2


def test_other_key_gives_other_pseudonyms_same_accounting(spark, ingested, tmp_path):
    tree, out, _, settings = ingested
    other_out = tmp_path / "other"
    other_key = PseudonymKey(b"a-completely-different-key-000000", "other")
    run_ingest(Run(spark, settings, str(other_out), str(tree.root), other_key))
    mine = {r["path"]: r["sop_instance_uid"] for r in read_table(out, "metadata")}
    theirs = {r["path"]: r["sop_instance_uid"] for r in read_table(other_out, "metadata")}
    assert mine.keys() == theirs.keys()
    assert all(mine[p] != theirs[p] for p in mine)
