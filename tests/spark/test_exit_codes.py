"""Data and environment errors through the command line: one line on stderr, in the user's
terms, and the documented exit code (usage errors and the lock: tests/hostile/test_cli_contract)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pydicom
import pytest

from medspark import layout
from medspark.errors import EXIT_DATA, EXIT_ENVIRONMENT
from medspark.spark.output import kms
from tests.conftest import pydicom_file

pytestmark = pytest.mark.spark
KEY = "exit-code-test-key-0123456789"
FAST = ["--set", "features.keypoints=false", "--set", "features.thumbnail=false"]


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", KEY)


def _run(capsys, *argv: str) -> tuple[int, str]:
    from medspark.cli import main

    capsys.readouterr()
    code = main(list(argv))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("medspark")]
    return code, "\n".join(lines)


def _inputs(root, names):
    folder = root / "in"
    folder.mkdir()
    for name in names:
        shutil.copyfile(pydicom_file(name), folder / name)
    return folder


def _labels(path, rows):
    path.write_text("patient_id,label\n" + "".join(f"{p},{c}\n" for p, c in rows))
    return path


def test_training_on_images_all_held_back_says_why_there_are_no_rows(spark, tmp_path, capsys):
    inputs = _inputs(tmp_path, ["SC_rgb_gdcm_KY.dcm", "SC_jpeg_no_color_transform.dcm"])
    out = tmp_path / "out"
    hold = ["--set", "deid.pixels=hold_back", *FAST]
    assert _run(capsys, "ingest", str(inputs), str(out), *hold)[0] == 0
    assert _run(capsys, "features", str(out), *hold)[0] == 0
    labels = _labels(tmp_path / "labels.csv", [("a", "x"), ("b", "y")])
    code, err = _run(
        capsys, "train", str(out), "--labels", str(labels), "--model", str(tmp_path / "m"), *hold
    )
    assert code == EXIT_DATA
    assert err.count("\n") == 0 and err.startswith("medspark: data error: OUT/features has 0 rows")
    assert "of 2 images in OUT/metadata, 2 may carry burned-in annotation" in err
    assert "deid.pixels=detect_and_redact" in err


def test_labels_matching_one_class_are_a_data_error(spark, tmp_path, capsys):
    inputs = _inputs(tmp_path, ["CT_small.dcm", "MR_small.dcm"])
    out = tmp_path / "out"
    assert _run(capsys, "pipeline", str(inputs), str(out), *FAST)[0] == 0
    patients = [
        pydicom.dcmread(pydicom_file(n)).PatientID for n in ("CT_small.dcm", "MR_small.dcm")
    ]
    labels = _labels(tmp_path / "labels.csv", [(patient, "x") for patient in patients])
    code, err = _run(
        capsys, "train", str(out), "--labels", str(labels), "--model", str(tmp_path / "m"), *FAST
    )
    assert code == EXIT_DATA
    assert err.startswith(
        "medspark: data error: the labels match 2 feature rows, with classes ['x']: training "
        "needs at least two classes"
    )

    stored = Path(layout.table_marker(str(out / "features")))
    marker = json.loads(stored.read_text())
    stored.write_text(json.dumps({**marker, "version": marker["version"] + 1}))
    code, err = _run(
        capsys, "train", str(out), "--labels", str(labels), "--model", str(tmp_path / "m"), *FAST
    )
    assert code == EXIT_DATA
    assert f"features table version {marker['version'] + 1}; this medspark reads version" in err


def test_encryption_without_a_jar_or_a_jdk_is_an_environment_error(
    spark, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(kms, "PACKAGED_JAR", tmp_path / "absent.jar")
    monkeypatch.setattr(kms, "_javac", lambda: None)
    monkeypatch.setenv("MEDSPARK_CACHE", str(tmp_path / "cache"))
    inputs = _inputs(tmp_path, ["CT_small.dcm"])
    code, err = _run(
        capsys,
        "ingest",
        str(inputs),
        str(tmp_path / "out"),
        "--set",
        "deid.encryption.enabled=true",
    )
    assert code == EXIT_ENVIRONMENT
    assert err.startswith("medspark: environment error: column encryption needs")
    assert "\n" not in err and not (tmp_path / "out" / "metadata").exists()


def test_an_older_etl_batch_is_refused_not_read_as_nulls(spark, tmp_path, capsys):
    landing = _inputs(tmp_path, ["CT_small.dcm", "MR_small.dcm"])
    out = tmp_path / "out"
    quick = ["--settle-seconds", "0", *FAST]
    assert _run(capsys, "etl", str(landing), str(out), *quick)[0] == 0
    batch = next((out / "features").glob("v*"))  # the version the Delta log holds
    stored = Path(layout.table_marker(str(batch)))
    stored.write_text(json.dumps({**json.loads(stored.read_text()), "version": 0}))
    code, err = _run(capsys, "report", str(out), *FAST)
    assert code == EXIT_DATA
    assert f"{batch} holds features table version 0; this medspark reads version 2" in err
