"""A pass whose tasks write their own table files (the pipeline's metadata and features, the
features job's features).

Each task runs a record producer over its rows, writes the records of each table it writes as
Parquet files into a staging folder with pyarrow, and hands Spark only a ledger: one small row
per record (PASS_LEDGER) naming the file and row that hold it. The driver resolves duplicates
and counts on the ledger, writes the quarantine rows from it, and makes the staged files the
tables. The heavy rows (headers, thumbnails) never cross into the JVM.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyspark import StorageLevel, TaskContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from medspark import layout
from medspark.config import EncryptionSettings
from medspark.errors import ConfigurationError
from medspark.schemas import FEATURES, METADATA, PASS_LEDGER, TableSpec
from medspark.spark import catalog
from medspark.spark.filesystem import delete_path
from medspark.spark.tables import commit_parts, read_part, write_part

WRITTEN = (METADATA, FEATURES)  # the pipeline's; a spec's name is the outcome of its rows
PART_BYTES = 128 * 2**20  # a task starts a new file past this much held
REWRITERS = 4  # files the driver rewrites at once when later copies leave them
_TASK_COLUMNS = ("accounts_file", "first_frame", "part", "part_row")  # the ledger's own, in order


def staged_table(staged: str, spec: TableSpec) -> str:
    """The folder of a staging area holding one table's part files."""
    return layout.table(staged, spec)


class _TaskParts:
    """The rows of one task, held per table and written as numbered part files."""

    def __init__(self, staged: str, task: int, written: tuple[TableSpec, ...]) -> None:
        self.staged = staged
        self.task = task
        self.written = written
        self.held: dict[str, list[pa.Table]] = {spec.name: [] for spec in written}
        self.sizes = dict.fromkeys(self.held, 0)
        self.rows = dict.fromkeys(self.held, 0)
        self.numbers = dict.fromkeys(self.held, 0)
        self.accounted: set[str] = set()  # input files with a metadata or quarantine record
        self.decoded: set[tuple[str | None, str]] = set()  # (path, SOP instance) with a feature row

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


def _firsts(records: pa.Table, parts: _TaskParts) -> tuple[pa.Array, pa.Array]:
    """Which records are the first metadata or quarantine record of their input file (an archive
    counts once), and which the first feature row of their instance, in this task: a file is
    listed in one task only, so the flags add up over tasks to distinct counts."""
    accounts, first = [], []
    for path, uid, outcome in zip(
        records.column("path").to_pylist(),
        records.column("sop_instance_uid").to_pylist(),
        records.column("outcome").to_pylist(),
        strict=True,
    ):
        root = path.split("!/", 1)[0] if outcome in ("metadata", "quarantine") else None
        new_root = root is not None and root not in parts.accounted
        new_instance = outcome == "features" and (path, uid) not in parts.decoded
        if root is not None:
            parts.accounted.add(root)
        if new_instance:
            parts.decoded.add((path, uid))
        accounts.append(new_root)
        first.append(new_instance)
    return pa.array(accounts, pa.bool_()), pa.array(first, pa.bool_())


def _ledger(records: pa.Table, parts: _TaskParts) -> pa.RecordBatch:
    """The ledger rows of records about to be added to `parts`: each written row's file and
    its place in it; columns the records lack are null."""
    outcome = records.column("outcome").to_numpy(zero_copy_only=False)
    part = np.full(len(records), None, dtype=object)
    place = np.full(len(records), -1, dtype=np.int64)
    for spec in parts.written:
        chosen = outcome == spec.name
        part[chosen] = parts.name(spec)
        place[chosen] = parts.rows[spec.name] + np.arange(int(chosen.sum()))
    columns = [
        records.column(field.name).combine_chunks()
        if field.name in records.column_names
        else pa.nulls(len(records), field.type)
        for field in PASS_LEDGER
        if field.name not in _TASK_COLUMNS
    ]
    return pa.RecordBatch.from_arrays(
        [
            *columns,
            *_firsts(records, parts),
            pa.array(part, pa.string()),
            pa.array(place, mask=place < 0),
        ],
        schema=PASS_LEDGER,
    )


