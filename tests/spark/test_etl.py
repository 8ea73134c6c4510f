"""Scheduled incremental ETL: three drops, a real SIGKILL mid-batch, a changed and a half-copied
file; the current tables must equal a from-scratch run over the same files, as Spark reads them
from the Delta logs and as deltalake, DuckDB and Polars do."""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pydicom
import pytest

from medspark.cli import EXIT_LOCKED, main
from medspark.layout import TABLE_MARKER
from medspark.run_lock import RunLock, RunLockedError
from medspark.schemas import FEATURES, METADATA, QUARANTINE
from medspark.spark.jobs.compaction import compact
from medspark.spark.jobs.etl import run_etl
from medspark.spark.jobs.features import run_features
from medspark.spark.jobs.ingest import run_ingest
from medspark.spark.output.current import committed_batches, current_tables
from medspark.spark.output.tables import read_table
from medspark.spark.run import Run
from tests.conftest import PYDICOM_TEST_FILES, TEST_KEY
from tests.spark.test_cli import child_env
from tests.spark_settings import make_settings

pytestmark = pytest.mark.spark
RUN_COLUMNS = {"run_id", "processed_at"}
HOURS_AGO = time.time() - 7200


def _settings(settle: float = 0.0):
    base = make_settings()
    return base.model_copy(update={"etl": base.etl.model_copy(update={"settle_seconds": settle})})


def _read_deltalake(table: Path) -> pa.Table:
    from deltalake import DeltaTable

    return DeltaTable(str(table)).to_pyarrow_table()


def _read_duckdb(table: Path) -> pa.Table:
    import duckdb
    import duckdb_extension_delta

    extension = next(Path(duckdb_extension_delta.__file__).parent.glob("extensions/*/delta.*"))
    connection = duckdb.connect()
    connection.execute(f"LOAD '{extension}'")
    return connection.execute(f"SELECT * FROM delta_scan('{table}')").to_arrow_table()


def _read_polars(table: Path) -> pa.Table:
    import polars

    return polars.read_delta(str(table)).to_arrow()


DELTA_READERS = {"deltalake": _read_deltalake, "duckdb": _read_duckdb, "polars": _read_polars}


def _one_shot_arrow(out: Path, spec) -> pa.Table:
    """A one-shot table as a plain Parquet folder, its partition folders read as columns."""
    dataset = ds.dataset(out / spec.place, format="parquet", partitioning="hive")
    return dataset.to_table()


def _arrow_rows(table: pa.Table, spec) -> list[tuple]:
    """The rows of `table` in the spec's types, run columns left out, in a fixed order."""
    columns = [f for f in spec.schema if f.name not in RUN_COLUMNS]
    cast = pa.table(
        [table.column(f.name).cast(f.type) for f in columns], names=[f.name for f in columns]
    )
    return sorted((tuple(repr(v) for v in row.values()) for row in cast.to_pylist()), key=str)


def _rows(df) -> list[tuple]:
    columns = sorted(c for c in df.columns if c not in RUN_COLUMNS)
    return sorted((tuple(repr(v) for v in row) for row in df.select(*columns).collect()), key=str)


def _drop(files: list[Path], landing: Path) -> None:
    for source in files:
        target = landing / source.relative_to(PYDICOM_TEST_FILES)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        os.utime(target, (HOURS_AGO, HOURS_AGO))


def _run(spark, landing: Path, out: Path, settle: float = 0.0):
    return run_etl(Run(spark, _settings(settle), str(out), str(landing), TEST_KEY))


