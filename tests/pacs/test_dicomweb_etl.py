"""Incremental ETL over DICOMweb against a real Orthanc: each run takes only the instances not
yet committed, and a run killed while it retrieves is redone to the tables one run gives."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from medspark.layout import TABLE_MARKER
from medspark.schemas import FEATURES, METADATA, QUARANTINE
from medspark.spark.jobs.etl import run_etl
from medspark.spark.output.current import committed_batches, current_tables
from medspark.spark.run import Run
from tests.conftest import TEST_KEY
from tests.pacs.conftest import store_all
from tests.spark.test_etl import _kill_during_batch, _rows, _settings

pytestmark = pytest.mark.spark


def _kill_while_retrieving(source: str, out: Path, batch: int) -> dict:
    """SIGKILL `medspark etl` as soon as the batch's plan is committed, while its workers
    retrieve; what the kill left behind."""
    _kill_during_batch(source, out, batch, when="plan")
    folder = out / "_etl" / "batches" / f"{batch:06d}"
    return {"staged_metadata": (folder / "staging" / "metadata" / TABLE_MARKER).exists()}


@pytest.fixture(scope="module")
def pulls(spark, orthanc, pydicom_instances, tmp_path_factory):
    root = tmp_path_factory.mktemp("dicomweb-etl")
    out = root / "out"
    files = list(pydicom_instances)
    random.Random(5).shuffle(files)
    drops = [files[:30], files[30:90], files[90:]]
    stored = [store_all(orthanc, drops[0], root / "stored")]
    first = run_etl(Run(spark, _settings(), str(out), orthanc.dicomweb, TEST_KEY))
    stored.append(store_all(orthanc, drops[1], root / "stored"))
    killed = _kill_while_retrieving(orthanc.dicomweb, out, batch=2)
    killed["committed"] = committed_batches(spark, str(out))
    recovered = run_etl(Run(spark, _settings(), str(out), orthanc.dicomweb, TEST_KEY))
    stored.append(store_all(orthanc, drops[2], root / "stored"))
    third = run_etl(Run(spark, _settings(), str(out), orthanc.dicomweb, TEST_KEY))
    again = run_etl(Run(spark, _settings(), str(out), orthanc.dicomweb, TEST_KEY))
    return {"root": root, "out": out, "stored": stored, "killed": killed,
            "runs": [first, recovered, third, again]}  # fmt: skip


def test_the_kill_came_while_the_batch_was_retrieving(pulls):
    assert pulls["killed"] == {"staged_metadata": False, "committed": [1]}


def test_each_run_took_only_the_instances_stored_since(pulls):
    first, recovered, third, again = (run.summary["counts"] for run in pulls["runs"])
    sizes = [len(stored) for stored in pulls["stored"]]
    assert first["new_or_changed"] == sizes[0] > 10
    assert recovered["recovered_batches"] == [2] and recovered["new_or_changed"] == 0
    assert third["new_or_changed"] == sizes[2] > 10
    assert again["new_or_changed"] == 0 and again["batches"] == []


def test_the_tables_equal_one_run_over_everything(spark, orthanc, pulls):
    current = current_tables(spark, str(pulls["out"]))
    scratch = pulls["root"] / "scratch"
    run_etl(Run(spark, _settings(), str(scratch), orthanc.dicomweb, TEST_KEY))
    fresh = current_tables(spark, str(scratch))
    for name in (METADATA.name, QUARANTINE.name, FEATURES.name):
        assert _rows(current[name]) == _rows(fresh[name]), name
    assert current[METADATA.name].count() == sum(len(s) for s in pulls["stored"])
