"""DIMSE against a real Orthanc: it sends to `medspark receive` by C-STORE and `etl` takes what
landed; `medspark pull` retrieves studies by C-GET and by C-MOVE."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pydicom
import pytest
from pynetdicom import AE

from medspark.cli import main
from medspark.errors import EXIT_ENVIRONMENT, EXIT_OK
from medspark.schemas import QUARANTINE
from medspark.spark.jobs.etl import run_etl
from medspark.spark.output.tables import read_table
from medspark.spark.run import Run
from tests.conftest import TEST_KEY, pydicom_file
from tests.pacs.conftest import store_all
from tests.pacs.orthanc import Orthanc
from tests.ports import LOOPBACK, distinct_free_ports
from tests.spark.test_cli import child_env
from tests.spark.test_etl import _settings

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def network(orthanc, tmp_path_factory, pydicom_instances):
    """An Orthanc that knows two medspark AEs (a receiver, a puller), loaded with pydicom's
    instances."""
    receive_port, move_port = distinct_free_ports(2)
    root = tmp_path_factory.mktemp("dimse")
    server = Orthanc(
        root / "orthanc",
        modalities={"receiver": ("RECEIVER", LOOPBACK, receive_port),
                    "puller": ("PULLER", LOOPBACK, move_port)},
    ).start()  # fmt: skip
    try:
        store_all(server, pydicom_instances, root / "stored")
        yield {"orthanc": server, "root": root, "receive_port": receive_port,
               "move_port": move_port}  # fmt: skip
    finally:
        server.stop()


def landed_uids(folder: Path) -> set[str]:
    return {str(pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID)
            for p in folder.iterdir()}  # fmt: skip


def orthanc_uids(server: Orthanc, **query: str) -> set[str]:
    found = server.post(
        "/tools/find",
        json.dumps({"Level": "Instance", "Query": query, "Expand": True}).encode(),
    )
    return {item["MainDicomTags"]["SOPInstanceUID"] for item in found}


def _start_receiver(landing: Path, port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "medspark.cli", "receive", str(landing), "--port", str(port),
         "--ae-title", "RECEIVER"],
        env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("receiving as RECEIVER"), line
    return process


def _stop(process: subprocess.Popen) -> str:
    os.killpg(process.pid, signal.SIGTERM)
    out, _ = process.communicate(timeout=30)
    return out


@pytest.fixture(scope="module")
def received(spark, network):
    server, root = network["orthanc"], network["root"]
    landing = root / "landing"
    process = _start_receiver(landing, network["receive_port"])
    try:
        ids = server.get("/instances")
        server.post("/modalities/receiver/store",
                    json.dumps({"Resources": ids, "Synchronous": True}).encode())  # fmt: skip
        broken = pydicom.dcmread(pydicom_file("CT_small.dcm"))
        broken.SOPInstanceUID = "1.2.826.0.1.3680043.8.498.777001"
        broken.PixelData = broken.PixelData[:1000]  # far fewer bytes than its rows and columns
        sender = AE(ae_title="BROKEN-SENDER")
        sender.add_requested_context(broken.SOPClassUID, broken.file_meta.TransferSyntaxUID)
        association = sender.associate(LOOPBACK, network["receive_port"], ae_title="RECEIVER")
        assert association.is_established
        status = association.send_c_store(broken)
        association.release()
    finally:
        said = _stop(process)
    out = root / "etl-out"
    result = run_etl(Run(spark, _settings(), str(out), str(landing), TEST_KEY))
    return {"landing": landing, "said": said, "ids": ids, "status": status, "out": out,
            "result": result}  # fmt: skip


def test_everything_orthanc_sent_landed_whole(received, network):
    expected = orthanc_uids(network["orthanc"]) | {"1.2.826.0.1.3680043.8.498.777001"}
    assert received["status"].Status == 0x0000
    assert landed_uids(received["landing"]) == expected
    assert f"received {len(received['ids']) + 1} instances, 0 not landed" in received["said"]
    staging = received["landing"].parent / ".landing.receiving"
    assert staging.is_dir() and not any(staging.iterdir())


def test_the_next_etl_took_exactly_what_landed(spark, received):
    counts = received["result"].summary["counts"]
    assert counts["new_or_changed"] == len(received["ids"]) + 1
    quarantine = read_table(spark, str(received["out"]), QUARANTINE).collect()
    broken = [r for r in quarantine if r["path"].endswith("1.2.826.0.1.3680043.8.498.777001.dcm")]
    assert [(r["stage"], r["reason"]) for r in broken] == [("decode", "pixel_data_short")]


@pytest.mark.parametrize("method", ["get", "move"])
def test_pull_retrieves_the_mr_studies(network, tmp_path, method, capsys):
    server = network["orthanc"]
    landing = tmp_path / "landing"
    source = f"dimse://{server.aet}@{LOOPBACK}:{server.dicom_port}"
    argv = ["pull", source, str(landing), "--modality", "MR", "--method", method,
            "--ae-title", "PULLER", "--port", str(network["move_port"])]  # fmt: skip
    assert main(argv) == EXIT_OK
    mr_studies = {
        item["MainDicomTags"]["StudyInstanceUID"]
        for item in server.post("/tools/find", json.dumps(
            {"Level": "Study", "Query": {"ModalitiesInStudy": "MR"}, "Expand": True}).encode())
    }  # fmt: skip
    expected = set()
    for study in mr_studies:
        expected |= orthanc_uids(server, StudyInstanceUID=study)
    assert expected and landed_uids(landing) == expected
    assert f"{len(mr_studies)} studies, {len(expected)} instances landed" in capsys.readouterr().out


def test_pull_from_a_pacs_that_is_not_there_is_an_environment_error(tmp_path, capsys):
    (port,) = distinct_free_ports(1)
    code = main(["pull", f"dimse://NOBODY@{LOOPBACK}:{port}", str(tmp_path / "landing")])
    assert code == EXIT_ENVIRONMENT
    assert "did not accept an association" in capsys.readouterr().err
