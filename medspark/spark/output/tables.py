"""The one way tables are written and read: schema checked, partitioned, identifier columns
encrypted when the profile says so, and the table's version recorded beside its files.

Every job writes through `write_table` (Spark), `write_part` and `commit_parts` (files a task
writes itself, made the table at the end) or `append_rows` (a few rows from the driver), and
reads through `read_table`; the pyarrow writers encrypt as Spark's does (`parquet_keys`).
`tests/unit/test_write_sites.py` fails on any other write site.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema
from pyspark.sql.types import DoubleType, StructField, StructType

from medspark import layout
from medspark.config import EncryptionSettings
from medspark.errors import DataError
from medspark.parquet_keys import column_keys, file_decryption, file_encryption
from medspark.schemas import TableSpec
from medspark.spark.output.filesystem import delete_path, list_names, path_exists, rename_path
from medspark.storage import open_uri, write_bytes, write_text

_SPARK_ROW_METADATA = "org.apache.spark.sql.parquet.row.metadata"
PART_CODEC = "zstd"  # as conf/spark-defaults.conf has Spark's writer compress
_PLAIN_VALUE = re.compile(r"[A-Za-z0-9_.-]+")  # partition values a task writes need no escaping


class TableVersionError(DataError):
    """A stored table (or one etl batch of it) was written with another version of its schema."""


class MissingTableError(DataError):
    """A job needs a table that OUT does not hold yet."""


class SchemaMismatchError(RuntimeError):
    """A job tried to write columns its table's spec does not declare: a bug, not bad data."""


def encryption_options(
    encryption: EncryptionSettings | None, spec: TableSpec, columns: Sequence[str]
) -> dict[str, str]:
    """Spark's Parquet write options that encrypt the table's identifier columns (and any
    further columns the profile names) with their keys, and the footer; none when encryption is
    off."""
    keys = column_keys(encryption, spec.identifiers, columns, spec.partitions)
    if encryption is None or not keys:
        return {}
    return {
        "parquet.encryption.column.keys": ";".join(
            f"{key}:{','.join(names)}" for key, names in keys.items()
        ),
        "parquet.encryption.footer.key": encryption.footer_key,
    }


def spark_schema(schema: pa.Schema) -> StructType:
    """The Spark schema of an Arrow schema, each field's metadata (e.g. IBSI ids) kept."""

    def metadata(name: str) -> dict[str, str]:
        return {k.decode(): v.decode() for k, v in (schema.field(name).metadata or {}).items()}

    return StructType(
        [
            StructField(field.name, field.dataType, field.nullable, metadata(field.name))
            for field in from_arrow_schema(schema).fields
        ]
    )


def arrow_sidecar(schema: pa.Schema) -> bytes:
    """A Parquet `_common_metadata` file: the Arrow schema with its field metadata (Spark's
    writer keeps it only in its own schema), and Spark's schema, which Spark reads from it."""
    sink = pa.BufferOutputStream()
    spark_json = spark_schema(schema).json()
    pq.write_metadata(schema.with_metadata({_SPARK_ROW_METADATA: spark_json}), sink)
    return sink.getvalue().to_pybytes()


def _declared(df: DataFrame, spec: TableSpec, extra: Sequence[StructField]) -> DataFrame:
    """The frame's columns in the spec's order, each checked against its declared type."""
    expected = {f.name: f.dataType for f in [*from_arrow_schema(spec.schema).fields, *extra]}
    given = {f.name: f.dataType for f in df.schema.fields}
    dynamic = [
        name for name in df.columns if spec.open_prefix and name.startswith(spec.open_prefix)
    ]
    problems = [f"{name} missing" for name in expected if name not in given]
    problems += [
        f"{name} is {given[name].simpleString()}, declared {kind.simpleString()}"
        for name, kind in expected.items()
        if name in given and given[name].simpleString() != kind.simpleString()
    ]
    problems += [f"{name} is not double" for name in dynamic if given[name] != DoubleType()]
    if problems:
        raise SchemaMismatchError(f"{spec.name}: {'; '.join(problems)}")
    return df.select(*expected, *dynamic)