def _start_etl(landing: Path | str, out: Path) -> subprocess.Popen:
    """`medspark etl` as its own process group, with the test key."""
    return subprocess.Popen(
        [sys.executable, "-m", "medspark.cli", "etl", str(landing), str(out),
         "--settle-seconds", "0"],
        env=child_env(MEDSPARK_PSEUDONYM_KEY=TEST_KEY.secret.decode()),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip


def _kill_during_batch(
    landing: Path | str, out: Path, batch: int, when: str = f"staging/metadata/{TABLE_MARKER}"
) -> None:
    """Start `medspark etl` in its own process group and SIGKILL it once the batch folder holds
    `when` (by default its sealed staged metadata: the features and the commit are still to
    come)."""
    marker = out / "_etl" / "batches" / f"{batch:06d}" / when
    process = _start_etl(landing, out)
    deadline = time.monotonic() + 240
    try:
        while not marker.exists():
            assert process.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, f"the batch never reached {when}"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def incremental(spark, tmp_path_factory):
    root = tmp_path_factory.mktemp("etl")
    landing, out = root / "landing", root / "out"
    landing.mkdir()
    files = sorted(p for p in PYDICOM_TEST_FILES.rglob("*") if p.is_file())
    random.Random(11).shuffle(files)  # drops do not arrive in path order
    drops = [files[:40], files[40:110], files[110:]]

    _drop(drops[0], landing)
    first = _run(spark, landing, out)

    _drop(drops[1], landing)
    _kill_during_batch(landing, out, batch=2)
    killed_state = {
        "committed": committed_batches(spark, str(out)),
        "plan": (out / "_etl" / "batches" / "000002" / "plan").exists(),
        "visible": sorted(p.name for p in (out / "metadata").iterdir() if p.name[0] != "_"),
    }
    recovered = _run(spark, landing, out)

    _drop(drops[2], landing)
    third = _run(spark, landing, out)

    changed = landing / "CT_small.dcm"
    dataset = pydicom.dcmread(changed)
    dataset.PixelData = bytes(len(dataset.PixelData))
    dataset.save_as(changed)
    os.utime(changed, (HOURS_AGO + 60, HOURS_AGO + 60))
    half = landing / "arriving" / "MR_small"
    half.parent.mkdir()
    whole = (PYDICOM_TEST_FILES / "MR_small.dcm").read_bytes()
    half.write_bytes(whole[: len(whole) // 2])  # still being copied: modified just now
    fourth = _run(spark, landing, out, settle=600)
    return {
        "landing": landing,
        "out": out,
        "root": root,
        "runs": [first, recovered, third, fourth],
        "drop_sizes": [len(drop) for drop in drops],
        "killed": killed_state,
        "half": (half, whole),
    }


def test_the_kill_left_a_planned_uncommitted_batch_that_the_next_run_redid(incremental):
    assert incremental["killed"] == {"committed": [1], "plan": True, "visible": ["v000001"]}
    _, recovered, _, _ = incremental["runs"]
    assert recovered.summary["counts"]["recovered_batches"] == [2]
    assert recovered.summary["counts"]["new_or_changed"] == 0


def test_each_run_took_only_what_was_new(incremental):
    first, _, third, fourth = incremental["runs"]
    assert first.summary["counts"]["new_or_changed"] == 40
    assert third.summary["counts"]["new_or_changed"] == incremental["drop_sizes"][2]
    assert fourth.summary["counts"]["new_or_changed"] == 1  # the changed file
    assert fourth.summary["counts"]["deferred"] == 1  # the half-copied one waits
    assert (incremental["out"] / "audit").is_dir()
    # one audit row per finished run: first, recovered, third, fourth (the killed one never ended)
    assert len(list((incremental["out"] / "audit").glob("*.parquet"))) == 4


def _from_scratch(spark, landing: Path, out: Path, settle: float):
    run_etl(Run(spark, _settings(settle), str(out), str(landing), TEST_KEY))
    return current_tables(spark, str(out))


def _assert_redone_and_equal(spark, landing: Path, out: Path, scratch: Path) -> None:
    """The next run redoes batch 2, and the result equals a from-scratch run."""
    recovered = _run(spark, landing, out)
    assert recovered.summary["counts"]["recovered_batches"] == [2]
    current = current_tables(spark, str(out))
    fresh = _from_scratch(spark, landing, scratch, 0)
    for name in (METADATA.name, QUARANTINE.name, FEATURES.name):
        assert _rows(current[name]) == _rows(fresh[name]), name


def test_current_tables_equal_a_from_scratch_run_row_for_row(spark, incremental):
    current = current_tables(spark, str(incremental["out"]))
    scratch = _from_scratch(spark, incremental["landing"], incremental["root"] / "scratch", 600)
    for name in (METADATA.name, QUARANTINE.name, FEATURES.name):
        assert _rows(current[name]) == _rows(scratch[name]), name
    paths = [r["path"] for r in current[METADATA.name].select("path").collect()]
    assert not any("arriving" in p for p in paths)
    assert current[METADATA.name].count() > 50 and current[FEATURES.name].count() > 20


def test_changed_file_is_a_new_version_and_the_old_one_is_history(spark, incremental):
    out = incremental["out"]
    current = current_tables(spark, str(out))[METADATA.name]
    changed = str(incremental["landing"] / "CT_small.dcm")
    (row,) = current.filter(current.path == changed).collect()
    stored = spark.read.parquet(str(out / "_etl" / "stored" / "metadata"))
    stored = stored.filter(f"path = '{changed}'")
    assert stored.count() == 2  # both versions kept on disk
    assert stored.select("sha256").distinct().count() == 2
    newest = stored.orderBy("etl_batch", ascending=False).first()
    assert row["sha256"] == newest["sha256"]


def test_settled_copy_is_taken_and_still_equals_the_one_shot_jobs(spark, incremental):
    half, whole = incremental["half"]
    half.write_bytes(whole)
    os.utime(half, (HOURS_AGO, HOURS_AGO))
    landing, out, root = incremental["landing"], incremental["out"], incremental["root"]
    result = _run(spark, landing, out, settle=600)
    assert result.summary["counts"]["new_or_changed"] == 1
    current = current_tables(spark, str(out))
    one_shot = root / "one-shot"
    settings = make_settings()
    run_ingest(Run(spark, settings, str(one_shot), str(landing), TEST_KEY))
    run_features(Run(spark, settings, str(one_shot), key=TEST_KEY))
    for spec in (METADATA, QUARANTINE, FEATURES):
        assert _rows(current[spec.name]) == _rows(read_table(spark, str(one_shot), spec)), spec.name
        expected = _arrow_rows(_one_shot_arrow(one_shot, spec), spec)
        for reader, read in DELTA_READERS.items():
            assert _arrow_rows(read(out / spec.place), spec) == expected, (reader, spec.name)


def test_a_replaced_file_is_one_row_with_its_new_content_in_every_reader(incremental):
    out = incremental["out"]
    changed = incremental["landing"] / "CT_small.dcm"
    newest = hashlib.sha256(changed.read_bytes()).hexdigest()
    for reader, read in DELTA_READERS.items():
        rows = [r for r in read(out / "metadata").to_pylist() if r["path"] == str(changed)]
        assert [r["sha256"] for r in rows] == [newest], reader


def test_no_commit_marker_and_every_batch_is_a_delta_transaction(spark, incremental):
    from deltalake import DeltaTable

    out = incremental["out"]
    assert not list(out.rglob("_COMMITTED"))
    newest = max(committed_batches(spark, str(out)))
    assert newest >= 4
    for spec in (METADATA, QUARANTINE, FEATURES):
        table = DeltaTable(str(out / spec.place))
        assert table.transaction_version("medspark-etl") == newest
        assert all(f"/v{newest:06d}/" in f for f in table.file_uris())


def test_an_output_of_the_layout_before_delta_is_converted_once(spark, tmp_path):
    landing, out = tmp_path / "landing", tmp_path / "out"
    files = sorted(p for p in PYDICOM_TEST_FILES.glob("*.dcm"))[:12]
    _drop(files[:6], landing)
    _run(spark, landing, out)
    _drop(files[6:], landing)
    _run(spark, landing, out)
    expected = {k: _rows(v) for k, v in current_tables(spark, str(out)).items()}
    for spec in (METADATA, QUARANTINE, FEATURES):  # back to per-batch partitions under OUT
        shutil.rmtree(out / spec.place)
        (out / "_etl" / "stored" / spec.place).rename(out / spec.place)
    for batch in (1, 2):
        (out / "_etl" / "batches" / f"{batch:06d}" / "_COMMITTED").write_text("{}\n")
    result = _run(spark, landing, out)
    assert result.summary["counts"]["new_or_changed"] == 0
    assert committed_batches(spark, str(out)) == [1, 2]
    assert not list(out.rglob("_COMMITTED"))
    assert {k: _rows(v) for k, v in current_tables(spark, str(out)).items()} == expected
    assert _arrow_rows(DELTA_READERS["deltalake"](out / "metadata"), METADATA) == _arrow_rows(
        DELTA_READERS["polars"](out / "metadata"), METADATA
    )


def test_compaction_shrinks_files_and_changes_no_row(spark, incremental):
    out = str(incremental["out"])
    before = {k: _rows(v) for k, v in current_tables(spark, out).items()}
    report = compact(Run(spark, _settings(), out))
    assert (
        report["tables"]["metadata"]["files_after"] < report["tables"]["metadata"]["files_before"]
    )
    assert report["tables"]["seen"]["files_after"] == 1
    after = {k: _rows(v) for k, v in current_tables(spark, out).items()}
    assert after == before
    again = _run(spark, incremental["landing"], incremental["out"])
    assert again.summary["counts"]["new_or_changed"] == 0  # nothing re-read after compacting


def test_a_second_run_is_refused_while_one_holds_the_lock(incremental, capsys):
    out = str(incremental["out"])
    with RunLock(out):
        code = main(["etl", str(incremental["landing"]), out, "--throwaway-key"])
    assert code == EXIT_LOCKED
    assert "another medspark run holds" in capsys.readouterr().err


def test_the_lock_dies_with_a_killed_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\nfrom medspark.run_lock import RunLock\n"
         f"held = RunLock({str(tmp_path)!r}).__enter__()\n"
         "print('held', flush=True)\ntime.sleep(120)"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(RunLockedError), RunLock(str(tmp_path)):
        pass
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RunLock(str(tmp_path)) as lock:
        assert lock.path.is_file()


def test_a_crash_between_table_renames_is_undone_and_redone(spark, tmp_path, monkeypatch):
    import medspark.spark.jobs.etl as etl

    landing, out = tmp_path / "landing", tmp_path / "out"
    files = sorted(p for p in PYDICOM_TEST_FILES.glob("*.dcm"))[:16]
    _drop(files[:8], landing)
    _run(spark, landing, out)
    _drop(files[8:], landing)
    renamed: list[str] = []
    real_rename = etl.rename_path

    def crash_after_first_table(session, source, target):
        if len(renamed) == 2:  # the plan, then the first table
            raise KeyboardInterrupt("simulated crash")  # not an Exception: nothing catches it
        real_rename(session, source, target)
        renamed.append(target)

    monkeypatch.setattr(etl, "rename_path", crash_after_first_table)
    with pytest.raises(KeyboardInterrupt):
        _run(spark, landing, out)
    monkeypatch.setattr(etl, "rename_path", real_rename)
    assert renamed[1].endswith("_etl/stored/metadata/etl_batch=2")
    assert (out / "_etl" / "stored" / "metadata" / "etl_batch=2").is_dir()  # left in place
    assert committed_batches(spark, str(out)) == [1]
    _assert_redone_and_equal(spark, landing, out, tmp_path / "scratch")


def test_backfill_in_steps_takes_the_oldest_first(spark, tmp_path):
    landing, out = tmp_path / "landing", tmp_path / "out"
    files = sorted(p for p in PYDICOM_TEST_FILES.glob("*.dcm"))[:7]
    _drop(files, landing)
    for age, path in enumerate(sorted(landing.iterdir())):
        os.utime(path, (HOURS_AGO - 60 * age, HOURS_AGO - 60 * age))
    base = _settings()
    limited = base.model_copy(update={"etl": base.etl.model_copy(update={"max_files_per_run": 3})})
    taken = []
    for _ in range(4):
        result = run_etl(Run(spark, limited, str(out), str(landing), TEST_KEY))
        taken.append(result.summary["counts"]["new_or_changed"])
    assert taken == [3, 3, 1, 0]
    first_batch = spark.read.parquet(str(out / "_etl" / "seen" / "batch=1")).collect()
    oldest = sorted(landing.iterdir())[-3:]  # the largest age offsets are the oldest
    assert sorted(r["path"] for r in first_batch) == sorted(str(p) for p in oldest)
    current = current_tables(spark, str(out))
    scratch = _from_scratch(spark, landing, tmp_path / "scratch", 0)
    for name in (METADATA.name, QUARANTINE.name, FEATURES.name):
        assert _rows(current[name]) == _rows(scratch[name]), name


def test_report_of_an_incremental_output_counts_current_rows(spark, incremental):
    from medspark.report.gather import gather

    data = gather(spark, str(incremental["out"]))
    current = current_tables(spark, str(incremental["out"]))
    assert data.table_rows["metadata"] == current[METADATA.name].count()
    assert data.table_rows["features"] == current[FEATURES.name].count()
    assert any(t["job"] == "etl" for t in data.stage_times)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _python_workers(pid: int) -> list[int]:
    workers = []
    for child in _descendants(pid):
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"pyspark.daemon" in command or b"pyspark.worker" in command:
            workers.append(child)
    return workers


def test_a_killed_python_worker_fails_the_run_and_the_next_redoes_the_batch(spark, tmp_path):
    landing, out = tmp_path / "landing", tmp_path / "out"
    files = sorted(p for p in PYDICOM_TEST_FILES.glob("*.dcm"))
    _drop(files[:10], landing)
    _run(spark, landing, out)
    _drop(files[10:], landing)
    plan = out / "_etl" / "batches" / "000002" / "plan"
    process = _start_etl(landing, out)
    killed: list[int] = []
    deadline = time.monotonic() + 240
    try:
        # from the moment the batch is planned, every Python worker dies as soon as it appears
        while process.poll() is None and time.monotonic() < deadline:
            workers = _python_workers(process.pid) if plan.exists() else []
            for worker in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker, signal.SIGKILL)
            killed += workers
            time.sleep(0.01)
        code = process.wait(timeout=240)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert killed, "no Python worker was seen to kill"
    assert code == 1  # failed, and said so to the scheduler
    assert committed_batches(spark, str(out)) == [1]
    _assert_redone_and_equal(spark, landing, out, tmp_path / "scratch")
