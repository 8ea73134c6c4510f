"""Why `medspark etl` does not use Structured Streaming's file source: run it and see.

Drops a DICOM-sized file, a zero-byte file and a file named `_...` into a folder, reads it with
`readStream.format("binaryFile")`, `trigger(availableNow=True)` and a checkpoint, then rewrites
the first file with new content and runs again with the same checkpoint.

    .venv/bin/python benchmarks/streaming_file_source_probe.py
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from pyspark.sql import SparkSession

SCHEMA = "path string, modificationTime timestamp, length bigint, content binary"


def main() -> None:
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    root = Path(tempfile.mkdtemp(prefix="medspark-streaming-probe-"))
    landing = root / "landing"
    landing.mkdir()
    (landing / "image.dcm").write_bytes(b"x" * 100)
    (landing / "empty").write_bytes(b"")
    (landing / "_underscore").write_bytes(b"y" * 10)
    batches: list[list[tuple[str, int]]] = []

    def run() -> None:
        query = (
            spark.readStream.format("binaryFile")
            .schema(SCHEMA)
            .load(str(landing))
            .select("path", "length")
            .writeStream.option("checkpointLocation", str(root / "checkpoint"))
            .trigger(availableNow=True)
            .foreachBatch(
                lambda df, _: batches.append(
                    sorted((Path(r.path).name, r.length) for r in df.collect())
                )
            )
            .start()
        )
        query.awaitTermination()

    run()
    print(f"listed: image.dcm (100 B), empty (0 B), _underscore (10 B); first run saw {batches}")
    time.sleep(1.5)
    (landing / "image.dcm").write_bytes(b"z" * 200)
    before = len(batches)
    run()
    second = batches[before:] or "nothing"
    print(f"image.dcm rewritten (200 B, newer mtime); second run saw {second}")
    spark.stop()
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
