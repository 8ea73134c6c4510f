"""The current state of an incremental output: what a from-scratch run over today's files
would have written.

Each batch's rows as processed stay in OUT/_etl/stored (`etl_batch=N` partitions, the history).
From them a batch computes the current state: per input file only the newest batch that
processed it counts (a changed file is a new version), and duplicate SOP instances are resolved
across all batches with the same rule as the one-shot ingest (the first copy by path is kept,
the others are quarantined naming it). That state is committed as the tables' new Delta version
(`delta_log.commit_folder`), so every Delta reader sees it as it is; `current_tables` reads it
back from the log with Spark alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pyarrow as pa
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import IntegerType, StringType, StructField, StructType

from medspark import layout
from medspark.errors import UsageError
from medspark.schemas import FEATURES, METADATA, QUARANTINE, SEEN, TableSpec
from medspark.spark.output.delta_log import active_files, delta_uri
from medspark.spark.output.delta_log import committed_version as delta_committed
from medspark.spark.output.duplicates import split_duplicates
from medspark.spark.output.filesystem import delete_path, list_names, path_exists, rename_path
from medspark.spark.output.tables import read_table


class IncompatibleOutputError(UsageError):
    """OUT holds tables written by the one-shot jobs, not by `medspark etl`."""


BATCH_COLUMN = layout.BATCH_PARTITION
SOURCE_SHA = "source_sha256"
TABLES = (METADATA, QUARANTINE, FEATURES)
STORED_FEATURES = replace(
    FEATURES, schema=FEATURES.schema.append(pa.field(SOURCE_SHA, pa.string()))
)
STORED_TABLES = (METADATA, QUARANTINE, STORED_FEATURES)  # as a batch stores them


def _batches_marked(spark: SparkSession, out_uri: str, marker: Callable[[str, int], str]):
    return [
        int(name)
        for name in list_names(spark, layout.batches(out_uri))
        if name.isdigit() and path_exists(spark, marker(out_uri, int(name)))
    ]


def planned_batches(spark: SparkSession, out_uri: str) -> list[int]:
    """Ids of the batches whose plan was written, ascending."""
    return _batches_marked(spark, out_uri, layout.batch_plan)


def newest_committed(out_uri: str) -> int:
    """The newest batch every table has committed (0 for none)."""
    return min(delta_committed(layout.table(out_uri, spec)) for spec in TABLES)


def committed_batches(spark: SparkSession, out_uri: str) -> list[int]:
    """Ids of the planned batches every table has committed, ascending."""
    newest = newest_committed(out_uri)
    return [batch for batch in planned_batches(spark, out_uri) if batch <= newest]


def legacy_committed_batches(spark: SparkSession, out_uri: str) -> list[int]:
    """Batches an output of the layout before Delta marked committed (`_COMMITTED`)."""
    return _batches_marked(spark, out_uri, layout.batch_commit)


def stored_extra(spec: TableSpec) -> list[StructField]:
    """The columns the incremental run stores beside a table's own (features keep the
    sha256 of the file version they came from)."""
    return [StructField(SOURCE_SHA, StringType())] if spec is FEATURES else []


def stored_schema(spec: TableSpec) -> StructType:
    """A table's schema as the incremental run stores it, with its batch column."""
    schema = from_arrow_schema(spec.schema)
    for field in stored_extra(spec):
        schema = schema.add(field)
    return schema.add(BATCH_COLUMN, IntegerType())


def seen_files(spark: SparkSession, out_uri: str, committed: list[int]) -> DataFrame:
    """Every (path, length, modificationTime) a committed batch processed, with its batch."""
    if not committed or not path_exists(spark, layout.table(out_uri, SEEN)):
        return spark.createDataFrame([], from_arrow_schema(SEEN.schema))
    return read_table(spark, out_uri, SEEN).filter(F.col("batch").isin(committed))


def _stored(spark: SparkSession, out_uri: str, spec: TableSpec, committed: list[int]) -> DataFrame:
    folder = layout.etl_stored(out_uri, spec)
    if not committed or not path_exists(spark, folder):
        return spark.createDataFrame([], stored_schema(spec))
    extra = [*stored_extra(spec), StructField(BATCH_COLUMN, IntegerType())]
    rows = read_table(spark, out_uri, spec, at=folder, extra=extra)
    return rows.filter(F.col(BATCH_COLUMN).isin(committed))


def _newest_version(rows: DataFrame, newest: DataFrame) -> DataFrame:
    """Rows from the newest batch that processed their input file (archives by the archive)."""
    return (
        rows.withColumn("_file", F.split("path", "!/").getItem(0))
        .join(newest, ["_file", BATCH_COLUMN], "left_semi")
        .drop("_file")
    )


