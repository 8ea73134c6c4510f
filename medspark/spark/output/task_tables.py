"""A pass whose tasks write their own table files (the pipeline's metadata, quarantine and
features, the features job's features and decode quarantine rows).

Each task runs a record producer over its rows, writes the records of each table it writes as
Parquet files into a staging folder with pyarrow (a partitioned table's under its partition
folders), and hands Spark only a ledger: one small row per
record (PASS_LEDGER) naming the file and row that hold it. The driver resolves duplicates on
the ledger, takes later copies' rows out of the files, and makes the staged files the tables.
The heavy rows (headers, thumbnails) never cross into the JVM.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from pyspark import StorageLevel, TaskContext
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from medspark import layout
from medspark.config import EncryptionSettings
from medspark.layout import partition_name
from medspark.schemas import FEATURES, METADATA, PASS_LEDGER, QUARANTINE, TableSpec
from medspark.spark import placement
from medspark.spark.output.duplicates import later_copies
from medspark.spark.output.filesystem import delete_path
from medspark.spark.output.pass_counts import PassCounts, ledger_tally, pass_counts
from medspark.spark.output.tables import (
    commit_partition,
    commit_parts,
    read_part,
    seal_parts,
    write_part,
)
from medspark.spark.progress import StageProgress

WRITTEN = (METADATA, QUARANTINE, FEATURES)  # the pipeline's; a spec's name is its rows' outcome
PART_BYTES = 128 * 2**20  # a task starts a new file past this much held
REWRITERS = 4  # files the driver rewrites at once when later copies leave them
_TASK_COLUMNS = ("accounts_file", "first_frame", "part", "part_row")  # the ledger's own, in order


def staged_table(staged: str, spec: TableSpec) -> str:
    """The folder of a staging area holding one table's part files."""
    return layout.table(staged, spec)


Slot = tuple[str, str]  # a table's name and a partition folder ("" when unpartitioned)


class _TaskParts:
    """The rows of one task, held per table (and partition) and written as numbered part files."""

    def __init__(
        self,
        staged: str,
        task: int,
        written: tuple[TableSpec, ...],
        encryption: EncryptionSettings | None,
        label: str = "",
    ) -> None:
        self.staged = staged
        self.encryption = encryption
        self.task = task
        self.label = label
        self.written = written
        self.specs = {spec.name: spec for spec in written}
        self.held: dict[Slot, list[pa.Table]] = {}
        self.sizes: Counter[Slot] = Counter()
        self.rows: Counter[Slot] = Counter()
        self.numbers: Counter[Slot] = Counter()
        self.accounted: set[str] = set()  # input files with a metadata or quarantine record
        self.decoded: set[tuple[str | None, str]] = set()  # (path, SOP instance) with a feature row

    def name(self, slot: Slot) -> str:
        file = f"part-{self.label}{self.task:05d}-{self.numbers[slot]}.parquet"
        return f"{slot[1]}/{file}" if slot[1] else file

    def add(self, slot: Slot, rows: pa.Table) -> None:
        self.held.setdefault(slot, []).append(rows)
        self.sizes[slot] += rows.nbytes
        self.rows[slot] += len(rows)
        if self.sizes[slot] >= PART_BYTES:
            self.flush(slot)

    def flush(self, slot: Slot) -> None:
        if self.held.get(slot):
            rows = pa.concat_tables(self.held[slot])
            spec = self.specs[slot[0]]
            folder = staged_table(self.staged, spec)
            write_part(folder, spec, self.name(slot), rows, self.encryption)
            self.numbers[slot] += 1
        self.held[slot], self.sizes[slot], self.rows[slot] = [], 0, 0

    def flush_all(self) -> None:
        for slot in list(self.held):
            self.flush(slot)


def _by_partition(spec: TableSpec, rows: pa.Table) -> dict[str, np.ndarray]:
    """The places of `rows` in each partition folder of `spec` they belong to."""
    if not spec.partitions:
        return {"": np.arange(len(rows))}
    values = zip(*(rows.column(column).to_pylist() for column in spec.partitions), strict=True)
    folders = [partition_name(dict(zip(spec.partitions, value, strict=True))) for value in values]
    found: dict[str, list[int]] = {}
    for place, folder in enumerate(folders):
        found.setdefault(folder, []).append(place)
    return {folder: np.array(places) for folder, places in found.items()}


