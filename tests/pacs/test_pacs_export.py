"""`export --to` a second Orthanc, over STOW-RS and by C-STORE: every exported instance is
there, de-identified, with the server's answer in the exports table."""

from __future__ import annotations

import shutil

import pytest

from medspark.cli import main
from medspark.errors import EXIT_ENVIRONMENT, EXIT_OK
from medspark.schemas import EXPORTS
from medspark.spark.jobs.ingest import run_ingest
from medspark.spark.output.tables import read_table
from medspark.spark.run import Run
from tests.conftest import TEST_KEY, pydicom_file
from tests.pacs.orthanc import Orthanc
from tests.ports import LOOPBACK, distinct_free_ports
from tests.spark.test_privacy import EXTRA_PHI, HEADER_PHI, planted
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark
PLAIN = ["MR_small.dcm", "CT_small.dcm", "JPEG2000.dcm", "rtplan.dcm"]


@pytest.fixture(scope="module")
def ingested(spark, orthanc, tmp_path_factory):
    """OUT of an ingest of files with planted PHI and a few plain ones; the planted values."""
    root = tmp_path_factory.mktemp("pacs-export")
    folder = root / "in"
    folder.mkdir()
    secrets = [*HEADER_PHI.values(), *EXTRA_PHI]
    for name in ("CT_small.dcm", "MR_small.dcm"):
        data, uids = planted(name)
        (folder / f"planted-{name}").write_bytes(data)
        secrets += uids
    for name in PLAIN:
        shutil.copyfile(pydicom_file(name), folder / name)
    out = root / "out"
    run_ingest(Run(spark, make_settings(), str(out), str(folder), TEST_KEY))
    return root, out, secrets


def _export(out, destination: str, env_key, monkeypatch, capsys) -> tuple[int, str]:
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", env_key)
    capsys.readouterr()
    code = main(["export", str(out), "--to", destination])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def stored_bytes(server: Orthanc) -> list[bytes]:
    """Every file of the server's storage: its DICOM files and its index database."""
    return [p.read_bytes() for p in (server.root / "storage").rglob("*") if p.is_file()]


@pytest.mark.parametrize("protocol", ["stow", "c-store"])
def test_every_exported_instance_is_in_the_destination_and_carries_no_phi(
    spark, ingested, tmp_path, protocol, monkeypatch, capsys
):
    _, out, secrets = ingested
    destination = Orthanc(tmp_path / "destination", aet="RESEARCH").start()
    try:
        target = (destination.dicomweb if protocol == "stow"
                  else f"dimse://RESEARCH@{LOOPBACK}:{destination.dicom_port}")  # fmt: skip
        code, said = _export(out, target, TEST_KEY.secret.decode(), monkeypatch, capsys)
        assert code == EXIT_OK, said
        rows = read_table(spark, str(out), EXPORTS).collect()
        exported = {r["sop_instance_uid"] for r in rows if r["status"] == "exported"}
        assert "held_back_burned_in 1" in said  # JPEG2000.dcm, an NM image that may carry text
        assert len(exported) == len(rows) == 2 + len(PLAIN) - 1
        assert all(r["answer"].startswith("stored") for r in rows)
        assert destination.sop_instance_uids() == exported
        held = stored_bytes(destination)
    finally:
        destination.stop()
    assert sum(1 for data in held if data[128:132] == b"DICM") == len(exported)
    text = [data.decode("latin-1") for data in held]
    assert [s for s in secrets if any(s in t for t in text)] == []


def test_a_destination_that_is_not_there_ends_the_run_before_any_work(
    ingested, monkeypatch, capsys
):
    _, out, _ = ingested
    (port,) = distinct_free_ports(1)
    code, said = _export(out, f"dimse://NOBODY@{LOOPBACK}:{port}", TEST_KEY.secret.decode(),
                         monkeypatch, capsys)  # fmt: skip
    assert code == EXIT_ENVIRONMENT
    assert "did not accept an association" in said
