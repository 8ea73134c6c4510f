"""Reading instances over DICOMweb from a local Orthanc against reading the same files from disk.

    python benchmarks/dicomweb.py [--files 1000] [--per-series 100] [--workdir DIR]
                                  [--master local[2]]

Generates (or reuses) N synthetic 512x512 CT slices in series of --per-series, starts Debian's
Orthanc with its DICOMweb plugin on 127.0.0.1 (own storage, free ports, stopped by process id),
stores them over its REST API, then times, in one run:
(a) a plain single-process loop that lists the instances with QIDO-RS and reads each with
    WADO-RS, parsing its header with pydicom; the same loop over the files on disk;
(b) `medspark ingest` (header-only, so the transport is what is measured) of the service root
    and of the folder, warm, on `--master`.
It prints instances per second for each, and DICOMweb / disk for the loop and for Spark.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "benchmarks")]

from throughput import benchmark_session, generate  # noqa: E402

from tests.pacs.orthanc import PASSWORD, USER, Orthanc  # noqa: E402

KEY = "benchmark-only-key-not-secret-000"


def as_series(source: Path, target: Path, count: int, per_series: int) -> list[Path]:
    """The first `count` generated slices regrouped into series of `per_series` (the generator
    gives each slice its own series; a PACS holds series of tens to hundreds)."""
    import pydicom
    from pydicom.uid import generate_uid

    target.mkdir(parents=True, exist_ok=True)
    written = []
    for number, path in enumerate(sorted(source.glob("CT*"))[:count]):
        copy = target / path.name
        if not copy.exists():
            dataset = pydicom.dcmread(path)
            if number % per_series == 0:
                series = generate_uid(prefix="1.2.826.0.1.3680043.10.511.2.")
            dataset.SeriesInstanceUID = series
            dataset.InstanceNumber = number % per_series + 1
            dataset.save_as(copy)
        written.append(copy)
    return written


def store(server: Orthanc, files: list[Path]) -> float:
    began = time.perf_counter()
    for path in files:
        assert server.store(path.read_bytes()), path
    return time.perf_counter() - began


def loop_over_dicomweb(root: str) -> tuple[int, float]:
    import pydicom

    from medspark.dicomweb.catalog import instances_in, series_to_walk
    from medspark.dicomweb.client import client
    from medspark.dicomweb.locations import parse

    began = time.perf_counter()
    count = 0
    for series in series_to_walk(parse(root)):
        for found in instances_in(series):
            data = client().retrieve_instance(parse(found.key).url)
            pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
            count += 1
    return count, time.perf_counter() - began


def loop_over_disk(folder: Path) -> tuple[int, float]:
    import pydicom

    began = time.perf_counter()
    count = 0
    for path in sorted(folder.iterdir()):
        pydicom.dcmread(io.BytesIO(path.read_bytes()), stop_before_pixels=True)
        count += 1
    return count, time.perf_counter() - began


def ingest(spark, settings, source: str, out: Path) -> tuple[int, float]:
    from medspark.dicom.keys import load_key
    from medspark.spark.jobs.ingest import run_ingest
    from medspark.spark.run import Run

    shutil.rmtree(out, ignore_errors=True)
    began = time.perf_counter()
    result = run_ingest(Run(spark, settings, str(out), source, load_key()))
    seconds = time.perf_counter() - began
    counts = result.summary["counts"]
    assert counts["accounted_files"] == counts["listed_files"], counts
    return counts["metadata"], seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--workdir", default="/tmp/medspark-dicomweb-bench")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--per-series", type=int, default=100)
    args = parser.parse_args()
    work = Path(args.workdir)
    generated = work / f"ct-{args.files}"
    generate(generated, args.files)
    inputs = work / f"series-{args.files}-{args.per_series}"
    files = as_series(generated, inputs, args.files, args.per_series)
    os.environ.update(MEDSPARK_PSEUDONYM_KEY=KEY, MEDSPARK_DICOMWEB_USER=USER,
                      MEDSPARK_DICOMWEB_PASSWORD=PASSWORD, SPARK_LOCAL_IP="127.0.0.1")  # fmt: skip
    shutil.rmtree(work / "orthanc", ignore_errors=True)
    server = Orthanc(work / "orthanc").start()
    try:
        seconds = store(server, files)
        print(f"stored {len(files)} instances in Orthanc over REST in {seconds:.1f} s "
              f"({len(files) / seconds:.1f}/s)")  # fmt: skip
        web_count, web_seconds = loop_over_dicomweb(server.dicomweb)
        disk_count, disk_seconds = loop_over_disk(inputs)
        web_loop, disk_loop = web_count / web_seconds, disk_count / disk_seconds
        print(f"(a) plain loop, 1 process: DICOMweb {web_count} instances in {web_seconds:.1f} s "
              f"= {web_loop:.1f}/s; disk {disk_count} files in {disk_seconds:.1f} s "
              f"= {disk_loop:.1f}/s; DICOMweb / disk {web_loop / disk_loop:.2f}")  # fmt: skip
        settings, spark = benchmark_session(args.master, "medspark dicomweb benchmark")
        ingest(spark, settings, str(inputs), work / "warm-up")  # workers started
        rows, seconds = ingest(spark, settings, server.dicomweb, work / "out-dicomweb")
        web_spark = rows / seconds
        rows_disk, seconds_disk = ingest(spark, settings, str(inputs), work / "out-disk")
        disk_spark = rows_disk / seconds_disk
        print(f"(b) spark ingest {args.master}, warm: DICOMweb {rows} instances in {seconds:.1f} s "
              f"= {web_spark:.1f}/s; disk {rows_disk} in {seconds_disk:.1f} s "
              f"= {disk_spark:.1f}/s; DICOMweb / disk {web_spark / disk_spark:.2f}")  # fmt: skip
        print(f"spark DICOMweb / plain DICOMweb loop: {web_spark / web_loop:.2f}")
        spark.stop()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