def _column(records: pa.Table, name: str) -> pa.Array:
    """A column of the records, or nulls of the ledger's type when they have none (a region's
    record has no SOP instance of its own)."""
    if name in records.column_names:
        return records.column(name).combine_chunks()
    return pa.nulls(len(records), PASS_LEDGER.field(name).type)


def _firsts(records: pa.Table, parts: _TaskParts) -> tuple[pa.Array, pa.Array]:
    """Which records are the first metadata or quarantine record of their input file (an archive
    counts once), and which the first feature row of their instance, in this task: a file is
    listed in one task only, so the flags add up over tasks to distinct counts."""
    accounts, first = [], []
    for path, uid, outcome in zip(
        *(_column(records, name).to_pylist() for name in ("path", "sop_instance_uid", "outcome")),
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
    """The ledger rows of `records`, each naming the file and place its row is written to, as
    the rows of each written table are added to `parts`; columns the records lack are null."""
    outcome = records.column("outcome").to_numpy(zero_copy_only=False)
    part = np.full(len(records), None, dtype=object)
    place = np.full(len(records), -1, dtype=np.int64)
    firsts = _firsts(records, parts)
    for spec in parts.written:
        chosen = np.flatnonzero(outcome == spec.name)
        if not len(chosen):
            continue
        rows = records.take(chosen)
        for folder, within in _by_partition(spec, rows).items():
            slot, taken = (spec.name, folder), chosen[within]
            part[taken] = parts.name(slot)
            place[taken] = parts.rows[slot] + np.arange(len(taken))
            parts.add(slot, rows.take(within))
    columns = [_column(records, f.name) for f in PASS_LEDGER if f.name not in _TASK_COLUMNS]
    return pa.RecordBatch.from_arrays(
        [*columns, *firsts, pa.array(part, pa.string()), pa.array(place, mask=place < 0)],
        schema=PASS_LEDGER,
    )


Producer = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def _writing_partition(
    produce: Producer,
    staged: str,
    written: tuple[TableSpec, ...],
    encryption: EncryptionSettings | None,
):
    def run(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        context = TaskContext.get()
        task = context.partitionId() if context else 0
        parts = _TaskParts(staged, task, written, encryption)
        for batch in produce(batches):
            yield _ledger(pa.Table.from_batches([batch]), parts)
        parts.flush_all()

    return run


@dataclass(frozen=True)
class WrittenPass:
    """A pass whose tasks wrote the files of the `written` tables into `staged`; `ledger`
    (one row per record, persisted) is every record's trace."""

    staged: str
    ledger: DataFrame
    encryption: EncryptionSettings | None
    written: tuple[TableSpec, ...] = WRITTEN

    def drop_rows_of(self, later: DataFrame) -> DataFrame:
        """Remove from the written files every row of the (path, SOP instance) pairs in `later`:
        the later copies of a duplicated instance and their frames and decode rows. The driver
        collects where those rows lie (the later copies' ledger records only) and rewrites a few
        files at once. Returns the records, as a part of the ledger."""
        keys = F.broadcast(later.select("path", "sop_instance_uid"))
        records = self.ledger.join(keys, ["path", "sop_instance_uid"], "left_semi")
        stale = records.select("outcome", "part", "part_row").toArrow()
        specs = {spec.name: spec for spec in self.written}

        def rewrite(outcome: str, part: str, places: list[int]) -> None:
            folder = staged_table(self.staged, specs[outcome])
            rows = read_part(folder, part, self.encryption)
            keep = np.ones(len(rows), dtype=bool)
            keep[places] = False
            kept = rows.filter(pa.array(keep))
            write_part(folder, specs[outcome], part, kept, self.encryption)

        places: dict[tuple[str, str], list[int]] = {}
        for outcome, part, place in zip(
            *(stale.column(name).to_pylist() for name in ("outcome", "part", "part_row")),
            strict=True,
        ):
            if part is not None:
                places.setdefault((outcome, part), []).append(place)
        with ThreadPoolExecutor(max_workers=REWRITERS) as pool:
            done = [pool.submit(rewrite, *file, rows) for file, rows in places.items()]
        for future in done:
            future.result()
        return records

    def add_rows(self, rows: pa.Table, spec: TableSpec, label: str) -> set[str]:
        """Write rows the driver derived after the pass (the later copies' quarantine rows)
        into the staged table as more part files named after `label`. Returns their names."""
        parts = _TaskParts(self.staged, 0, (spec,), self.encryption, f"{label}-")
        names = set()
        for folder, within in _by_partition(spec, rows).items():
            slot = (spec.name, folder)
            names.add(parts.name(slot))
            parts.add(slot, rows.take(within))
        parts.flush_all()
        return names

    def counted(
        self, progress: StageProgress | None, hold_back: bool, resolve_duplicates: bool = False
    ) -> PassCounts:
        """Run the pass (showing `progress`) and count it from its ledger; with
        `resolve_duplicates`, take the later copies of each repeated SOP instance out of the
        files and add their quarantine rows (counted as duplicates). Returns the counts, with
        the files each table's rows are in."""
        with progress or nullcontext():
            counts = pass_counts(ledger_tally(self.ledger), hold_back)
        metadata = self.ledger.filter("outcome = 'metadata'")
        later = later_copies(metadata) if resolve_duplicates else None
        if later is not None:
            spark = self.ledger.sparkSession
            keys = spark.createDataFrame(later.select(["path", "sop_instance_uid"]))
            counts.set_aside(ledger_tally(self.drop_rows_of(keys)).rows())
            added = self.add_rows(later, QUARANTINE, "later")
            counts.parts.setdefault(QUARANTINE.name, set()).update(added)
        return counts

    def finish(
        self,
        out_uri: str,
        progress: StageProgress | None,
        hold_back: bool,
        *,
        resolve_duplicates: bool = False,
        replacing: Mapping[str, str] | None = None,
    ) -> PassCounts:
        """Run and count the pass (`counted`), make the staged files the tables under OUT
        (`commit`) and drop the ledger. Returns the counts."""
        counts = self.counted(progress, hold_back, resolve_duplicates)
        self.commit(self.ledger.sparkSession, out_uri, counts.parts, replacing)
        self.ledger.unpersist()
        return counts

    def seal(self, parts: Mapping[str, set[str]]) -> None:
        """Leave each staged table with the files `parts` names alone, its version recorded,
        to be renamed into place by the caller (an etl batch's stored history)."""
        spark = self.ledger.sparkSession
        for spec in self.written:
            staged = staged_table(self.staged, spec)
            seal_parts(spark, staged, spec, parts.get(spec.name, set()), self.encryption)

    def commit(
        self,
        spark: SparkSession,
        out_uri: str,
        parts: dict[str, set[str]],
        replacing: Mapping[str, str] | None = None,
    ) -> None:
        """Make the written files the tables under OUT, and drop the staging folder; a table
        named in `replacing` has only that partition value replaced (the features job's
        decode quarantine rows), the others whole."""
        replacing = replacing or {}
        for spec in self.written:
            staged, files = staged_table(self.staged, spec), parts.get(spec.name, set())
            if spec.name in replacing:
                commit_partition(spark, staged, out_uri, spec, replacing[spec.name], files)
            else:
                commit_parts(spark, staged, out_uri, spec, files, self.encryption)
        delete_path(spark, self.staged)


def _as_given(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    return batches


def written_records(
    records: DataFrame,
    staged: str,
    encryption: EncryptionSettings | None,
    written: tuple[TableSpec, ...],
) -> WrittenPass:
    """Records another plan computes (one task per study, `studies.map_studies`), each task
    writing its records of the `written` tables under `staged` as `written_pass` does."""
    ledger = records.mapInArrow(
        _writing_partition(_as_given, staged, written, encryption), from_arrow_schema(PASS_LEDGER)
    ).persist(StorageLevel.MEMORY_AND_DISK)
    return WrittenPass(staged, ledger, encryption, written)


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
    outcome is the table's name) under `staged`, encrypted as the profile says; nothing runs
    until the ledger is first used."""
    tasks = placement.task_count(
        count, files_per_task, rows.sparkSession.sparkContext.defaultParallelism
    )
    ledger = (
        placement.spread(rows, tasks)
        .mapInArrow(
            _writing_partition(produce, staged, written, encryption),
            from_arrow_schema(PASS_LEDGER),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    return WrittenPass(staged, ledger, encryption, written)
