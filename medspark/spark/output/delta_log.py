"""Delta Lake logs over the Parquet files Spark's tasks write: the driver commits them with
deltalake (delta-rs, no JVM jar), so DuckDB, Polars, pandas, Trino and Spark with delta-spark
read a table's current state from its `_delta_log`.

A commit carries per-file statistics of the row count only, and each table's
`delta.dataSkippingStatsColumns` leaves identifier columns out, so no identifier value (clear or
pseudonymous) reaches the log.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import unquote

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from medspark.schemas import IDENTIFIER_COLUMNS, TableSpec
from medspark.spark.output.filesystem import data_files
from medspark.spark.output.tables import read_files
from medspark.storage import local_path

APP_ID = "medspark-etl"
"""The application id of the incremental run's transactions; its version is the batch."""
HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"


def delta_uri(table_uri: str) -> str:
    """The table's location as deltalake takes it (a plain path on a local disk)."""
    return local_path(table_uri) or table_uri


def is_delta_table(table_uri: str) -> bool:
    from deltalake import DeltaTable

    return DeltaTable.is_deltatable(delta_uri(table_uri))


def committed_version(table_uri: str) -> int:
    """The newest batch the table committed (its application transaction), 0 for none."""
    from deltalake import DeltaTable

    if not is_delta_table(table_uri):
        return 0
    return DeltaTable(delta_uri(table_uri)).transaction_version(APP_ID) or 0


def active_files(table_uri: str) -> list[str]:
    """The URIs of the files the table's newest version holds."""
    from deltalake import DeltaTable

    if not is_delta_table(table_uri):
        return []
    return list(DeltaTable(delta_uri(table_uri)).file_uris())


def stats_columns(spec: TableSpec) -> list[str]:
    """The columns a writer may keep statistics of: none that identifies, none binary."""
    identifying = {*IDENTIFIER_COLUMNS, *spec.identifying}
    return [
        field.name
        for field in spec.schema
        if field.name not in identifying
        and not pa.types.is_binary(field.type)
        and not pa.types.is_large_binary(field.type)
        and not pa.types.is_nested(field.type)
    ]


def _row_counts(spark: SparkSession, folder: str) -> dict[str, int]:
    """Rows per file name, read by Spark (which decrypts encrypted tables with the keys)."""
    counted = read_files(spark, folder).groupBy(F.input_file_name().alias("file")).count().collect()
    return {unquote(str(row["file"])).rsplit("/", 1)[-1]: int(row["count"]) for row in counted}


def _partition_values(relative: str, partitions: Sequence[str]) -> dict[str, str | None]:
    values: dict[str, str | None] = {}
    for folder in relative.split("/")[:-1]:
        column, _, value = folder.partition("=")
        if column in partitions:
            value = unquote(value)
            values[column] = None if value == HIVE_NULL else value
    return values


def commit_folder(
    spark: SparkSession,
    table_uri: str,
    folder: str,
    spec: TableSpec,
    batch: int | None = None,
    schema: pa.Schema | None = None,
) -> None:
    """Make the files under `folder` (the table's own folder or one inside it) the table's
    whole content, in one transaction: the files it held before are removed. With `batch`, the
    transaction records (APP_ID, batch), so a batch replayed after a crash is recognised as
    committed. `schema` defaults to the spec's."""
    from deltalake import CommitProperties, DeltaTable, Schema, Transaction
    from deltalake.transaction import AddAction, RemoveAction, create_table_with_add_actions

    prefix = folder[len(table_uri) :].strip("/") if folder != table_uri else ""
    files = data_files(spark, folder)
    counts = _row_counts(spark, folder) if files else {}
    adds: list[AddAction | RemoveAction] = [
        AddAction(
            path=f"{prefix}/{relative}" if prefix else relative,
            size=size,
            partition_values=_partition_values(relative, spec.partitions),
            modification_time=modified,
            data_change=True,
            stats=json.dumps({"numRecords": counts.get(relative.rsplit("/", 1)[-1], 0)}),
        )
        for relative, size, modified in files
    ]
    properties = (
        CommitProperties(app_transactions=[Transaction(APP_ID, batch)])
        if batch is not None
        else None
    )
    partition_by = list(spec.partitions) or None
    columns = schema if schema is not None else spec.schema
    uri = delta_uri(table_uri)
    if not DeltaTable.is_deltatable(uri):
        create_table_with_add_actions(
            uri,
            Schema.from_arrow(columns),
            [action for action in adds if isinstance(action, AddAction)],
            mode="error",
            partition_by=partition_by,
            configuration={"delta.dataSkippingStatsColumns": ",".join(stats_columns(spec))},
            commit_properties=properties,
        )
        return
    DeltaTable(uri).create_write_transaction(
        adds,
        mode="overwrite",
        schema=columns,
        partition_by=partition_by,
        commit_properties=properties,
    )


def vacuum(table_uri: str, retention_hours: int) -> list[str]:
    """Delete the files no version younger than `retention_hours` holds; returns them."""
    from deltalake import DeltaTable

    if not is_delta_table(table_uri):
        return []
    return list(
        DeltaTable(delta_uri(table_uri)).vacuum(
            retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False
        )
    )


def _written_schema(spark: SparkSession, folder: str, spec: TableSpec) -> pa.Schema:
    """The columns the folder's files hold (with partition columns), as Spark reads them: a
    table's declared columns plus any its data names (predictions' `probability_<class>`)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    written = to_arrow_schema(read_files(spark, folder).schema, timezone="UTC")
    declared = set(spec_names := spec.schema.names)
    return pa.schema(
        [
            spec.schema.field(name) if name in declared else written.field(name)
            for name in [*spec_names, *(n for n in written.names if n not in declared)]
            if name in written.names
        ]
    )


def sync_folder(spark: SparkSession, table_uri: str, spec: TableSpec) -> bool:
    """Make a one-shot table's Delta log list exactly the files its folder holds (one
    transaction, only when they differ); returns whether it committed."""
    on_disk = {relative for relative, _, _ in data_files(spark, table_uri)}
    root = delta_uri(table_uri).rstrip("/") + "/"
    listed = {uri.removeprefix("file://").removeprefix(root) for uri in active_files(table_uri)}
    if on_disk == listed and is_delta_table(table_uri):
        return False
    schema = _written_schema(spark, table_uri, spec) if on_disk else spec.schema
    commit_folder(spark, table_uri, table_uri, spec, schema=schema)
    return True


def sync_tables(spark: SparkSession, out_uri: str, managed: Sequence[str] = ()) -> list[str]:
    """Bring the Delta log of every table folder under OUT up to date with its files (the
    tables named in `managed` commit their own logs); returns the tables committed."""
    from medspark import layout, schemas
    from medspark.spark.output.filesystem import path_exists

    committed = []
    specs = {s.name: s for s in vars(schemas).values() if isinstance(s, TableSpec)}
    for spec in specs.values():
        if spec.place.startswith("_") or spec.name in managed:
            continue
        table_uri = layout.table(out_uri, spec)
        if path_exists(spark, table_uri) and sync_folder(spark, table_uri, spec):
            committed.append(spec.name)
    return committed
