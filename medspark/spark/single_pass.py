"""The single pass over listed files, as Arrow batches in the workers: each file read once into
metadata, quarantine and feature records (`imaging.single_pass`); shared by pipeline and etl."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from pyspark import Accumulator, StorageLevel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import from_arrow_schema

from medspark.config import Settings
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.reasons import Stage
from medspark.imaging.single_pass import SinglePassOptions, inspect_and_extract
from medspark.schemas import METADATA, QUARANTINE, SINGLE_PASS_RECORDS
from medspark.spark import placement
from medspark.spark.arrow_map import internal_error, record_batches
from medspark.spark.duplicates import split_duplicates
from medspark.spark.extraction import feature_options
from medspark.spark.inspection import inspect_options


def single_pass_partition(options: SinglePassOptions, progress: Accumulator | None = None):
    """A `mapInArrow` function: listed files to their SINGLE_PASS_RECORDS batches."""
    return record_batches(
        lambda row: inspect_and_extract(
            row["path"], row["length"], options, row.get("problem"), row.get("detail")
        ),
        SINGLE_PASS_RECORDS,
        lambda row, exc: internal_error(row, exc, options.inspect.run_id, Stage.HEADER),
        progress,
    )


def single_pass_options(
    settings: Settings, key: PseudonymKey | None, run_id: str
) -> SinglePassOptions:
    """What the workers need from the profile to take a file all the way to its records."""
    return SinglePassOptions(
        inspect_options(settings, key, run_id),
        feature_options(settings, run_id, key),
        settings.deid.pixels,
        settings.deid.examine_pixels,
    )


def single_pass_records(
    listed_files: DataFrame,
    file_count: int,
    settings: Settings,
    key: PseudonymKey | None,
    run_id: str,
    progress: Accumulator | None = None,
) -> DataFrame:
    """Every record of the listed files (SINGLE_PASS_RECORDS), computed once and persisted so
    each table is written from it without reading or decoding a file again."""
    options = single_pass_options(settings, key, run_id)
    return (
        # ingest's task size: a task's fixed cost (~75 ms here) outweighs decoding's longer tail
        placement.balanced(listed_files, file_count, settings.ingest.files_per_task)
        .mapInArrow(
            single_pass_partition(options, progress), from_arrow_schema(SINGLE_PASS_RECORDS)
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )


@dataclass(frozen=True)
class PassTables:
    """One pass's records split by table: metadata rows, every quarantine row (catalog, header,
    duplicates and decode), and feature rows."""

    metadata: DataFrame
    quarantine: DataFrame
    features: DataFrame
    persisted: tuple[DataFrame, ...] = ()

    def also_releasing(self, *frames: DataFrame) -> PassTables:
        """The same tables, `release` also unpersisting `frames` (the records they came from)."""
        return replace(self, persisted=(*self.persisted, *frames))

    def release(self) -> None:
        """Drop what the split persisted."""
        for frame in self.persisted:
            frame.unpersist()


def _is_decode() -> F.Column:
    return F.col("stage") == str(Stage.DECODE)


def _has_duplicates(instances: DataFrame) -> bool:
    """Whether two rows share a SOP Instance UID: rare, so the usual pass skips the shuffles of
    resolving them (a window over the metadata and a join of the feature rows)."""
    copies = instances.groupBy("sop_instance_uid").count().filter("count > 1")
    return bool(copies.limit(1).count())


def split_pass(
    records: DataFrame, resolve_duplicates: bool, instance_columns: Sequence[str] = METADATA.columns
) -> PassTables:
    """The tables a pass wrote records for. With `resolve_duplicates` the first copy of each SOP
    instance by path is kept and the others are quarantined (the one-shot rule), and only the kept
    copies' feature and decode rows remain; otherwise every copy is kept (etl resolves them when
    it reads the current state). Metadata rows keep `instance_columns` of the records."""
    instances = records.filter("outcome = 'metadata'").select(*instance_columns)
    header_quarantine = records.filter((F.col("outcome") == "quarantine") & ~_is_decode())
    extracted = records.filter(
        (F.col("outcome") == "features") | ((F.col("outcome") == "quarantine") & _is_decode())
    )
    quarantine = header_quarantine.select(*QUARANTINE.columns)
    persisted: tuple[DataFrame, ...] = ()
    if resolve_duplicates and _has_duplicates(instances):
        # the window is computed once: the tables and the counts read the persisted halves
        kept, duplicates = split_duplicates(instances)
        persisted = (kept.persist(StorageLevel.MEMORY_AND_DISK), duplicates.persist())
        instances = kept
        extracted = extracted.join(
            instances.select("path", "sop_instance_uid"), ["path", "sop_instance_uid"], "left_semi"
        )
        quarantine = quarantine.unionByName(duplicates)
    decode = extracted.filter("outcome = 'quarantine'").select(*QUARANTINE.columns)
    return PassTables(
        metadata=instances,
        quarantine=quarantine.unionByName(decode).coalesce(
            max(1, records.rdd.getNumPartitions() // 16)
        ),
        features=extracted.filter("outcome = 'features'"),
        persisted=persisted,
    )
