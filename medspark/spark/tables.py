"""Table housekeeping through Hadoop's filesystem API, so it works on any filesystem Spark does."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.pandas.types import from_arrow_schema

from medspark.schemas import TableSpec
from medspark.storage import join_uri


def delete_path(spark: SparkSession, uri: str) -> bool:
    """Delete a file or folder (recursively) if it exists; True if something was deleted."""
    jvm = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    filesystem = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    return bool(filesystem.exists(path) and filesystem.delete(path, True))


def read_table(spark: SparkSession, out_uri: str, spec: TableSpec) -> DataFrame:
    """A table under OUT with its declared schema (so an empty table reads as empty)."""
    return spark.read.schema(from_arrow_schema(spec.schema)).parquet(join_uri(out_uri, spec.name))