Producer = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def _writing_partition(produce: Producer, staged: str, written: tuple[TableSpec, ...]):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        context = TaskContext.get()
        parts = _TaskParts(staged, context.partitionId() if context else 0, written)
        for batch in produce(batches):
            records = pa.Table.from_batches([batch])
            ledger = _ledger(records, parts)
            for spec in written:
                rows = records.filter(pc.equal(records.column("outcome"), spec.name))
                if len(rows):
                    parts.add(spec, rows)
            yield ledger
        for spec in written:
            parts.flush(spec)

    return run


@dataclass(frozen=True)
class WrittenPass:
    """A pass whose tasks wrote the files of the `written` tables into `staged`; `ledger` (one
    row per record, persisted) is every record's trace."""

    staged: str
    ledger: DataFrame
    written: tuple[TableSpec, ...] = WRITTEN

    def parts(self) -> dict[str, set[str]]:
        """The files each table's tasks wrote; computes the pass when it has not run."""
        written = self.ledger.filter(F.col("part").isNotNull()).select("outcome", "part").distinct()
        found: dict[str, set[str]] = {spec.name: set() for spec in self.written}
        for row in written.collect():
            found[row["outcome"]].add(row["part"])
        return found

    def drop_rows_of(self, later: DataFrame) -> None:
        """Remove from the written files every row of the (path, SOP instance) pairs in `later`:
        the later copies of a duplicated instance and their frames. The driver collects the
        places to drop (the later copies' rows only, by file) and rewrites a few files at once."""
        stale = self.ledger.filter(F.col("part").isNotNull()).join(
            later.select("path", "sop_instance_uid"), ["path", "sop_instance_uid"], "left_semi"
        )
        by_file = stale.groupBy("outcome", "part").agg(F.collect_list("part_row").alias("rows"))
        specs = {spec.name: spec for spec in self.written}

        def rewrite(outcome: str, part: str, places: list[int]) -> None:
            folder = staged_table(self.staged, specs[outcome])
            rows = read_part(folder, part)
            keep = np.ones(len(rows), dtype=bool)
            keep[places] = False
            write_part(folder, specs[outcome], part, rows.filter(pa.array(keep)))

        with ThreadPoolExecutor(max_workers=REWRITERS) as pool:
            done = [
                pool.submit(rewrite, file["outcome"], file["part"], list(file["rows"]))
                for file in by_file.collect()
            ]
        for future in done:
            future.result()

    def commit(self, spark: SparkSession, out_uri: str, parts: dict[str, set[str]]) -> None:
        """Make the written files the tables under OUT, and drop the staging folder."""
        for spec in self.written:
            commit_parts(
                spark, staged_table(self.staged, spec), out_uri, spec, parts.get(spec.name, set())
            )
        delete_path(spark, self.staged)


def written_pass(
    rows: DataFrame,
    count: int,
    produce: Producer,
    files_per_task: int,
    staged: str,
    encryption: EncryptionSettings | None,
    written: tuple[TableSpec, ...] = WRITTEN,
) -> WrittenPass:
    """`produce` (a `mapInArrow` function yielding records with an `outcome`) over `rows`
    (each with a `path`), each task writing the rows of the `written` tables (those whose
    outcome is the table's name) under `staged`; nothing runs until the ledger is first used.
    Refused when the profile encrypts: pyarrow's files would not be."""
    if encryption is not None and encryption.enabled:
        raise ConfigurationError("encrypted tables are written by Spark: use write_table")
    ledger = (
        catalog.balanced(rows, count, files_per_task)
        .mapInArrow(_writing_partition(produce, staged, written), from_arrow_schema(PASS_LEDGER))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    return WrittenPass(staged, ledger, written)
