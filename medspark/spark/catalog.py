"""List an input tree with Spark's own file index: paths and sizes only, never file contents."""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, SparkSession


class InputNotFoundError(FileNotFoundError):
    """The input root does not exist or cannot be listed."""


def _hadoop_path(spark: SparkSession, uri: str):
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def qualified_uri(spark: SparkSession, uri: str) -> str:
    """The fully qualified form of a path (`file:/…`, `hdfs://…`), as Spark reports file paths."""
    path, filesystem = _hadoop_path(spark, uri)
    return str(filesystem.makeQualified(path).toString())


def require_input(spark: SparkSession, uri: str) -> None:
    """Fail with a clear message when the input root is missing."""
    path, filesystem = _hadoop_path(spark, uri)
    if not filesystem.exists(path):
        raise InputNotFoundError(f"input does not exist: {uri}")


def list_files(spark: SparkSession, root: str) -> DataFrame:
    """One row per file under `root`, at any depth, whatever its name: path, length, modified."""
    return (
        spark.read.format("binaryFile")
        .option("recursiveFileLookup", "true")
        .load(root)
        .select("path", "length", "modificationTime")
    )


def balanced(listing: DataFrame, file_count: int, files_per_task: int) -> DataFrame:
    """Spread listed files over enough partitions that each task holds about `files_per_task`."""
    parallelism = listing.sparkSession.sparkContext.defaultParallelism
    partitions = max(parallelism, math.ceil(file_count / max(files_per_task, 1)), 1)
    return listing.repartition(partitions)
