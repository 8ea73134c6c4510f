"""A PACS that fails on some instances: each failing instance is its own quarantine row with the
server's answer; a 429 is retried; the rest of the run is untouched."""

from __future__ import annotations

import pyarrow.dataset as pads
import pydicom
import pytest

from medspark.dicom.inspect import InspectOptions, inspect_file
from medspark.dicomweb.catalog import instances_in, series_to_walk
from medspark.dicomweb.locations import parse
from medspark.spark.jobs.pipeline import run_single_pass
from medspark.spark.run import Run
from tests.conftest import TEST_KEY, pydicom_file
from tests.pacs.conftest import store_all
from tests.pacs.faulty_proxy import FaultyProxy
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark
FAULTS = ("error", "busy-once", "truncate", "junk", "drop", "drop-once")


def test_failing_instances_are_quarantined_with_the_servers_answer(
    spark, orthanc, pydicom_instances, tmp_path, monkeypatch
):
    monkeypatch.setenv("MEDSPARK_DICOMWEB_RETRIES", "2")
    monkeypatch.setenv("MEDSPARK_DICOMWEB_BACKOFF_SECONDS", "0")
    stored = store_all(orthanc, pydicom_instances[:12], tmp_path / "stored")
    keys = [found.key for series in series_to_walk(parse(orthanc.dicomweb))
            for found in instances_in(series)]  # fmt: skip
    assert len(keys) == len(stored) >= 8
    chosen = {parse(key).instance: fault for key, fault in zip(keys, FAULTS, strict=False)}
    upstream = orthanc.dicomweb.removeprefix("dicomweb+")
    with FaultyProxy(upstream.removesuffix("/dicom-web"), chosen) as proxy:
        source = f"dicomweb+{proxy.url}/dicom-web"
        result = run_single_pass(
            Run(spark, make_settings(), str(tmp_path / "out"), source, TEST_KEY)
        )
        hits = dict(proxy.hits)
    counts = result.summary["counts"]
    assert counts["listed_files"] == counts["accounted_files"] == len(stored)
    quarantine = pads.dataset(tmp_path / "out" / "quarantine", partitioning="hive").to_table()
    by_uid = {parse(r["path"]).instance: r for r in quarantine.to_pylist()}
    by_fault = {fault: by_uid.get(uid) for uid, fault in chosen.items()}
    assert (by_fault["error"]["reason"], by_fault["error"]["detail"]) == (
        "unreadable", "the server answered 500.")  # fmt: skip
    assert by_fault["truncate"]["reason"] == "unreadable"
    assert by_fault["truncate"]["detail"].startswith("the server's answer is cut short")
    assert by_fault["junk"]["reason"] == "not_dicom"
    assert by_fault["drop"]["reason"] == "unreadable"
    assert by_fault["drop"]["detail"].startswith(
        "the server's answer is cut short: the connection ended early"
    )
    assert by_fault["busy-once"] is None  # retried after the 429, then read
    assert by_fault["drop-once"] is None  # asked again after the dropped connection, then read
    uid_of = {fault: uid for uid, fault in chosen.items()}
    assert hits[uid_of["error"]] == 3 and hits[uid_of["busy-once"]] == 2
    assert hits[uid_of["drop"]] == 3 and hits[uid_of["drop-once"]] == 2
    metadata = pads.dataset(tmp_path / "out" / "metadata", partitioning="hive").to_table()
    assert metadata.num_rows == len(stored) - 4


def test_an_instance_over_the_size_limit_is_quarantined_not_held(orthanc, monkeypatch):
    """CT_small (39 KB) is over a 20 KB limit, MR_small (10 KB) is not."""
    for name in ("CT_small.dcm", "MR_small.dcm"):
        orthanc.store(pydicom_file(name).read_bytes())
    wanted = {str(pydicom.dcmread(pydicom_file(n)).SOPInstanceUID): n
              for n in ("CT_small.dcm", "MR_small.dcm")}  # fmt: skip
    keys = {wanted[parse(found.key).instance]: found.key
            for series in series_to_walk(parse(orthanc.dicomweb))
            for found in instances_in(series) if parse(found.key).instance in wanted}  # fmt: skip
    monkeypatch.setenv("MEDSPARK_DICOMWEB_MAX_INSTANCE_MB", "0.02")
    records = {name: next(inspect_file(key, 0, InspectOptions(run_id="limit")))
               for name, key in keys.items()}  # fmt: skip
    assert (records["CT_small.dcm"]["outcome"], records["CT_small.dcm"]["detail"]) == (
        "quarantine",
        "the answer is larger than 0.02 MB (MEDSPARK_DICOMWEB_MAX_INSTANCE_MB).",
    )
    assert records["MR_small.dcm"]["outcome"] == "metadata"