def write_table(
    df: DataFrame,
    out_uri: str,
    spec: TableSpec,
    encryption: EncryptionSettings | None,
    *,
    to: str | None = None,
    replace_partition: str | None = None,
    files: int | None = None,
    extra: Sequence[StructField] = (),
    records_per_file: int | None = None,
) -> str:
    """Write `df` as the table `spec` under OUT (or at `to`, a staging place), replacing it.

    With `replace_partition` (a value of the spec's one partition column) only that partition
    is replaced and the others are kept. `files` sets the number of output files per partition
    value, `records_per_file` caps the rows of one file; `extra` declares columns a stored
    variant adds (etl's `source_sha256`). Returns the folder written.
    """
    target = to or layout.table(out_uri, spec)
    frame = _declared(df, spec, extra)
    if spec.arrow_sidecar:
        frame = frame.sparkSession.createDataFrame(frame.rdd, spark_schema(spec.schema))
    if files is not None:
        frame = frame.repartition(files) if files > 1 else frame.coalesce(1)
    writer = frame.write.options(**encryption_options(encryption, spec, frame.columns))
    if records_per_file is not None:
        writer = writer.option("maxRecordsPerFile", records_per_file)
    if spec.partitions:
        writer = writer.partitionBy(*spec.partitions)
    if replace_partition is None:
        writer.mode("overwrite").parquet(target)
    else:
        if len(spec.partitions) != 1:
            raise SchemaMismatchError(f"{spec.name} has no single partition column to replace")
        delete_path(
            frame.sparkSession, layout.partition(target, spec.partitions[0], replace_partition)
        )
        writer.mode("append").parquet(target)
    if spec.arrow_sidecar:
        write_bytes(f"{target}/_common_metadata", arrow_sidecar(spec.schema))
    _mark(target, spec)
    return target


def file_columns(spec: TableSpec) -> pa.Schema:
    """The columns one Parquet file of the table holds: a partitioned table keeps its partition
    values in its folder names (`stage=decode/`), as Spark writes and reads them."""
    return pa.schema([field for field in spec.schema if field.name not in spec.partitions])


def _check_part_name(spec: TableSpec, name: str) -> None:
    folders = name.split("/")[:-1]
    named = [folder.split("=", 1)[0] for folder in folders]
    values = [folder.split("=", 1)[-1] for folder in folders]
    if named != list(spec.partitions) or not all(map(_PLAIN_VALUE.fullmatch, values)):
        raise SchemaMismatchError(
            f"{spec.name} part {name!r} is not under its partition folders {spec.partitions}"
        )


def _parquet_bytes(rows: pa.Table, spec: TableSpec, encryption: EncryptionSettings | None) -> bytes:
    """`rows` as one Parquet file, its identifier columns encrypted as Spark's writer would."""
    keys = column_keys(encryption, spec.identifiers, rows.column_names, spec.partitions)
    sink = pa.BufferOutputStream()
    properties = file_encryption(encryption, keys) if encryption is not None and keys else None
    pq.write_table(rows, sink, compression=PART_CODEC, encryption_properties=properties)
    return sink.getvalue().to_pybytes()


def write_part(
    folder: str,
    spec: TableSpec,
    name: str,
    rows: pa.Table,
    encryption: EncryptionSettings | None = None,
) -> None:
    """One Parquet file of the table `spec` in `folder`, written with pyarrow wherever this runs
    (a task writing its share of a table), whole or not at all; `rows` may hold more columns.
    A partitioned table's `name` starts with its partition folders (`stage=decode/part-….parquet`,
    `layout.partition_name`) and the file holds the other columns. With encryption on, the
    file's identifier columns and footer are encrypted (`parquet_keys`)."""
    _check_part_name(spec, name)
    columns = file_columns(spec)
    data = _parquet_bytes(rows.select(columns.names).cast(columns), spec, encryption)
    write_bytes(layout.part_file(folder, name), data)


def read_part(folder: str, name: str, encryption: EncryptionSettings | None = None) -> pa.Table:
    """A file `write_part` wrote (its columns, without partition values)."""
    encrypted = encryption is not None and encryption.enabled
    with open_uri(layout.part_file(folder, name)) as stream:
        return pq.read_table(stream, decryption_properties=file_decryption() if encrypted else None)


def _part_names(spark: SparkSession, folder: str, depth: int) -> list[str]:
    """The files of a staged table but its own (`_`: version, sidecar), named relative to it,
    `depth` partition folders down."""
    if depth == 0:
        return [name for name in list_names(spark, folder) if not name.startswith("_")]
    return [
        f"{partition}/{name}"
        for partition in list_names(spark, folder)
        if "=" in partition
        for name in _part_names(spark, layout.part_file(folder, partition), depth - 1)
    ]


def commit_parts(
    spark: SparkSession,
    staged: str,
    out_uri: str,
    spec: TableSpec,
    parts: Collection[str],
    encryption: EncryptionSettings | None = None,
) -> str:
    """Make the files `parts` of a staged folder the table `spec` under OUT, replacing it
    (`seal_parts` first). Returns the table's folder."""
    seal_parts(spark, staged, spec, parts, encryption)
    target = layout.table(out_uri, spec)
    delete_path(spark, target)
    rename_path(spark, staged, target)
    return target


def seal_parts(
    spark: SparkSession,
    staged: str,
    spec: TableSpec,
    parts: Collection[str],
    encryption: EncryptionSettings | None = None,
) -> None:
    """Leave in a staged folder of the table `spec` the files `parts` alone (a failed task
    attempt's are dropped), one empty file when an unpartitioned table has none, the Arrow
    sidecar when the spec keeps one, and the table's version: ready to be renamed into place."""
    for name in _part_names(spark, staged, len(spec.partitions)):
        if name not in parts:
            delete_path(spark, layout.part_file(staged, name))
    if not parts and not spec.partitions:
        write_part(staged, spec, "part-empty.parquet", spec.schema.empty_table(), encryption)
    if spec.arrow_sidecar:
        write_bytes(f"{staged}/_common_metadata", arrow_sidecar(spec.schema))
    _mark(staged, spec)


