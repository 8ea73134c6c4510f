"""No planted patient data survives into any output: tables, JSON, audit, logs."""

from __future__ import annotations

import io
import json
import logging
import shutil
from pathlib import Path

import pyarrow.dataset as pads
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from medspark.spark.jobs.features import run_features
from medspark.spark.jobs.ingest import run_ingest
from medspark.spark.run import Run
from tests.conftest import PYDICOM_TEST_FILES, TEST_KEY, pydicom_file
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark
PATH_PHI = "Doe_Johnathan_MRN55501234"
HEADER_PHI = {
    "PatientName": "Zarathustra^Quintilian",
    "PatientID": "MRN-31337-PHI",
    "PatientBirthDate": "19380412",
    "InstitutionName": "St Elsewhere General",
    "ReferringPhysicianName": "Ehrlich^Paulinus",
    "AccessionNumber": "ACC-9988776",
    "StudyDescription": "Biopsy for Zarathustra",
    "PatientAddress": "12 Quintilian Lane",
    "OperatorsName": "Operator^Ottoline",
}
EXTRA_PHI = ["PRIVATE-SECRET-42", "Nested^Secretia", "OTHER-ID-5551212"]


def planted(name: str) -> tuple[bytes, list[str]]:
    ds = pydicom.dcmread(pydicom_file(name))
    for keyword, value in HEADER_PHI.items():
        setattr(ds, keyword, value)
    ds.SOPInstanceUID += ".77"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    block = ds.private_block(0x0011, "HOSPITAL PRIVATE", create=True)
    block.add_new(0x10, "LO", EXTRA_PHI[0])
    nested = Dataset()
    nested.PatientName = EXTRA_PHI[1]
    ds.ReferencedPatientSequence = Sequence([nested])
    other = Dataset()
    other.PatientID = EXTRA_PHI[2]
    ds.OtherPatientIDsSequence = Sequence([other])
    buffer = io.BytesIO()
    ds.save_as(buffer)
    uids = [str(ds.SOPInstanceUID), str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)]
    return buffer.getvalue(), uids


def cells(out: Path) -> dict[str, list[str]]:
    """Every value in every Parquet dataset and JSON file under OUT, by where it came from."""
    found: dict[str, list[str]] = {}
    for folder in sorted(p for p in out.iterdir() if p.is_dir()):
        parquet = list(folder.rglob("*.parquet"))
        if parquet:
            table = pads.dataset(folder, partitioning="hive").to_table()
            for column in table.column_names:
                values = [v for v in table.column(column).to_pylist() if v is not None]
                found[f"{folder.name}.{column}"] = [
                    v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values
                ]
        for document in folder.rglob("*.json"):
            found[f"{folder.name}/{document.name}"] = [document.read_text()]
    return found


