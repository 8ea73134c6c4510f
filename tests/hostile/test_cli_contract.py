"""The command line's promises under hostile arguments: the documented exit code and one line
on stderr, checked before Spark starts, and nothing written where it should not be."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medspark.cli import EXIT_LOCKED, EXIT_USAGE, main
from medspark.errors import EXIT_ENVIRONMENT
from medspark.run_lock import RunLock
from tests.conftest import pydicom_file

KEY = "hostile-cli-key-0123456789abcdef"


@pytest.fixture(autouse=True)
def key(monkeypatch):
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", KEY)


@pytest.fixture
def inputs(tmp_path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "ct").write_bytes(pydicom_file("CT_small.dcm").read_bytes())
    return folder


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    err = capsys.readouterr().err
    return code, err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("medspark: "), err
    assert "Traceback" not in err
    return lines[0]


def test_empty_or_root_locations_are_usage_errors(capsys, inputs, tmp_path):
    before = set(os.listdir("/"))
    for argv in (
        ["ingest", str(inputs), ""],
        ["ingest", "", str(tmp_path / "out")],
        ["ingest", str(inputs), "/"],
        ["export", str(tmp_path / "out"), ""],
        ["export", str(tmp_path / "out"), "/"],
    ):
        code, err = run(capsys, *argv)
        assert code == EXIT_USAGE, argv
        one_line(err)
    assert set(os.listdir("/")) == before
    assert not (tmp_path / "out").exists()


def test_out_overlapping_input_or_dest_overlapping_out_is_refused(capsys, inputs, tmp_path):
    for argv in (
        ["ingest", str(inputs), str(inputs)],
        ["ingest", str(inputs), str(inputs / "out")],
        ["pipeline", str(inputs / "ct"), str(inputs)],
        ["etl", str(inputs), str(inputs / "state")],
        ["export", str(tmp_path / "out"), str(tmp_path / "out" / "shared")],
    ):
        code, err = run(capsys, *argv)
        assert code == EXIT_USAGE, argv
        assert "overlap" in one_line(err)
    assert sorted(p.name for p in inputs.iterdir()) == ["ct"]


def test_etl_and_one_shot_outputs_refuse_each_other_before_writing(capsys, inputs, tmp_path):
    one_shot = tmp_path / "one-shot"
    (one_shot / "metadata").mkdir(parents=True)
    for command in ("etl", "compact"):
        argv = (
            [command, str(inputs), str(one_shot)] if command == "etl" else [command, str(one_shot)]
        )
        code, err = run(capsys, *argv)
        assert code == EXIT_USAGE and "medspark ingest" in one_line(err)
    assert not (one_shot / "_etl").exists()
    incremental = tmp_path / "incremental"
    (incremental / "_etl" / "batches").mkdir(parents=True)
    for argv in (["ingest", str(inputs), str(incremental)], ["features", str(incremental)]):
        code, err = run(capsys, *argv)
        assert code == EXIT_USAGE and "medspark etl" in one_line(err)
    assert not (incremental / "metadata").exists()


def test_a_one_shot_job_waits_for_no_one_it_exits_when_the_lock_is_held(capsys, inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with RunLock(str(out)):
        for argv in (["ingest", str(inputs), str(out)], ["features", str(out)]):
            code, err = run(capsys, *argv)
            assert code == EXIT_LOCKED, argv
            line = one_line(err)
            assert line.startswith("medspark: locked: another medspark run holds"), line
            assert line.endswith("a crashed run never holds it)")
    assert sorted(p.name for p in out.iterdir()) == [".medspark-run.lock"]


def test_bad_configuration_values_are_usage_errors(capsys, inputs, tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("ingest:\n  files_per_task: [1,\n")
    out = str(tmp_path / "out")
    for argv in (
        ["ingest", str(inputs), out, "--conf", str(broken)],
        ["etl", str(inputs), out, "--max-files", "-1"],
        ["etl", str(inputs), out, "--settle-seconds", "-100000"],
        ["ingest", str(inputs), out, "--set", "features.bins=1"],
        ["ingest", str(inputs), out, "--set", "features.binz=32"],
        ["ingest", str(inputs), out, "--set", "features.bins"],
        ["ingest", str(inputs), out, "--profile", "cluster", "--set", "deid.pixels=maybe"],
    ):
        code, err = run(capsys, *argv)
        assert code == EXIT_USAGE, argv
        assert one_line(err).startswith("medspark: configuration error")
    assert not Path(out).exists()


@pytest.mark.parametrize(
    "secret", [" " * 16, "ab" * 8, "short-key"], ids=["blank", "repeated", "short"]
)
def test_weak_keys_are_refused(capsys, inputs, tmp_path, monkeypatch, secret):
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", secret)
    code, err = run(capsys, "ingest", str(inputs), str(tmp_path / "out"))
    assert code == EXIT_USAGE
    assert "pseudonym key" in one_line(err)
    assert not secret.strip() or secret not in err
    assert not (tmp_path / "out").exists()  # a refused run leaves nothing behind


def test_an_unreadable_key_file_is_a_usage_error(capsys, inputs, tmp_path, monkeypatch):
    monkeypatch.delenv("MEDSPARK_PSEUDONYM_KEY")
    key_file = tmp_path / "key"
    key_file.write_text("a-perfectly-good-key-0123456789\n")
    profile = tmp_path / "profile.yaml"
    profile.write_text(f"deid:\n  key_file: {key_file}\n")
    real_read = Path.read_bytes

    def refuse(self):
        if self == key_file:
            raise PermissionError(13, "Permission denied")
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", refuse)
    code, err = run(capsys, "ingest", str(inputs), str(tmp_path / "out"), "--conf", str(profile))
    assert code == EXIT_USAGE and "cannot be read" in one_line(err)
    assert not (tmp_path / "out").exists()


def test_a_missing_key_leaves_no_output_behind(capsys, inputs, tmp_path, monkeypatch):
    monkeypatch.delenv("MEDSPARK_PSEUDONYM_KEY")
    code, err = run(capsys, "ingest", str(inputs), str(tmp_path / "out"))
    assert code == EXIT_USAGE and "MEDSPARK_PSEUDONYM_KEY" in one_line(err)
    assert not (tmp_path / "out").exists()


def test_an_unreachable_filesystem_is_one_line_and_exit_3_before_spark(capsys, inputs, tmp_path):
    """hdfs:// on loopback, where nothing listens (and no libhdfs here): the run ends before
    Spark starts, naming the location, with the shape every error has."""
    unreachable = "hdfs://127.0.0.1:9/pacs-export"
    code, err = run(capsys, "ingest", unreachable, str(tmp_path / "out"))
    line = one_line(err)
    assert code == EXIT_ENVIRONMENT
    assert line.startswith(f"medspark: environment error: INPUT {unreachable} cannot be reached")
    assert line.endswith(")") and not (tmp_path / "out").exists()
    code, err = run(capsys, "ingest", str(inputs), "hdfs://127.0.0.1:9/out")
    assert code == EXIT_ENVIRONMENT and "OUT hdfs://127.0.0.1:9/out" in one_line(err)


def test_a_filesystem_that_does_not_answer_is_refused_in_time(monkeypatch):
    import time

    from medspark import storage
    from medspark.storage import UnreachableLocationError, check_reachable

    def hangs(uri):
        time.sleep(5)

    monkeypatch.setattr(storage, "ask_filesystem", hangs)
    began = time.monotonic()
    with pytest.raises(UnreachableLocationError, match=r"did not answer within 0\.5 s"):
        check_reachable("gs://bucket/export", "INPUT", seconds=0.5)
    assert time.monotonic() - began < 4
    check_reachable(str(Path.cwd()), "INPUT")  # local paths are not probed