def commit_partition(
    spark: SparkSession,
    staged: str,
    out_uri: str,
    spec: TableSpec,
    value: str,
    parts: Collection[str],
) -> str:
    """Make the files `parts` of a staged folder's partition `value` (of the spec's one
    partition column) that partition of the table under OUT, replacing it and keeping the
    others; no part leaves the partition empty. Returns the partition's folder."""
    if len(spec.partitions) != 1:
        raise SchemaMismatchError(f"{spec.name} has no single partition column to replace")
    folder = layout.partition_name({spec.partitions[0]: value})
    strays = [name for name in parts if not name.startswith(f"{folder}/")]
    if strays:
        raise SchemaMismatchError(f"{spec.name} parts outside {folder}: {sorted(strays)[:3]}")
    staged_partition = layout.part_file(staged, folder)
    for name in list_names(spark, staged_partition):
        if f"{folder}/{name}" not in parts:
            delete_path(spark, layout.part_file(staged_partition, name))
    table = layout.table(out_uri, spec)
    target = layout.part_file(table, folder)
    delete_path(spark, target)
    if parts:
        rename_path(spark, staged_partition, target)
    _mark(table, spec)
    return target


def append_rows(
    out_uri: str,
    spec: TableSpec,
    rows: Sequence[Mapping[str, Any]],
    file_name: str,
    encryption: EncryptionSettings | None,
) -> str:
    """Add a few rows as one new Parquet file of the table, from the driver, without Spark
    (the audit table: one file per run, never a rewrite), encrypted as `write_part` does."""
    folder = layout.table(out_uri, spec)
    table = pa.Table.from_pylist(list(rows), schema=spec.schema)
    write_bytes(f"{folder}/{file_name}", _parquet_bytes(table, spec, encryption))
    _mark(folder, spec)
    return folder


def _marker(spec: TableSpec) -> dict[str, Any]:
    return {"table": spec.name, "version": spec.version, "columns": spec.columns}


def _mark(folder: str, spec: TableSpec) -> None:
    write_text(layout.table_marker(folder), json.dumps(_marker(spec)) + "\n")


def stored_version(folder: str) -> int | None:
    """The table version recorded in a folder, None when it records none."""
    try:
        with open_uri(layout.table_marker(folder)) as stream:
            return int(json.loads(stream.read())["version"])
    except FileNotFoundError:
        return None


def _or_first(version: int | None) -> int:
    return 1 if version is None else version


def check_version(spark: SparkSession, folder: str, spec: TableSpec) -> None:
    """Refuse a stored table whose version is not the one this medspark writes, rather than
    read new columns as nulls. An incremental table records its version in every batch
    partition (each written on its own); a folder that records none predates versions: 1."""
    recorded = stored_version(folder)
    if recorded is not None:
        found = {folder: recorded}
    else:
        batches = [
            f"{folder}/{name}"
            for name in list_names(spark, folder)
            if name.startswith(f"{layout.BATCH_PARTITION}=")
        ]
        found = {batch: _or_first(stored_version(batch)) for batch in batches} or {folder: 1}
    for where, version in found.items():
        if version != spec.version:
            raise TableVersionError(
                f"{where} holds {spec.name} table version {version}; this medspark reads "
                f"version {spec.version}",
                hint="write a new OUT from the inputs (medspark etl or pipeline into an empty "
                "folder); docs/configuration.md: Tables are versioned",
            )


def read_files(spark: SparkSession, folder: str) -> DataFrame:
    """The Parquet files under a folder as Spark finds them (their own schema, partition
    folders as columns), for looking at what was written rather than reading a table."""
    return spark.read.parquet(folder)


def read_table(
    spark: SparkSession,
    out_uri: str,
    spec: TableSpec,
    at: str | None = None,
    extra: Sequence[StructField] = (),
) -> DataFrame:
    """A table under OUT (or at `at`) with its declared schema (plus `extra` columns), so an
    empty table reads as empty; its version is checked first. An incremental output's own
    tables are read as their Delta logs hold them (`current.read_current`)."""
    from medspark.spark.output.current import TABLES, read_current

    if at is None and spec in TABLES and path_exists(spark, layout.etl_state(out_uri)):
        return read_current(spark, out_uri, spec)
    folder = at or layout.table(out_uri, spec)
    schema = from_arrow_schema(spec.schema)
    for field in extra:
        schema = schema.add(field)
    if not path_exists(spark, folder):
        raise MissingTableError(
            f"{folder} does not exist", hint=f"run the job that writes the {spec.name} table first"
        )
    check_version(spark, folder, spec)
    return spark.read.schema(schema).parquet(folder)