@pytest.fixture(scope="module")
def outputs(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    export = root / "export"
    shutil.copytree(PYDICOM_TEST_FILES, export / "pydicom")
    folder = export / PATH_PHI / "CT"
    folder.mkdir(parents=True)
    uids = []
    for name in ("CT_small.dcm", "MR_small.dcm"):
        data, planted_uids = planted(name)
        (folder / name.replace(".dcm", "")).write_bytes(data)
        uids += planted_uids
    log_stream = io.StringIO()
    handler = logging.StreamHandler(log_stream)
    logger = logging.getLogger("medspark")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        settings = make_settings()
        out = root / "out"
        run_ingest(Run(spark, settings, str(out), str(export), TEST_KEY))
        run_features(Run(spark, settings, str(out)))
    finally:
        logger.removeHandler(handler)
    return out, uids, log_stream.getvalue()


OPERATOR_PATH_COLUMNS = {"metadata.path", "quarantine.path", "quarantine.detail"}


def test_no_header_phi_or_original_uid_anywhere(outputs):
    out, uids, logs = outputs
    found = cells(out)
    assert {"metadata.header_json", "features.fo_mean", "audit.deid_json"} <= set(found)
    secrets = [*HEADER_PHI.values(), *EXTRA_PHI, *uids]
    leaks = [
        (where, secret)
        for where, values in [*found.items(), ("logs", [logs])]
        for secret in secrets
        if any(secret in value for value in values)
    ]
    assert leaks == []


def test_paths_stay_in_the_operator_catalog_only(outputs):
    out, _, logs = outputs
    found = cells(out)
    assert any(PATH_PHI in v for v in found["metadata.path"])  # kept for traceability
    shared = {
        where: values for where, values in found.items() if where not in OPERATOR_PATH_COLUMNS
    }
    leaks = [where for where, values in shared.items() if any(PATH_PHI in v for v in values)]
    assert leaks == []
    assert PATH_PHI not in logs


def test_planted_files_were_ingested_and_described(outputs):
    out, _, _ = outputs
    metadata = pads.dataset(out / "metadata").to_table().to_pylist()
    planted_rows = [r for r in metadata if PATH_PHI in r["path"]]
    assert len(planted_rows) == 2
    header = json.loads(planted_rows[0]["header_json"])
    assert header["00120062"]["Value"] == ["YES"]  # Patient Identity Removed
    codes = [item["00080100"]["Value"][0] for item in header["00120064"]["Value"]]
    assert codes[0] == "113100"
    features = pads.dataset(out / "features").to_table().to_pylist()
    assert {r["sop_instance_uid"] for r in features} >= {
        r["sop_instance_uid"] for r in planted_rows
    }


@pytest.fixture(scope="module")
def exported(spark, outputs, tmp_path_factory):
    from medspark.spark.jobs.export import run_export

    out, _, _ = outputs
    destination = tmp_path_factory.mktemp("shared-dicom")
    counts = run_export(
        Run(spark, make_settings(), str(out), key=TEST_KEY), str(destination)
    ).counts
    return out, destination, counts


def test_export_writes_deidentified_files_with_identical_pixels(exported):
    out, destination, counts = exported
    assert counts["exported_files"] > 50 and counts["held_back_burned_in"] > 0
    manifest = pads.dataset(out / "exports").to_table().to_pylist()
    by_sop = {r["sop_instance_uid"]: r for r in manifest if r["status"] == "exported"}
    metadata = pads.dataset(out / "metadata").to_table().to_pylist()
    checked = 0
    for row in metadata:
        if PATH_PHI not in row["path"] and not row["path"].endswith("CT_small.dcm"):
            continue
        exported_file = destination / by_sop[row["sop_instance_uid"]]["file"]
        shared = pydicom.dcmread(exported_file)
        original = pydicom.dcmread(row["path"])
        assert (shared.pixel_array == original.pixel_array).all()
        assert shared.PatientIdentityRemoved == "YES"
        assert shared.SOPInstanceUID == row["sop_instance_uid"]
        assert shared.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        assert shared.LongitudinalTemporalInformationModified == "MODIFIED"
        text = exported_file.read_bytes().decode("latin-1")
        for secret in [*HEADER_PHI.values(), *EXTRA_PHI, PATH_PHI]:
            assert secret not in text
        checked += 1
    assert checked == 3
    for relative in (r["file"] for r in manifest if r["file"]):
        assert PATH_PHI not in relative and "CT_small" not in relative


def test_report_page_carries_no_phi_nor_paths(spark, outputs):
    from medspark.report.gather import gather
    from medspark.report.page import render

    out, uids, _ = outputs
    html = render(gather(spark, str(out)))
    assert 'id="thumbnails"' in html and "data:image/png;base64," in html
    secrets = [*HEADER_PHI.values(), *EXTRA_PHI, *uids, PATH_PHI]
    assert [secret for secret in secrets if secret in html] == []
    quarantined = cells(out)["quarantine.path"]
    assert not any(path in html for path in quarantined)
    operator_view = render(gather(spark, str(out), show_paths=True))
    assert any(path in operator_view for path in quarantined)  # the scan can see paths
