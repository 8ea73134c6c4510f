"""The command line and the spark-submit entry point: exit codes and messages a scheduler reads."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from medspark import capabilities, sources
from medspark.cli import EXIT_SPARK, EXIT_USAGE, main
from medspark.commands import COMMANDS
from tests.conftest import pydicom_file

REPO = Path(__file__).resolve().parents[2]
SPARK_SUBMIT = Path(sys.executable).parent / "spark-submit"


def small_input(root: Path) -> Path:
    folder = root / "in" / "study"
    folder.mkdir(parents=True)
    for name in ("CT_small.dcm", "MR_small.dcm", "README.txt"):
        shutil.copyfile(pydicom_file(name), folder / name.replace(".", "_"))
    return root / "in"


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYSPARK_GATEWAY")}
    env.update(SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable, **extra)
    env.pop("MEDSPARK_PSEUDONYM_KEY", None)
    env.update(extra)
    return env


def test_missing_input_exits_with_usage_code(tmp_path, capsys):
    code = main(["ingest", str(tmp_path / "nope"), str(tmp_path / "out"), "--throwaway-key"])
    assert code == EXIT_USAGE
    assert "input does not exist" in capsys.readouterr().err


def test_the_input_is_located_once_per_command(tmp_path, monkeypatch):
    located: list[str] = []
    real = sources.locate
    monkeypatch.setattr(sources, "locate", lambda uri: located.append(uri) or real(uri))
    folder = str(small_input(tmp_path))
    assert main(["ingest", folder, str(tmp_path / "out"), "--throwaway-key"]) == 0
    assert located == [folder]


def test_unwritable_output_exits_with_usage_code(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    code = main(["ingest", str(small_input(tmp_path)), str(blocker / "out"), "--throwaway-key"])
    assert code == EXIT_USAGE
    assert "not writable" in capsys.readouterr().err


def test_missing_key_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MEDSPARK_PSEUDONYM_KEY", raising=False)
    code = main(["ingest", str(small_input(tmp_path)), str(tmp_path / "out")])
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "no pseudonym key" in err and "--throwaway-key" in err


def test_spark_that_cannot_start_exits_with_its_own_code(tmp_path):
    conf = tmp_path / "broken.yaml"
    conf.write_text('spark:\n  master: "no-such-master://nowhere"\n  defaults_file: null\n')
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "medspark.cli",
            "ingest",
            str(small_input(tmp_path)),
            str(tmp_path / "out"),
            "--conf",
            str(conf),
            "--throwaway-key",
        ],
        env=child_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == EXIT_SPARK, result.stderr[-2000:]
    assert "Spark could not start" in result.stderr


def test_a_bad_local_master_is_one_line_without_a_java_stack_trace(tmp_path):
    from medspark.spark.session import first_cause

    conf = tmp_path / "broken.yaml"
    conf.write_text('spark:\n  master: "local[abc]"\n  defaults_file: null\n')
    result = subprocess.run(
        [sys.executable, "-m", "medspark.cli", "ingest", str(small_input(tmp_path)),
         str(tmp_path / "out"), "--conf", str(conf), "--throwaway-key"],
        env=child_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == EXIT_SPARK, result.stderr[-2000:]
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("medspark: ")]
    assert line.startswith("medspark: environment error: Spark could not start: ")
    assert "local[abc]" in line and "\tat " not in line and len(line) < 400
    java = "An error occurred while calling x.\n: org.apache.spark.SparkException: bad\n\tat a.b"
    assert first_cause(Exception(java)) == "org.apache.spark.SparkException: bad"


def test_one_entry_point_serves_every_command_of_the_table(capsys):
    assert sorted(p.name for p in (REPO / "jobs").iterdir() if p.suffix == ".py") == ["run.py"]
    for command in COMMANDS:
        with pytest.raises(SystemExit) as shown:
            main([command.name, "--help"])
        assert shown.value.code == 0, command.name
        assert capsys.readouterr().out.startswith(f"usage: medspark {command.name} ")
    spark_commands = {c.name for c in COMMANDS if c.spark}
    assert {"pipeline", "ingest", "etl", "demo"} <= spark_commands
    assert {"doctor", "receive", "pull"} == {c.name for c in COMMANDS} - spark_commands


@pytest.mark.spark
def test_spark_submit_runs_the_ingest_job(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        [
            str(SPARK_SUBMIT),
            "--master",
            "local[2]",
            "--conf",
            "spark.ui.enabled=false",
            str(REPO / "jobs" / "run.py"),
            "ingest",
            str(small_input(tmp_path)),
            str(out),
        ],
        env=child_env(MEDSPARK_PSEUDONYM_KEY="spark-submit-test-key-0123456789"),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metadata = pads.dataset(out / "metadata").to_table()
    quarantine = pads.dataset(out / "quarantine").to_table()
    assert sorted(metadata.column("modality").to_pylist()) == ["CT", "MR"]
    assert quarantine.column("reason").to_pylist() == ["not_dicom"]
    assert "2 metadata rows, 1 quarantined" in result.stdout
    assert "spark-submit-test-key" not in result.stdout + result.stderr


def test_etl_that_quarantined_files_exits_with_its_own_code(spark, tmp_path, monkeypatch):
    from medspark.cli import EXIT_OK, EXIT_QUARANTINED

    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", "cli-etl-key-0123456789abcdef")
    landing = tmp_path / "landing"
    landing.mkdir()
    shutil.copyfile(pydicom_file("CT_small.dcm"), landing / "ct")
    (landing / "notes.txt").write_text("not an image\n")
    out = tmp_path / "out"
    argv = ["etl", str(landing), str(out), "--settle-seconds", "0"]
    assert main(argv) == EXIT_QUARANTINED
    assert main(argv) == EXIT_OK  # nothing new: nothing quarantined by this run


def test_a_run_missing_a_capability_says_so_once_and_records_it(
    spark, tmp_path, monkeypatch, capsys
):
    lacking = capabilities.Capability("burned-in text detector", False, "rapidocr not installed",
                                      capabilities.OCR_INSTALL,
                                      capabilities.OCR_MISSING_EFFECT)  # fmt: skip
    monkeypatch.setattr(capabilities, "text_detector", lambda: lacking)
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", "capability-test-key-0123456789")
    images = tmp_path / "in"
    images.mkdir()
    (images / "ct").write_bytes(pydicom_file("CT_small.dcm").read_bytes())
    out = tmp_path / "out"
    assert main(["ingest", str(images), str(out)]) == 0
    error = capsys.readouterr().err
    lines = [line for line in error.splitlines() if "unavailable" in line]
    assert lines == [
        "medspark: burned-in text detector unavailable (rapidocr not installed): images at risk "
        f"of burned-in text are held back unchecked; install: {capabilities.OCR_INSTALL}"
    ]
    summary = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert summary["missing_capabilities"] == [
        {
            "capability": "burned-in text detector",
            "missing": "rapidocr not installed",
            "install": capabilities.OCR_INSTALL,
        }
    ]