def newest_stored(
    spark: SparkSession, out_uri: str, committed: list[int] | None = None
) -> dict[str, DataFrame]:
    """The stored rows (with `etl_batch`, features with their file version) of the newest
    version of every input file, over the `committed` batches (default: every committed one):
    what compaction keeps."""
    if committed is None:
        committed = committed_batches(spark, out_uri)
    newest = (
        seen_files(spark, out_uri, committed)
        .groupBy(F.col("path").alias("_file"))
        .agg(F.max("batch").alias(BATCH_COLUMN))
    )
    instances = _newest_version(_stored(spark, out_uri, METADATA, committed), newest)
    features = _stored(spark, out_uri, FEATURES, committed).join(
        instances.select("sop_instance_uid", F.col("sha256").alias(SOURCE_SHA), BATCH_COLUMN),
        ["sop_instance_uid", SOURCE_SHA, BATCH_COLUMN],
        "left_semi",
    )
    return {
        METADATA.name: instances,
        QUARANTINE.name: _newest_version(_stored(spark, out_uri, QUARANTINE, committed), newest),
        FEATURES.name: features,
        SEEN.name: newest.withColumnRenamed("_file", "path"),
    }


def stored_current(spark: SparkSession, out_uri: str, batches: list[int]) -> dict[str, DataFrame]:
    """metadata, quarantine and features as of `batches`, computed from the stored rows."""
    stored = newest_stored(spark, out_uri, batches)
    kept, duplicates = split_duplicates(stored[METADATA.name])
    quarantine = stored[QUARANTINE.name]
    decode = quarantine.filter(F.col("stage") == "decode").join(
        kept.select("path", BATCH_COLUMN), ["path", BATCH_COLUMN], "left_semi"
    )
    quarantine_rows = (
        quarantine.filter(F.col("stage") != "decode")
        .unionByName(decode)
        .drop(BATCH_COLUMN)
        .unionByName(duplicates)
    )
    features = (
        stored[FEATURES.name]
        .join(
            kept.select("sop_instance_uid", F.col("sha256").alias(SOURCE_SHA), BATCH_COLUMN),
            ["sop_instance_uid", SOURCE_SHA, BATCH_COLUMN],
            "left_semi",
        )
        .dropDuplicates(["sop_instance_uid", "frame"])
    )
    return {
        METADATA.name: kept.select(*METADATA.columns),
        QUARANTINE.name: quarantine_rows.select(*QUARANTINE.columns),
        FEATURES.name: features.select(*FEATURES.columns),
    }


def _version_folder(table_uri: str, file_uri: str) -> str:
    root = delta_uri(table_uri).rstrip("/") + "/"
    path = file_uri.removeprefix("file://")
    relative = path[len(root) :] if path.startswith(root) else path
    return table_uri.rstrip("/") + "/" + relative.split("/", 1)[0]


def read_current(spark: SparkSession, out_uri: str, spec: TableSpec) -> DataFrame:
    """One table as its Delta log holds it now, read with Spark alone (no Delta jars)."""
    table_uri = layout.table(out_uri, spec)
    folders = sorted({_version_folder(table_uri, f) for f in active_files(table_uri)})
    if not folders:
        return spark.createDataFrame([], from_arrow_schema(spec.schema))
    frames = [read_table(spark, out_uri, spec, at=folder) for folder in folders]
    found = frames[0]
    for frame in frames[1:]:
        found = found.unionByName(frame)
    return found.select(*spec.columns)


def current_tables(spark: SparkSession, out_uri: str) -> dict[str, DataFrame]:
    """metadata, quarantine and features as the tables' Delta logs hold them."""
    return {spec.name: read_current(spark, out_uri, spec) for spec in TABLES}


def finish_compaction(spark: SparkSession, out_uri: str) -> None:
    """Complete a compaction that was ready to swap; discard one that was not."""
    staging = layout.compaction(out_uri)
    if not path_exists(spark, staging):
        return
    if not path_exists(spark, layout.compaction_ready(out_uri)):
        delete_path(spark, staging)
        return
    targets = {spec.name: layout.etl_stored(out_uri, spec) for spec in TABLES}
    targets[SEEN.name] = layout.table(out_uri, SEEN)
    for name in list_names(spark, staging):
        if name in targets:
            delete_path(spark, targets[name])
            rename_path(spark, layout.compaction(out_uri, name), targets[name])
    delete_path(spark, staging)
