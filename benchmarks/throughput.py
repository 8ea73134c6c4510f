"""Features throughput: a plain single-process loop against the Spark features job, one run.

    python benchmarks/throughput.py [--files N] [--workdir DIR] [--master local[2]]

Generates (or reuses) N synthetic 512x512 CT slices plus the real image files pydicom ships,
ingests them once, then times (a) a plain Python loop doing the same decode + features per
image with medspark's core functions, and (b) the Spark features job. Both get the same glibc
malloc settings and one OpenCV thread per process. The last line is ratio = b / (2 x a).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "67108864", "MALLOC_TRIM_THRESHOLD_": "268435456"}


def generate(folder: Path, count: int) -> None:
    """Synthetic CT slices: a body ellipse with an organ and noise, 12-bit with a rescale to HU."""
    import numpy as np
    from pydicom.uid import CTImageStorage

    from medspark.dicom.write import array_to_dicom

    folder.mkdir(parents=True, exist_ok=True)
    existing = len(list(folder.glob("CT*")))
    rng = np.random.default_rng(2026)
    yy, xx = np.mgrid[0:512, 0:512]
    for number in range(existing, count):
        body = ((xx - 256) / 200.0) ** 2 + ((yy - 256) / 150.0) ** 2 <= 1
        organ = ((xx - 200 - number % 40) / 50.0) ** 2 + ((yy - 240) / 40.0) ** 2 <= 1
        hu = np.full((512, 512), -1000.0)
        hu[body] = 40 + rng.normal(0, 20, body.sum())
        hu[organ] = 180 + rng.normal(0, 30, organ.sum())
        array_to_dicom(
            np.clip(hu + 1024, 0, 4095).astype(np.uint16),
            folder / f"CT{number:06d}",
            sop_class_uid=CTImageStorage,
            modality="CT",
            patient_id=f"BENCH{number // 100:04d}",
            study_instance_uid="1.2.826.0.1.3680043.10.511.1",
            rescale=(1, -1024),
            window=(40, 400),
            pixel_spacing=(0.7, 0.7),
            bits_stored=12,
        )


def real_mix(folder: Path) -> None:
    import pydicom

    source = Path(pydicom.__file__).parent / "data" / "test_files"
    folder.mkdir(parents=True, exist_ok=True)
    for path in source.glob("*.dcm"):
        shutil.copyfile(path, folder / path.name)


class PeakMemory:
    """Samples resident memory of the driver JVM, this process, and PySpark's Python workers."""

    def __init__(self) -> None:
        self.peaks = {
            "python_driver": 0,
            "jvm": 0,
            "python_workers_total": 0,
            "python_worker_max": 0,
        }
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _rss(pid: str) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        me = str(os.getpid())
        while not self._stop.is_set():
            workers = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except OSError:
                    continue
                if b"pyspark.daemon" in cmd or b"pyspark/daemon" in cmd or b"pyspark.worker" in cmd:
                    workers.append(self._rss(pid))
                elif b"org.apache.spark.deploy.SparkSubmit" in cmd:
                    self.peaks["jvm"] = max(self.peaks["jvm"], self._rss(pid))
            self.peaks["python_driver"] = max(self.peaks["python_driver"], self._rss(me))
            if workers:
                self.peaks["python_workers_total"] = max(
                    self.peaks["python_workers_total"], sum(workers)
                )
                self.peaks["python_worker_max"] = max(self.peaks["python_worker_max"], max(workers))
            time.sleep(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join()


def plain_loop(out: str) -> None:
    """Child process: the same decode + features per image, one process, no Spark."""
    import cv2
    import pyarrow.dataset as pads

    from medspark.config import load_settings
    from medspark.spark.extraction import feature_options

    cv2.setNumThreads(1)
    settings = load_settings("local")
    options = feature_options(settings, "bench-loop")
    from medspark.imaging.extract import extract_instance

    images = pads.field("has_pixel_data")
    if settings.deid.hold_back_burned_in:  # the Spark job holds these back too
        images = images & ~pads.field("burned_in_risk")
    rows = pads.dataset(f"{out}/metadata").to_table(filter=images).to_pylist()
    started = time.perf_counter()
    frames = images = 0
    for row in rows:
        images += 1
        frames += sum(
            1 for record in extract_instance(row, options) if record["outcome"] == "features"
        )
    elapsed = time.perf_counter() - started
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"LOOP {images} {frames} {elapsed:.3f} {peak}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000, help="synthetic CT slices")
    parser.add_argument("--workdir", default="/tmp/medspark-bench")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--plain-loop", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_loop:
        plain_loop(args.plain_loop)
        return

    os.environ.update(MALLOC_ENV)  # before the JVM and its Python workers start
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("MEDSPARK_PSEUDONYM_KEY", "benchmark-only-key-not-secret-000")
    work = Path(args.workdir)
    inputs = work / f"input-{args.files}"
    began = time.perf_counter()
    generate(inputs / "synthetic", args.files)
    real_mix(inputs / "real")
    print(f"inputs ready in {time.perf_counter() - began:.1f} s: {inputs}")

    from medspark.config import load_settings
    from medspark.dicom.keys import load_key
    from medspark.spark.jobs.features import run_features
    from medspark.spark.jobs.ingest import run_ingest
    from medspark.spark.session import build_session

    settings = load_settings("local")
    spark_settings = settings.spark.model_copy(
        update={
            "master": args.master,
            "settings": {**settings.spark.settings, "spark.ui.showConsoleProgress": "false"},
        }
    )
    settings = settings.model_copy(update={"spark": spark_settings})
    out = str(work / f"out-{args.files}")
    spark = build_session(settings, "medspark benchmark")
    ingest_began = time.perf_counter()
    ingest = run_ingest(spark, settings, str(inputs), out, load_key())
    ingest_seconds = time.perf_counter() - ingest_began
    files = ingest.summary["counts"]["listed_files"]
    print(
        f"ingest (spark {args.master}): {files} files in {ingest_seconds:.1f} s "
        f"= {files / ingest_seconds:.0f} files/s"
    )

    loop = subprocess.run(
        [sys.executable, __file__, "--plain-loop", out],
        env={**os.environ, **MALLOC_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    _, images, frames, seconds, loop_peak = next(
        line for line in loop.stdout.splitlines() if line.startswith("LOOP")
    ).split()
    loop_rate = int(frames) / float(seconds)
    print(
        f"(a) plain loop, 1 process: {frames} frames from {images} images "
        f"in {float(seconds):.1f} s "
        f"= {loop_rate:.1f} images/s; peak RSS {int(loop_peak) / 2**20:.0f} MiB"
    )

    run_features(spark, settings, out)  # warm: Python workers started, imports done
    with PeakMemory() as memory:
        began = time.perf_counter()
        result = run_features(spark, settings, out)
        spark_seconds = time.perf_counter() - began
    spark_frames = result.summary["counts"]["feature_rows"]
    spark_rate = spark_frames / spark_seconds
    print(
        f"(b) spark features {args.master}, warm: {spark_frames} frames in {spark_seconds:.1f} s "
        f"= {spark_rate:.1f} images/s"
    )
    print("peak RSS MiB: " + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in memory.peaks.items()))
    spark.stop()
    print(f"ratio={spark_rate / (2 * loop_rate):.3f}")


if __name__ == "__main__":
    main()
