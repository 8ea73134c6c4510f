"""The `Run` a job is given: its own run id per job begun, stages timed with their counts, and a
summary and audit row written by `finish`."""

from __future__ import annotations

import json
import time

import pyarrow.dataset as pads
import pytest

from medspark import sources
from medspark.capabilities import Capability
from medspark.sources.dicomweb import DicomwebSource
from medspark.sources.local import LocalSource
from medspark.spark.records.catalog import require_input
from medspark.spark.run import Run
from tests.conftest import TEST_KEY
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark


def test_each_job_begun_has_its_own_run_id_and_summary(spark, tmp_path):
    run = Run(spark, make_settings(), str(tmp_path / "out"), str(tmp_path / "in"), TEST_KEY)
    first, second = run.begin("ingest"), run.begin("features")
    assert first.id != second.id and run.run_id is None
    assert (first.summary.job, second.summary.job) == ("ingest", "features")
    assert first.summary.input_uri.endswith("in")
    fixed = Run(spark, make_settings(), str(tmp_path / "out"), run_id="etl-run-1").begin("etl")
    assert fixed.id == "etl-run-1"


def test_a_run_not_begun_has_no_id_and_no_stages(spark, tmp_path):
    run = Run(spark, make_settings(), str(tmp_path / "out"))
    with pytest.raises(RuntimeError, match="begin"):
        run.id  # noqa: B018
    with pytest.raises(RuntimeError, match="begin"), run.stage("catalog"):
        pass


def test_stages_are_timed_with_their_counts_and_finish_writes_summary_and_audit(spark, tmp_path):
    out = tmp_path / "out"
    run = Run(spark, make_settings(), str(out), key=TEST_KEY).begin("volumes")
    with run.stage("build", series=2) as stage:
        time.sleep(0.05)
        stage.update(written=3)
    run.count(series=2)
    result = run.finish()
    build = result.summary["stages"]["build"]
    assert build["seconds"] >= 0.05 and (build["series"], build["written"]) == (2, 3)
    assert result.counts == {"series": 2}
    written = json.loads((out / "runs" / f"{result.run_id}.json").read_text())
    assert written["stages"]["build"]["written"] == 3 and written["job"] == "volumes"
    audit = pads.dataset(out / "audit").to_table().to_pylist()
    assert [(r["run_id"], r["job"]) for r in audit] == [(result.run_id, "volumes")]
    assert json.loads(audit[0]["counts_json"]) == {"series": 2}


def test_the_input_is_located_once_and_shown_masked(spark, tmp_path):
    local = Run(spark, make_settings(), str(tmp_path / "out"), str(tmp_path / "in"))
    assert type(local.input) is LocalSource and local.begin("ingest").input is local.input
    with pytest.raises(sources.InputNotFoundError, match=r"input does not exist: .*in$"):
        require_input(local.input)
    (tmp_path / "in").mkdir()
    require_input(local.input)
    query = "dicomweb+http://127.0.0.1:9/dicom-web?PatientID=P123"
    web = Run(spark, make_settings(), str(tmp_path / "out"), query).begin("pipeline")
    assert type(web.input) is DicomwebSource
    assert web.public_input == "dicomweb+http://127.0.0.1:9/dicom-web?PatientID=…"
    assert "P123" not in json.dumps(web.summary.as_dict())


def test_the_missing_capabilities_given_are_the_ones_recorded(spark, tmp_path):
    absent = Capability("ocr", False, "no model", "pip install x", "text is not examined")
    run = Run(spark, make_settings(), str(tmp_path / "out"), missing=(absent,)).begin("ingest")
    assert run.summary.missing_capabilities == [
        {"capability": "ocr", "missing": "no model", "install": "pip install x"}
    ]
