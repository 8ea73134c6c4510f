"""Small files from frequent incremental runs, and what `medspark compact` does about them.

Runs `run_etl` N times over a landing folder that grows by a few generated DICOM files per
run, counts the Parquet files, times a full read of the current tables, compacts, and
measures again. Generated data: this measures file handling, not image content.

    .venv/bin/python benchmarks/etl_compaction.py --runs 30 --files-per-run 4
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from pydicom.uid import CTImageStorage

from medspark.config import load_settings
from medspark.dicom.keys import PseudonymKey
from medspark.dicom.write import array_to_dicom
from medspark.spark.jobs.compaction import compact
from medspark.spark.jobs.etl import run_etl
from medspark.spark.output.current import current_tables
from medspark.spark.run import Run
from medspark.spark.session import build_session

KEY = PseudonymKey(b"medspark-benchmark-key-0123456789", "benchmark")


def _read_all(spark, out: str) -> tuple[float, int]:
    began = time.perf_counter()
    rows = sum(df.count() for df in current_tables(spark, out).values())
    return time.perf_counter() - began, rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--files-per-run", type=int, default=4)
    args = parser.parse_args()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings = load_settings("local")
    settings = settings.model_copy(
        update={"etl": settings.etl.model_copy(update={"settle_seconds": 0})}
    )
    spark = build_session(settings, "medspark etl compaction benchmark")
    spark.sparkContext.setLogLevel("ERROR")
    root = Path(tempfile.mkdtemp(prefix="medspark-compaction-"))
    landing, out = root / "landing", str(root / "out")
    landing.mkdir()
    rng = np.random.default_rng(0)
    began = time.perf_counter()
    for run in range(args.runs):
        for number in range(args.files_per_run):
            pixels = rng.integers(0, 4000, (128, 128), dtype=np.uint16)
            array_to_dicom(
                pixels,
                landing / f"run{run:03d}-{number}",
                sop_class_uid=CTImageStorage,
                modality="CT",
                patient_id=f"P{run:03d}",
                rescale=(1.0, -1024.0),
            )
        run_etl(Run(spark, settings, out, str(landing), KEY))
    print(f"{args.runs} runs of {args.files_per_run} files in {time.perf_counter() - began:.1f} s")
    for attempt in ("cold", "warm"):
        seconds, rows = _read_all(spark, out)
        print(f"before compaction ({attempt}): read {rows} current rows in {seconds:.2f} s")
    report = compact(Run(spark, settings, out))
    for name, table in report["tables"].items():
        before, after = table["files_before"], table["files_after"]
        print(f"{name}: {table['rows']} rows, {before} -> {after} files")
    print(f"compaction took {report['seconds']:.1f} s")
    for attempt in ("cold", "warm"):
        seconds, rows = _read_all(spark, out)
        print(f"after compaction ({attempt}): read {rows} current rows in {seconds:.2f} s")
    spark.stop()
    shutil.rmtree(root)


if __name__ == "__main__":
    main()
