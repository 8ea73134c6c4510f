"""DICOMweb as an input, against a real Orthanc: the tables equal those of the same files read
from a folder, every instance is accounted for, and a service that refuses or is not there ends
the run with its exit code."""

from __future__ import annotations

import logging

import pyarrow.dataset as pads
import pydicom
import pytest

from medspark.cli import main
from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicomweb.catalog import instances_in, series_to_walk
from medspark.dicomweb.locations import parse
from medspark.errors import EXIT_ENVIRONMENT, EXIT_USAGE
from medspark.spark.jobs.pipeline import run_single_pass
from medspark.spark.run import Run
from tests.conftest import TEST_KEY, pydicom_file
from tests.pacs.conftest import store_all
from tests.pacs.orthanc import Orthanc
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark
PLACE_COLUMNS = {"path", "path_token", "run_id", "processed_at"}


def rows(out, name: str, key: tuple[str, ...]) -> dict[tuple, dict]:
    """A table's rows keyed by columns, without the columns that name where a row came from."""
    table = pads.dataset(out / name, partitioning="hive").to_table().to_pylist()
    keyed = {}
    for row in table:
        keyed[tuple(row[k] for k in key)] = {k: v for k, v in row.items() if k not in PLACE_COLUMNS}
    assert len(keyed) == len(table), f"{name}: {key} is not unique"
    return keyed


@pytest.fixture(scope="module")
def both(spark, orthanc, pydicom_instances, tmp_path_factory):
    root = tmp_path_factory.mktemp("dicomweb")
    stored = store_all(orthanc, pydicom_instances, root / "folder")
    settings = make_settings()
    from_web = run_single_pass(Run(spark, settings, str(root / "web"), orthanc.dicomweb, TEST_KEY))
    from_folder = run_single_pass(
        Run(spark, settings, str(root / "disk"), str(root / "folder"), TEST_KEY)
    )
    return root, stored, from_web, from_folder


def test_orthanc_took_most_of_pydicoms_files(both):
    _, stored, _, _ = both
    assert len(stored) > 80


@pytest.mark.parametrize(
    ("table", "key"), [("metadata", ("sha256",)), ("features", ("sop_instance_uid", "frame"))]
)
def test_tables_over_dicomweb_equal_the_same_files_from_a_folder(both, table, key):
    root, _, _, _ = both
    web, disk = rows(root / "web", table, key), rows(root / "disk", table, key)
    assert len(disk) > 40
    assert web == disk


def test_quarantine_over_dicomweb_has_the_same_reasons(both):
    root, _, _, _ = both
    web = rows(root / "web", "quarantine", ("sha256",))
    disk = rows(root / "disk", "quarantine", ("sha256",))
    assert {k: (r["stage"], r["reason"]) for k, r in web.items()} == {
        k: (r["stage"], r["reason"]) for k, r in disk.items()
    }


def test_every_instance_is_listed_once_and_named_by_its_wado_address(both, orthanc):
    root, stored, from_web, _ = both
    counts = from_web.summary["counts"]
    assert counts["listed_files"] == counts["accounted_files"] == len(stored)
    paths = pads.dataset(root / "web" / "metadata").to_table(columns=["path"]).column(0)
    prefix = orthanc.dicomweb + "/studies/"
    for path in paths.to_pylist():
        resource = parse(path)
        assert path.startswith(prefix) and resource.instance and resource.key == path


def test_a_series_query_narrows_the_listing(orthanc, both):
    everything = series_to_walk(parse(orthanc.dicomweb))
    only_mr = series_to_walk(parse(orthanc.dicomweb + "?ModalitiesInStudy=MR"))
    assert 0 < len(only_mr) < len(everything)
    assert set(only_mr) <= set(everything)


def test_an_instance_deleted_after_listing_is_quarantined_with_the_servers_answer(
    orthanc, tmp_path
):
    server = Orthanc(tmp_path / "orthanc").start()
    try:
        orthanc_id = server.store(pydicom_file("MR_small.dcm").read_bytes())
        (series,) = series_to_walk(parse(server.dicomweb))
        (instance,) = list(instances_in(series))
        server.delete(f"/instances/{orthanc_id}")
        options = InspectOptions(run_id="r", deid=None)
        (record,) = list(inspect_file(instance.key, 0, options))
    finally:
        server.stop()
    assert (record["outcome"], record["reason"]) == ("quarantine", "unreadable")
    assert record["detail"] == "the server no longer holds it (404)."
    assert record["path"] == instance.key


def _run(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_wrong_credentials_end_the_run_with_the_usage_code(orthanc, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MEDSPARK_DICOMWEB_PASSWORD", "wrong-password-9c1e")
    code, err = _run(capsys, "ingest", orthanc.dicomweb, str(tmp_path / "out"), "--throwaway-key")
    assert code == EXIT_USAGE
    assert "refuses the request (401)" in err and "wrong-password" not in err
    assert not (tmp_path / "out" / "metadata").exists()


def test_a_server_that_is_not_there_ends_the_run_with_the_environment_code(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("MEDSPARK_DICOMWEB_RETRIES", "1")
    monkeypatch.setenv("MEDSPARK_DICOMWEB_BACKOFF_SECONDS", "0")
    nobody = Orthanc(tmp_path / "never-started")  # its ports were free, and nothing listens
    code, err = _run(capsys, "ingest", nobody.dicomweb, str(tmp_path / "out"), "--throwaway-key")
    assert code == EXIT_ENVIRONMENT
    assert "cannot be reached" in err


def test_credentials_in_the_location_are_refused_before_anything_runs(tmp_path, capsys):
    code, err = _run(
        capsys, "ingest", "dicomweb+http://user:pw@127.0.0.1:9/dicom-web", str(tmp_path / "o")
    )
    assert code == EXIT_USAGE
    assert "MEDSPARK_DICOMWEB_USER" in err and "pw@" not in err


def test_ingest_from_the_command_line_gives_the_pipelines_metadata(both, orthanc, capsys):
    root, _, _, _ = both
    code, err = _run(capsys, "ingest", orthanc.dicomweb, str(root / "ingest"), "--throwaway-key")
    assert code == 0, err
    ingested = rows(root / "ingest", "metadata", ("sha256",))  # another key: other pseudonyms
    piped = rows(root / "web", "metadata", ("sha256",))
    assert ingested.keys() == piped.keys() and len(piped) > 40
    columns = ("transfer_syntax_uid", "modality", "rows", "columns", "number_of_frames")
    assert {k: [r[c] for c in columns] for k, r in ingested.items()} == {
        k: [r[c] for c in columns] for k, r in piped.items()
    }


def test_a_patient_named_in_the_query_is_in_no_log_or_summary(
    spark, orthanc, both, tmp_path, caplog
):
    patient = str(pydicom.dcmread(pydicom_file("CT_small.dcm")).PatientID)
    source = f"{orthanc.dicomweb}?PatientID={patient}"
    with caplog.at_level(logging.INFO, logger="medspark"):
        result = run_single_pass(
            Run(spark, make_settings(), str(tmp_path / "out"), source, TEST_KEY)
        )
    assert result.summary["counts"]["metadata"] >= 1
    summary = (tmp_path / "out" / "runs").glob("*.json")
    assert all(patient not in path.read_text() for path in summary)
    assert patient not in caplog.text and "PatientID=…" in caplog.text
