"""Scheduled incremental ETL: each run processes only new or changed files, exactly once.

State lives under OUT/_etl: `seen/batch=N` (every file a committed batch processed, with its
size and modification time), `batches/N/plan.parquet` (the files batch N will process, written
before any output) and `batches/N/_COMMITTED`. A batch writes each table into
`batches/N/staging/<table>` and renames it whole into `OUT/<table>/etl_batch=N`, so readers never
see half-written Parquet. A run that finds a planned but uncommitted batch (the last run was
killed) removes whatever that batch had put in place and runs the same plan again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from medspark import listing
from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.run_summary import JobResult, RunSummary, new_run_id
from medspark.schemas import FEATURES, METADATA, QUARANTINE, TableSpec
from medspark.spark import catalog
from medspark.spark.compaction import finish_compaction
from medspark.spark.current import (
    BATCH_COLUMN,
    SEEN_DDL,
    SOURCE_SHA,
    TABLES,
    batches_with,
    committed_batches,
    read_current,
    seen_files,
    state_uri,
)
from medspark.spark.encryption import write_options
from medspark.spark.features import extract_features, stage_records
from medspark.spark.ingest import inspect_records
from medspark.spark.progress import StageProgress
from medspark.spark.tables import delete_path, path_exists, rename_path
from medspark.storage import join_uri, write_text

log = logging.getLogger("medspark.etl")


class IncompatibleOutputError(ValueError):
    """OUT holds tables written by the one-shot jobs, not by `medspark etl`."""


@dataclass(frozen=True)
class EtlResult(JobResult):
    """What one scheduled run did."""

    @property
    def quarantined(self) -> int:
        return int(self.summary["counts"].get("quarantined", 0))


def _batch_name(batch: int) -> str:
    return f"{batch:06d}"


def _table_uri(out_uri: str, spec: TableSpec, batch: int) -> str:
    return join_uri(out_uri, spec.name, f"{BATCH_COLUMN}={batch}")


def _undo(spark: SparkSession, out_uri: str, batch: int) -> None:
    """Remove everything an uncommitted batch may have put in place."""
    for spec in TABLES:
        delete_path(spark, _table_uri(out_uri, spec, batch))
    delete_path(spark, state_uri(out_uri, "seen", f"batch={batch}"))
    delete_path(spark, state_uri(out_uri, "batches", _batch_name(batch), "staging"))


def _write_staged(
    df: DataFrame, uri: str, partition: str | None = None, options: dict[str, str] | None = None
) -> None:
    writer = df.write.mode("overwrite").options(**(options or {}))
    if partition:
        writer = writer.partitionBy(partition)
    writer.parquet(uri)


def _process(
    spark: SparkSession,
    settings: Settings,
    out_uri: str,
    batch: int,
    key: PseudonymKey | None,
    run_id: str,
) -> dict[str, int]:
    """Run one planned batch to its commit; returns its counts.

    Every instance is stored (duplicates are resolved in `current_tables`), and features
    keep the sha256 of the file version they came from.
    """
    folder = state_uri(out_uri, "batches", _batch_name(batch))
    staging = join_uri(folder, "staging")
    plan = (
        spark.read.schema(SEEN_DDL)
        .parquet(join_uri(folder, "plan"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    files = plan.count()
    progress = StageProgress(spark, "etl ingest", files)
    inspected = inspect_records(plan, files, settings, key, run_id, progress)
    with progress:
        _write_staged(
            inspected.filter("outcome = 'metadata'").select(*METADATA.columns),
            join_uri(staging, METADATA.name),
            options=write_options(settings.deid.encryption, METADATA.schema),
        )
        _write_staged(
            inspected.filter("outcome = 'quarantine'").select(*QUARANTINE.columns),
            join_uri(staging, QUARANTINE.name),
            "stage",
        )
    staged_metadata = spark.read.schema(from_arrow_schema(METADATA.schema)).parquet(
        join_uri(staging, METADATA.name)
    )
    features_progress = StageProgress(spark, "etl features")
    records, images, _ = extract_features(
        spark, settings, staged_metadata, run_id, key, features_progress.counter
    )
    features_progress.total = images
    with features_progress:
        staged = stage_records(records, join_uri(staging, "records"))
    _write_staged(
        staged.filter("outcome = 'features'").select(
            *FEATURES.columns, F.col("sha256").alias(SOURCE_SHA)
        ),
        join_uri(staging, FEATURES.name),
        options=write_options(settings.deid.encryption, FEATURES.schema),
    )
    decode = staged.filter("outcome = 'quarantine'").select(*QUARANTINE.columns)
    decode.write.mode("append").partitionBy("stage").parquet(join_uri(staging, QUARANTINE.name))
    counts = {
        "files": files,
        "instances": staged_metadata.count(),
        "feature_rows": staged.filter("outcome = 'features'").count(),
    }
    for spec in TABLES:
        rename_path(spark, join_uri(staging, spec.name), _table_uri(out_uri, spec, batch))
    seen_staging = join_uri(staging, "seen")
    plan.coalesce(1).write.mode("overwrite").parquet(seen_staging)
    rename_path(spark, seen_staging, state_uri(out_uri, "seen", f"batch={batch}"))
    write_text(join_uri(folder, "_COMMITTED"), json.dumps({"run_id": run_id, **counts}) + "\n")
    delete_path(spark, staging)
    inspected.unpersist()
    plan.unpersist()
    return counts


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
    metadata = join_uri(out_uri, METADATA.name)
    if path_exists(spark, metadata) and not path_exists(spark, state_uri(out_uri)):
        raise IncompatibleOutputError(
            f"{out_uri} holds tables from `medspark ingest`; give `medspark etl` its own output"
        )


def run_etl(
    spark: SparkSession,
    settings: Settings,
    input_uri: str,
    out_uri: str,
    key: PseudonymKey | None,
    run_id: str | None = None,
) -> EtlResult:
    """Finish an interrupted batch if there is one, then process what is new under INPUT."""
    run_id = run_id or new_run_id()
    summary = RunSummary.start("etl", run_id, input_uri, out_uri, settings, key)
    _refuse_one_shot_output(spark, out_uri)
    if settings.deid.hash_paths:
        raise IncompatibleOutputError(
            "medspark etl tracks files by path: it cannot run with deid.hash_paths: true"
        )
    catalog.require_input(input_uri)
    finish_compaction(spark, out_uri)
    committed = committed_batches(spark, out_uri)
    totals: dict[str, Any] = {"batches": [], "recovered_batches": [], "quarantined": 0}

    began = time.monotonic()
    for batch in sorted(set(batches_with(spark, out_uri, "plan")) - set(committed)):
        log.warning("batch %d was planned but never committed: redoing it", batch)
        _undo(spark, out_uri, batch)
        _process(spark, settings, out_uri, batch, key, run_id)
        totals["recovered_batches"].append(batch)
        committed.append(batch)
    summary.stage("recover", began, batches=len(totals["recovered_batches"]))

    began = time.monotonic()
    root = listing.root_path(input_uri)
    listed = catalog.list_files(spark, root).persist(StorageLevel.MEMORY_AND_DISK)
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
    summary.stage("plan", began, listed=listed.count(), new_or_changed=ready, deferred=deferred)
    log.info(
        "plan: %d new or changed files; %d left for the next run (settling, or over the limit)",
        ready,
        deferred,
    )

    if ready:
        began = time.monotonic()
        batch = max(committed, default=0) + 1
        folder = state_uri(out_uri, "batches", _batch_name(batch))
        chosen.coalesce(1).write.mode("overwrite").parquet(join_uri(folder, ".plan"))
        rename_path(spark, join_uri(folder, ".plan"), join_uri(folder, "plan"))
        counts = _process(spark, settings, out_uri, batch, key, run_id)
        totals["batches"].append({"batch": batch, **counts})
        summary.stage("batch", began, batch=batch, **counts)
    done = totals["recovered_batches"] + [b["batch"] for b in totals["batches"]]
    totals["quarantined"] = _quarantined_in(spark, out_uri, done)
    listed.unpersist()
    summary.counts(new_or_changed=ready, deferred=deferred, **totals)
    summary_uri = summary.finish(spark.version)
    return EtlResult(run_id, summary.as_dict(), summary_uri)
