"""Scheduled incremental ETL: each run processes only new or changed files, exactly once.

State lives under OUT/_etl: `seen/batch=N` (every file a batch processed, with its size and
modification time), `batches/N/plan` (the files batch N will process, written before any
output) and `stored/<table>/etl_batch=N` (the batch's rows as processed). A batch writes each
table into `batches/N/staging/<table>` and renames it whole into the stored history, then
computes the tables' current state from the history and commits it to each table
(`OUT/<table>/vNNNNNN` plus one Delta transaction that replaces the previous version's files
and records the batch as the application transaction `medspark-etl` = N). A batch is committed
when every table's transaction says so; a run that finds a planned batch no table committed
(the last run was killed) removes what that batch had put in place and runs the same plan
again, and one that finds it committed by some tables commits it to the rest.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from medspark import layout
from medspark.config import Settings
from medspark.run_summary import JobResult
from medspark.schemas import METADATA, PLAN, QUARANTINE, SEEN
from medspark.spark.output.current import (
    BATCH_COLUMN,
    SOURCE_SHA,
    STORED_TABLES,
    TABLES,
    IncompatibleOutputError,
    committed_batches,
    finish_compaction,
    legacy_committed_batches,
    planned_batches,
    read_current,
    seen_files,
    stored_current,
)
from medspark.spark.output.delta_log import commit_folder, committed_version, is_delta_table
from medspark.spark.output.filesystem import delete_path, path_exists, rename_path
from medspark.spark.output.tables import read_table, write_table
from medspark.spark.output.task_tables import Producer, written_pass
from medspark.spark.progress import StageProgress
from medspark.spark.records import catalog
from medspark.spark.records.single_pass import single_pass_options, single_pass_partition
from medspark.spark.run import Run

log = logging.getLogger("medspark.etl")


def _undo(spark: SparkSession, out_uri: str, batch: int) -> None:
    """Remove everything a batch no table committed may have put in place."""
    for spec in TABLES:
        stored = layout.etl_stored(out_uri, spec)
        delete_path(spark, layout.partition(stored, BATCH_COLUMN, batch))
        delete_path(spark, layout.table_version(out_uri, spec, batch))
    delete_path(spark, layout.partition(layout.table(out_uri, SEEN), "batch", batch))
    delete_path(spark, layout.batch_staging(out_uri, batch))


def _commit(
    spark: SparkSession, settings: Settings, out_uri: str, batch: int, stored: list[int]
) -> None:
    """Commit the current state as of the `stored` batches (the newest is `batch`) to every
    table that has not committed `batch` yet: its files, then its Delta transaction."""
    current = stored_current(spark, out_uri, stored)
    for spec in TABLES:
        table = layout.table(out_uri, spec)
        if committed_version(table) >= batch:
            continue
        folder = layout.table_version(out_uri, spec, batch)
        delete_path(spark, folder)
        rows = current[spec.name].persist(StorageLevel.MEMORY_AND_DISK)
        files = max(1, math.ceil(rows.count() / settings.etl.compact_rows_per_file))
        write_table(rows, out_uri, spec, settings.deid.encryption, to=folder, files=files)
        rows.unpersist()
        commit_folder(spark, table, folder, spec, batch)


def _migrate(spark: SparkSession, settings: Settings, out_uri: str) -> None:
    """Convert an output of the layout before Delta (tables of `etl_batch=N` partitions, commit
    markers): its partitions become the stored history and its current state the tables' first
    Delta version; an interrupted batch of it is redone as any other."""
    if is_delta_table(layout.table(out_uri, METADATA)):
        return
    committed = legacy_committed_batches(spark, out_uri)
    if not committed:
        return
    log.warning("converting %s to Delta tables (batches %s)", out_uri, committed)
    for spec in TABLES:
        legacy, stored = layout.table(out_uri, spec), layout.etl_stored(out_uri, spec)
        if path_exists(spark, legacy) and not path_exists(spark, stored):
            rename_path(spark, legacy, stored)
    _commit(spark, settings, out_uri, max(committed), committed)
    for batch in committed:
        delete_path(spark, layout.batch_commit(out_uri, batch))


def _with_source_sha(produce: Producer) -> Producer:
    """The single pass's records with the sha256 of the file version each came from, which the
    stored features keep (`SOURCE_SHA`)."""

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in produce(batches):
            yield batch.append_column(SOURCE_SHA, batch.column("sha256"))

    return run


def _process(run: Run, batch: int) -> dict[str, int]:
    """Run one planned batch to its commit; returns its counts.

    Each task writes its share of the batch's tables into the batch's staging folder; every
    instance is stored (duplicates are resolved in `current_tables`), and features keep the
    sha256 of the file version they came from.
    """
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    plan = read_table(spark, out_uri, PLAN, at=layout.batch_plan(out_uri, batch)).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    files = plan.count()
    progress = StageProgress(spark, "etl", files)
    options = single_pass_options(settings, run.key, run.id)
    written = written_pass(
        plan,
        files,
        _with_source_sha(single_pass_partition(options, progress.counter)),
        settings.ingest.files_per_task,
        layout.batch_staging(out_uri, batch),
        settings.deid.encryption,
        STORED_TABLES,
    )
    counts = written.counted(progress, settings.deid.pixels == "hold_back")
    written.seal(counts.parts)
    written.ledger.unpersist()
    for spec in TABLES:
        target = layout.partition(layout.etl_stored(out_uri, spec), BATCH_COLUMN, batch)
        rename_path(spark, layout.batch_staging(out_uri, batch, spec.name), target)
    seen_staging = layout.batch_staging(out_uri, batch, SEEN.name)
    write_table(plan, out_uri, PLAN, settings.deid.encryption, to=seen_staging, files=1)
    rename_path(spark, seen_staging, layout.partition(layout.table(out_uri, SEEN), "batch", batch))
    delete_path(spark, layout.batch_staging(out_uri, batch))
    _commit(spark, settings, out_uri, batch, list(range(1, batch + 1)))
    plan.unpersist()
    summary = counts.summary()
    return {
        "files": files,
        "instances": summary["metadata"],
        "feature_rows": summary["feature_rows"],
    }


def _quarantined_in(spark: SparkSession, out_uri: str, batches: list[int]) -> int:
    """Files of these batches that the current tables quarantine (duplicates included)."""
    if not batches:
        return 0
    paths = seen_files(spark, out_uri, batches).select(F.col("path").alias("_file"))
    quarantine = read_current(spark, out_uri, QUARANTINE)
    return (
        quarantine.withColumn("_file", F.split("path", "!/").getItem(0))
        .join(paths, "_file", "left_semi")
        .count()
    )


def _refuse_one_shot_output(spark: SparkSession, out_uri: str) -> None:
    metadata = layout.table(out_uri, METADATA)
    if path_exists(spark, metadata) and not path_exists(spark, layout.etl_state(out_uri)):
        raise IncompatibleOutputError(
            f"{out_uri} holds tables from `medspark ingest`; give `medspark etl` its own output"
        )


def run_etl(run: Run) -> JobResult:
    """Finish an interrupted batch if there is one, then process what is new under INPUT."""
    run = run.begin("etl")
    spark, settings, out_uri = run.spark, run.settings, run.out_uri
    _refuse_one_shot_output(spark, out_uri)
    if settings.deid.hash_paths:
        raise IncompatibleOutputError(
            "medspark etl tracks files by path: it cannot run with deid.hash_paths: true"
        )
    catalog.require_input(run.input)
    finish_compaction(spark, out_uri)
    _migrate(spark, settings, out_uri)
    committed = committed_batches(spark, out_uri)
    totals: dict[str, Any] = {"batches": [], "recovered_batches": [], "quarantined": 0}

    with run.stage("recover") as stage:
        for batch in sorted(set(planned_batches(spark, out_uri)) - set(committed)):
            if any(committed_version(layout.table(out_uri, spec)) >= batch for spec in TABLES):
                log.warning(
                    "batch %d was committed to some tables only: committing the rest", batch
                )
                _commit(spark, settings, out_uri, batch, list(range(1, batch + 1)))
            else:
                log.warning("batch %d was planned but never committed: redoing it", batch)
                _undo(spark, out_uri, batch)
                _process(run, batch)
            totals["recovered_batches"].append(batch)
            committed.append(batch)
        stage.update(batches=len(totals["recovered_batches"]))

    with run.stage("plan") as stage:
        listed = catalog.list_files(spark, run.input).persist(StorageLevel.MEMORY_AND_DISK)
        seen = seen_files(spark, out_uri, committed).select(*listed.columns)
        new = listed.join(seen, ["path", "length", "modificationTime"], "left_anti")
        settle_ms = int(settings.etl.settle_seconds * 1000)
        cutoff = int(time.time() * 1000) - settle_ms
        settled = F.coalesce(F.col("modificationTime"), F.lit(0)) <= cutoff
        counts = new.groupBy(settled.alias("settled")).count().collect()
        by_state = {bool(r["settled"]): int(r["count"]) for r in counts}
        ready, deferred = by_state.get(True, 0), by_state.get(False, 0)
        chosen = new.filter(settled)
        limit = settings.etl.max_files_per_run
        if limit and ready > limit:
            chosen = chosen.orderBy("modificationTime", "path").limit(limit)
            deferred, ready = deferred + ready - limit, limit
        stage.update(listed=listed.count(), new_or_changed=ready, deferred=deferred)

    if ready:
        batch = max(committed, default=0) + 1
        with run.stage("batch", batch=batch) as stage:
            unfinished = layout.batch_plan(out_uri, batch, final=False)
            write_table(chosen, out_uri, PLAN, settings.deid.encryption, to=unfinished, files=1)
            rename_path(spark, unfinished, layout.batch_plan(out_uri, batch))
            processed = _process(run, batch)
            totals["batches"].append({"batch": batch, **processed})
            stage.update(processed)
    done = totals["recovered_batches"] + [b["batch"] for b in totals["batches"]]
    totals["quarantined"] = _quarantined_in(spark, out_uri, done)
    listed.unpersist()
    run.count(new_or_changed=ready, deferred=deferred, **totals)
    return run.finish()
