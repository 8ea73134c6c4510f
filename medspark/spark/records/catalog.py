"""List an input tree with the cluster: the driver lists the top levels, workers walk subtrees."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial

import pyarrow as pa
from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from medspark import sources
from medspark.spark.run import Run
from medspark.spark.session import forward_source_environment

log = logging.getLogger("medspark.catalog")
LISTING_SCHEMA = pa.schema(
    [
        pa.field("path", pa.string(), nullable=False),
        pa.field("length", pa.int64(), nullable=False),
        pa.field("modificationTime", pa.int64()),
        pa.field("problem", pa.string()),
        pa.field("detail", pa.string()),
    ]
)
LISTING_DDL = "path string, length bigint, modificationTime bigint, problem string, detail string"
_DIRECTORIES_PER_CORE = 4


def _rows(
    files: list[sources.ListedFile],
) -> list[tuple[str, int, int | None, str | None, str | None]]:
    return [(f.path, f.length, f.modification_time_ms, f.problem, f.detail) for f in files]


def _walk_batches(root_key: str, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """On a worker: every entry below the subtrees (keys) in `batches`' `directory` column."""
    chunk: list = []
    for batch in batches:
        for directory in batch.column("directory").to_pylist():
            for entry in sources.walk(directory, root_key):
                chunk.append(entry)
                if len(chunk) >= 4096:
                    yield _listing_batch(chunk)
                    chunk = []
    if chunk:
        yield _listing_batch(chunk)


def _listing_batch(entries: list) -> pa.RecordBatch:
    columns = list(zip(*_rows(entries), strict=True))
    return pa.RecordBatch.from_arrays(
        [pa.array(values, type=f.type) for values, f in zip(columns, LISTING_SCHEMA, strict=True)],
        schema=LISTING_SCHEMA,
    )


def require_input(root: sources.Source) -> None:
    """Fail with a clear message when the input root is missing (a DICOMweb service that
    cannot be searched raises)."""
    if not root.exists():
        raise sources.InputNotFoundError(f"input does not exist: {root.public()}")


def list_files(spark: SparkSession, root: sources.Source) -> DataFrame:
    """One row per entry under the root, at any depth, whatever its name or size; entries
    that are not readable files carry a `problem`."""
    forward_source_environment(spark)
    parallelism = spark.sparkContext.defaultParallelism
    near_root, directories = root.list_top(_DIRECTORIES_PER_CORE * parallelism, max_depth=3)
    shallow = spark.createDataFrame(_rows(near_root), LISTING_DDL)
    if not directories:
        return shallow
    walked = (
        spark.createDataFrame([(d,) for d in directories], "directory string")
        .repartition(min(len(directories), _DIRECTORIES_PER_CORE * parallelism))
        .mapInArrow(partial(_walk_batches, root.key()), LISTING_DDL)
    )
    return shallow.unionByName(walked)


@dataclass(frozen=True)
class ListedInput:
    """An input root listed by the cluster: its entries (persisted), how many, their bytes."""

    files: DataFrame
    file_count: int
    byte_count: int


def list_run_input(run: Run) -> ListedInput:
    """List the run's INPUT as its `catalog` stage."""
    with run.stage("catalog") as stage:
        listed = list_input(run.spark, run.input)
        stage.update(files=listed.file_count, bytes=listed.byte_count)
    log.info(
        "catalog: %d files, %d bytes under %s",
        listed.file_count,
        listed.byte_count,
        run.public_input,
    )
    return listed


def list_input(spark: SparkSession, root: sources.Source) -> ListedInput:
    """List an existing input root and count what was found; the caller unpersists `files`."""
    require_input(root)
    files = list_files(spark, root).persist(StorageLevel.MEMORY_AND_DISK)
    totals = files.agg(F.count("*").alias("n"), F.sum("length").alias("bytes")).collect()[0]
    return ListedInput(files, int(totals["n"]), int(totals["bytes"] or 0))
