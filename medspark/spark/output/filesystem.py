"""Table housekeeping through Hadoop's filesystem API, so it works on any filesystem Spark does."""

from __future__ import annotations

from pyspark.sql import SparkSession


def delete_path(spark: SparkSession, uri: str) -> bool:
    """Delete a file or folder (recursively) if it exists; True if something was deleted."""
    path, filesystem = _filesystem(spark, uri)
    return bool(filesystem.exists(path) and filesystem.delete(path, True))


def _filesystem(spark: SparkSession, uri: str):
    jvm = spark.sparkContext._jvm
    assert jvm is not None, "a driver-side SparkContext has a JVM gateway"
    path = jvm.org.apache.hadoop.fs.Path(uri)
    return path, path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())


def path_exists(spark: SparkSession, uri: str) -> bool:
    """True when a file or folder exists at `uri` (any filesystem Spark reaches)."""
    path, filesystem = _filesystem(spark, uri)
    return bool(filesystem.exists(path))


def rename_path(spark: SparkSession, source: str, target: str) -> None:
    """Move a folder into place in one rename (atomic on local filesystems and HDFS)."""
    source_path, filesystem = _filesystem(spark, source)
    target_path, _ = _filesystem(spark, target)
    filesystem.mkdirs(target_path.getParent())
    if not filesystem.rename(source_path, target_path):
        raise OSError(f"could not rename {source} to {target}")


def list_names(spark: SparkSession, uri: str) -> list[str]:
    """Names of the entries of a folder; empty when it does not exist."""
    path, filesystem = _filesystem(spark, uri)
    if not filesystem.exists(path):
        return []
    return sorted(str(status.getPath().getName()) for status in filesystem.listStatus(path))


def count_parquet_files(spark: SparkSession, uri: str) -> int:
    """Parquet files under a folder, at any depth; 0 when it does not exist."""
    path, filesystem = _filesystem(spark, uri)
    if not filesystem.exists(path):
        return 0
    found, files = filesystem.listFiles(path, True), 0
    while found.hasNext():
        if str(found.next().getPath().getName()).endswith(".parquet"):
            files += 1
    return files


def data_files(spark: SparkSession, uri: str) -> list[tuple[str, int, int]]:
    """(path relative to `uri`, bytes, modification ms) of every Parquet file below a folder,
    leaving out hidden ones (a path part starting with `_` or `.`)."""
    path, filesystem = _filesystem(spark, uri)
    if not filesystem.exists(path):
        return []
    root = str(filesystem.makeQualified(path).toUri().getPath()).rstrip("/") + "/"
    found, files = filesystem.listFiles(path, True), []
    while found.hasNext():
        status = found.next()
        full = str(status.getPath().toUri().getPath())
        relative = full[len(root) :] if full.startswith(root) else status.getPath().getName()
        if relative.endswith(".parquet") and not any(
            part.startswith(("_", ".")) for part in relative.split("/")
        ):
            files.append((relative, int(status.getLen()), int(status.getModificationTime())))
    return files
