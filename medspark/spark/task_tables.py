"""The single pass with each task writing its own share of the metadata and features tables.

A task runs the single-pass core over its files, writes the metadata and feature rows it made
as Parquet files into a staging folder with pyarrow, and hands Spark only a ledger: one small
row per record (PASS_LEDGER) naming the file that holds it. The driver resolves duplicates and
counts on the ledger, writes the quarantine table from it, and makes the staged files the
tables. The heavy rows (headers, thumbnails) never cross into the JVM.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import Accumulator, StorageLevel, TaskContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from medspark import layout
from medspark.config import EncryptionSettings
from medspark.errors import ConfigurationError
from medspark.imaging.single_pass import SinglePassOptions
from medspark.schemas import FEATURES, METADATA, PASS_LEDGER, TableSpec
from medspark.spark import catalog
from medspark.spark.single_pass import single_pass_partition
from medspark.spark.tables import commit_parts, read_part, write_part

WRITTEN = (METADATA, FEATURES)  # each spec's name is the outcome of the rows it holds
PART_BYTES = 128 * 2**20  # a task starts a new file past this much held


def staged_table(staged: str, spec: TableSpec) -> str:
    """The folder of a staging area holding one table's part files."""
    return layout.table(staged, spec)


class _TaskParts:
    """The rows of one task, held per table and written as numbered part files."""

    def __init__(self, staged: str, task: int) -> None:
        self.staged = staged
        self.task = task
        self.held: dict[str, list[pa.Table]] = {spec.name: [] for spec in WRITTEN}
        self.sizes = dict.fromkeys(self.held, 0)
        self.rows = dict.fromkeys(self.held, 0)
        self.numbers = dict.fromkeys(self.held, 0)

    def name(self, spec: TableSpec) -> str:
        return f"part-{self.task:05d}-{self.numbers[spec.name]}.parquet"

    def add(self, spec: TableSpec, rows: pa.Table) -> None:
        self.held[spec.name].append(rows)
        self.sizes[spec.name] += rows.nbytes
        self.rows[spec.name] += len(rows)
        if self.sizes[spec.name] >= PART_BYTES:
            self.flush(spec)

    def flush(self, spec: TableSpec) -> None:
        if self.held[spec.name]:
            rows = pa.concat_tables(self.held[spec.name])
            write_part(staged_table(self.staged, spec), spec, self.name(spec), rows)
            self.numbers[spec.name] += 1
        self.held[spec.name], self.sizes[spec.name], self.rows[spec.name] = [], 0, 0


def _ledger(records: pa.Table, parts: _TaskParts) -> pa.RecordBatch:
    """The ledger rows of records about to be added to `parts`: each written row's file and
    its place in it."""
    outcome = records.column("outcome").to_numpy(zero_copy_only=False)
    part = np.full(len(records), None, dtype=object)
    place = np.full(len(records), -1, dtype=np.int64)
    for spec in WRITTEN:
        chosen = outcome == spec.name
        part[chosen] = parts.name(spec)
        place[chosen] = parts.rows[spec.name] + np.arange(int(chosen.sum()))
    columns = [records.column(name).combine_chunks() for name in PASS_LEDGER.names[:-2]]
    return pa.RecordBatch.from_arrays(
        [*columns, pa.array(part, pa.string()), pa.array(place, mask=place < 0)],
        schema=PASS_LEDGER,
    )


def _writing_partition(options: SinglePassOptions, staged: str, progress: Accumulator | None):
    produce = single_pass_partition(options, progress)

    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        context = TaskContext.get()
        parts = _TaskParts(staged, context.partitionId() if context else 0)
        for batch in produce(batches):
            records = pa.Table.from_batches([batch])
            ledger = _ledger(records, parts)
            for spec in WRITTEN:
                rows = records.filter(pc.equal(records.column("outcome"), spec.name))
                if len(rows):
                    parts.add(spec, rows)
            yield ledger
        for spec in WRITTEN:
            parts.flush(spec)

    return run


@dataclass(frozen=True)
class WrittenPass:
    """A pass whose tasks wrote the metadata and features files into `staged`; `ledger` (one
    row per record, persisted) is every record's trace."""

    staged: str
    ledger: DataFrame

    def parts(self) -> dict[str, set[str]]:
        """The files each table's tasks wrote; computes the pass when it has not run."""
        written = self.ledger.filter(F.col("part").isNotNull()).select("outcome", "part").distinct()
        found: dict[str, set[str]] = {spec.name: set() for spec in WRITTEN}
        for row in written.collect():
            found[row["outcome"]].add(row["part"])
        return found

    def drop_rows_except(self, kept: DataFrame) -> None:
        """Remove from the written files every row whose (path, SOP instance) is not among the
        `kept` metadata rows: the later copies of a duplicated instance, and their frames."""
        stale = self.ledger.filter(F.col("part").isNotNull()).join(
            kept.select("path", "sop_instance_uid"), ["path", "sop_instance_uid"], "left_anti"
        )
        staged = self.staged
        by_file = stale.groupBy("outcome", "part").agg(F.collect_list("part_row").alias("rows"))

        def rewrite(files) -> None:
            specs = {spec.name: spec for spec in WRITTEN}
            for file in files:
                spec = specs[file["outcome"]]
                folder = staged_table(staged, spec)
                rows = read_part(folder, file["part"])
                keep = np.ones(len(rows), dtype=bool)
                keep[list(file["rows"])] = False
                write_part(folder, spec, file["part"], rows.filter(pa.array(keep)))

        by_file.foreachPartition(rewrite)

    def commit(self, spark: SparkSession, out_uri: str, parts: dict[str, set[str]]) -> None:
        """Make the written files the metadata and features tables under OUT."""
        for spec in WRITTEN:
            commit_parts(spark, staged_table(self.staged, spec), out_uri, spec, parts[spec.name])


def written_pass(
    listed_files: DataFrame,
    file_count: int,
    options: SinglePassOptions,
    files_per_task: int,
    staged: str,
    encryption: EncryptionSettings | None,
    progress: Accumulator | None = None,
) -> WrittenPass:
    """The single pass over the listed files, each task writing its own metadata and features
    files under `staged`; nothing runs until the ledger is first used. Refused when the profile
    encrypts: pyarrow's files would not be."""
    if encryption is not None and encryption.enabled:
        raise ConfigurationError("encrypted tables are written by Spark: use write_table")
    ledger = (
        catalog.balanced(listed_files, file_count, files_per_task)
        .mapInArrow(_writing_partition(options, staged, progress), from_arrow_schema(PASS_LEDGER))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    return WrittenPass(staged, ledger)
