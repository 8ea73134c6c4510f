"""Throughput of medspark on Spark against a plain single-process loop, in one run.

    python benchmarks/throughput.py [--files N] [--stage features|pipeline] [--workdir DIR]
                                    [--master local[2]] [--repeat K] [--scaling 1000,4000,16000]

Generates (or reuses) N synthetic 512x512 CT slices plus the real files pydicom ships.

--stage features: ingests them once, then times (a) a plain loop decoding and describing each
image with medspark's core functions and (b) the Spark features job, warm.
--stage pipeline: times the end-to-end job from the files, (a) a plain loop that reads, hashes,
parses, de-identifies, decodes and describes each file and writes the metadata, quarantine and
features tables with pyarrow, against (b) the pipeline's single pass (`run_single_pass`), warm.
"Warm": the Spark job has run once on the same input first (Python workers started, imports
done, the JVM's hot paths compiled). --repeat K alternates K loop runs with K Spark runs and
compares their medians: the machine's own drift (a few seconds either way over minutes) then
falls on both sides.

Both sides get the same glibc malloc settings, one OpenCV thread per process and
OMP_NUM_THREADS=1 (what PySpark gives its Python workers; left unset, the loop's numerical
libraries spin a second thread: 144 % CPU for the same wall time). The last line is
ratio = median b / (2 x median a) (2 cores here). --scaling runs the single pass alone at each
size and prints images/s, milliseconds per file and peak memory of the driver, JVM and Python
workers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

MALLOC_ENV = {"MALLOC_MMAP_THRESHOLD_": "67108864", "MALLOC_TRIM_THRESHOLD_": "268435456"}
WORKER_THREADS_ENV = {"OMP_NUM_THREADS": "1"}  # as PySpark sets for its Python workers


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


def _loop_settings():
    from medspark.config import load_settings
    from medspark.dicom.keys import load_key

    return load_settings("local"), load_key()


def _peak_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def plain_features_loop(out: str) -> None:
    """Child process: the features stage's decode + features per image, one process, no Spark."""
    import cv2
    import pyarrow.dataset as pads

    from medspark.imaging.extract import extract_instance
    from medspark.imaging.single_pass import PixelHandling, pixel_handling
    from medspark.spark.records.extraction import feature_options

    cv2.setNumThreads(1)
    settings, key = _loop_settings()
    options = feature_options(settings, "bench-loop", key)
    deid = settings.deid
    rows = pads.dataset(f"{out}/metadata").to_table(filter=pads.field("has_pixel_data")).to_pylist()
    started = time.perf_counter()
    frames = images = 0
    for row in rows:
        handling = pixel_handling(row["burned_in_risk"], deid.pixels, deid.examine_pixels)
        if handling is PixelHandling.HOLD_BACK:  # the Spark job holds these back too
            continue
        row["examine_pixels"] = handling is PixelHandling.EXAMINE
        images += 1
        frames += sum(1 for r in extract_instance(row, options) if r["outcome"] == "features")
    elapsed = time.perf_counter() - started
    print(f"LOOP {images} {frames} {elapsed:.3f} {_peak_rss()}")


def plain_pipeline_loop(inputs: str, out: str) -> None:
    """Child process: the pipeline's per-file work end to end, one process, no Spark: list, read,
    hash, parse, de-identify, decode, describe, keep the first copy of each instance by path, and
    write the three tables with pyarrow."""
    import cv2
    import pyarrow as pa
    import pyarrow.parquet as pq

    from medspark.imaging.single_pass import inspect_and_extract
    from medspark.schemas import FEATURES, METADATA, QUARANTINE
    from medspark.spark.records.single_pass import single_pass_options

    cv2.setNumThreads(1)
    settings, key = _loop_settings()
    options = single_pass_options(settings, key, "bench-loop")
    started = time.perf_counter()
    paths = sorted(
        os.path.join(folder, name) for folder, _, names in os.walk(inputs) for name in names
    )
    tables: dict[str, list[dict]] = {"metadata": [], "quarantine": [], "features": []}
    first_path: dict[str, str] = {}
    for path in paths:
        for record in inspect_and_extract(path, os.path.getsize(path), options):
            if record["outcome"] == "metadata":
                kept = first_path.setdefault(record["sop_instance_uid"], record["path"])
                if kept != record["path"]:
                    tables["quarantine"].append({**record, "stage": "deduplicate",
                                                 "reason": "duplicate_sop_instance",
                                                 "detail": f"first seen at {kept}"})  # fmt: skip
                    continue
                tables["metadata"].append(record)
            elif record["outcome"] == "features":
                if first_path.get(record["sop_instance_uid"]) == record["path"]:
                    tables["features"].append(record)
            else:
                tables["quarantine"].append(record)
    os.makedirs(out, exist_ok=True)
    for spec in (METADATA, QUARANTINE, FEATURES):
        rows = [{k: r.get(k) for k in spec.schema.names} for r in tables[spec.name]]
        pq.write_table(pa.Table.from_pylist(rows, schema=spec.schema), f"{out}/{spec.name}.parquet")
    elapsed = time.perf_counter() - started
    print(f"LOOP {len(paths)} {len(tables['features'])} {elapsed:.3f} {_peak_rss()}")


def _run_loop(*arguments: str) -> tuple[int, int, float, int]:
    loop = subprocess.run(
        [sys.executable, __file__, *arguments],
        env={**os.environ, **MALLOC_ENV, **WORKER_THREADS_ENV},
        capture_output=True,
        text=True,
        check=True,
    )
    _, items, frames, seconds, peak = next(
        line for line in loop.stdout.splitlines() if line.startswith("LOOP")
    ).split()
    return int(items), int(frames), float(seconds), int(peak)


def _mib(value: int) -> str:
    return f"{value / 2**20:.0f}"


def _median(values: list[float]) -> float:
    import statistics

    return statistics.median(values)


def features_stage(
    spark, settings, inputs: Path, work: Path, files: int, master: str, repeat: int
) -> float:
    from medspark.dicom.keys import load_key
    from medspark.spark.jobs.features import run_features
    from medspark.spark.jobs.ingest import run_ingest
    from medspark.spark.run import Run

    out = str(work / f"out-features-{files}")
    began = time.perf_counter()
    ingest = run_ingest(Run(spark, settings, out, str(inputs), load_key()))
    seconds = time.perf_counter() - began
    listed = ingest.summary["counts"]["listed_files"]
    print(f"ingest (spark {master}): {listed} files in {seconds:.1f} s = {listed / seconds:.0f}/s")
    run_features(Run(spark, settings, out))  # warm: Python workers started, imports done
    loop_rates, spark_rates = [], []
    for _ in range(repeat):
        images, frames, seconds, peak = _run_loop("--plain-features-loop", out)
        loop_rates.append(frames / seconds)
        print(f"(a) plain loop, 1 process: {frames} frames from {images} images in {seconds:.1f} s "
              f"= {loop_rates[-1]:.1f} images/s; peak RSS {_mib(peak)} MiB")  # fmt: skip
        with PeakMemory() as memory:
            began = time.perf_counter()
            result = run_features(Run(spark, settings, out))
            spark_seconds = time.perf_counter() - began
        frames = result.summary["counts"]["feature_rows"]
        spark_rates.append(frames / spark_seconds)
        print(f"(b) spark features {master}, warm: {frames} frames in {spark_seconds:.1f} s "
              f"= {spark_rates[-1]:.1f} images/s")  # fmt: skip
        print("peak RSS MiB: " + ", ".join(f"{k} {_mib(v)}" for k, v in memory.peaks.items()))
    return _median(spark_rates) / (2 * _median(loop_rates))


def _single_pass(spark, settings, inputs: Path, out: Path) -> tuple[dict, float, dict]:
    from medspark.dicom.keys import load_key
    from medspark.spark.jobs.pipeline import run_single_pass
    from medspark.spark.run import Run

    shutil.rmtree(out, ignore_errors=True)
    with PeakMemory() as memory:
        began = time.perf_counter()
        result = run_single_pass(Run(spark, settings, str(out), str(inputs), load_key()))
        seconds = time.perf_counter() - began
    return result.summary["counts"], seconds, memory.peaks


def pipeline_stage(
    spark, settings, inputs: Path, work: Path, files: int, master: str, repeat: int
) -> float:
    loop_out = work / f"loop-pipeline-{files}"
    _single_pass(spark, settings, inputs, work / "out-warm-up")  # warm, as the features stage
    loop_rates, spark_rates = [], []
    for _ in range(repeat):
        shutil.rmtree(loop_out, ignore_errors=True)
        listed, frames, seconds, peak = _run_loop(
            "--plain-pipeline-loop", str(inputs), str(loop_out)
        )
        loop_rates.append(listed / seconds)
        print(f"(a) plain loop, 1 process: {listed} files -> {frames} feature rows and three "
              f"Parquet tables in {seconds:.1f} s = {loop_rates[-1]:.1f} files/s; "
              f"peak RSS {_mib(peak)} MiB")  # fmt: skip
        counts, spark_seconds, peaks = _single_pass(spark, settings, inputs, work / f"out-{files}")
        spark_rates.append(counts["listed_files"] / spark_seconds)
        print(f"(b) spark pipeline single pass {master}, warm: {counts['listed_files']} files -> "
              f"{counts['feature_rows']} feature rows in {spark_seconds:.1f} s "
              f"= {spark_rates[-1]:.1f} files/s")  # fmt: skip
        print("peak RSS MiB: " + ", ".join(f"{k} {_mib(v)}" for k, v in peaks.items()))
    return _median(spark_rates) / (2 * _median(loop_rates))


def scaling(spark, settings, work: Path, sizes: list[int]) -> None:
    """The single pass alone at each size (hard links into one generated set), warm."""
    source = work / "scaling-source"
    generate(source, max(sizes))
    warm = work / "scaling-warm-up"
    if not warm.exists():
        warm.mkdir()
        for path in sorted(source.glob("CT*"))[:200]:
            os.link(path, warm / path.name)
    _single_pass(spark, settings, warm, work / "out-scaling-warm-up")  # workers started
    rows = []
    for size in sizes:
        inputs = work / f"scaling-{size}"
        if not inputs.exists():
            inputs.mkdir()
            for path in sorted(source.glob("CT*"))[:size]:
                os.link(path, inputs / path.name)
        counts, seconds, peaks = _single_pass(spark, settings, inputs, work / f"out-scaling-{size}")
        rows.append({"files": size, "seconds": round(seconds, 1),
                     "images_per_s": round(counts["feature_rows"] / seconds, 1),
                     "ms_per_file": round(1000 * seconds / size, 2),
                     **{f"{k}_mib": round(v / 2**20) for k, v in peaks.items()}})  # fmt: skip
        print("scaling " + json.dumps(rows[-1]))
    base = rows[0]["ms_per_file"]
    for row in rows:
        print(f"{row['files']:>7} files: {row['images_per_s']:>6} images/s, "
              f"{row['ms_per_file']:>6} ms/file ({row['ms_per_file'] / base:.2f} x the first), "
              f"peak MiB driver {row['python_driver_mib']}, JVM {row['jvm_mib']}, "
              f"workers {row['python_workers_total_mib']}")  # fmt: skip


def benchmark_session(master: str, name: str):
    """The local profile on `master`, without the console progress bar, and its session."""
    from medspark.config import load_settings
    from medspark.spark.session import build_session

    settings = load_settings("local")
    spark_settings = settings.spark.model_copy(
        update={
            "master": master,
            "settings": {**settings.spark.settings, "spark.ui.showConsoleProgress": "false"},
        }
    )
    settings = settings.model_copy(update={"spark": spark_settings})
    return settings, build_session(settings, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000, help="synthetic CT slices")
    parser.add_argument("--stage", choices=("features", "pipeline"), default="features")
    parser.add_argument("--scaling", help="comma-separated sizes for the single pass alone")
    parser.add_argument("--workdir", default="/tmp/medspark-bench")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument(
        "--repeat", type=int, default=1, help="loop and Spark runs, alternated; medians compared"
    )
    parser.add_argument("--plain-features-loop", help=argparse.SUPPRESS)
    parser.add_argument("--plain-pipeline-loop", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_features_loop:
        plain_features_loop(args.plain_features_loop)
        return
    if args.plain_pipeline_loop:
        plain_pipeline_loop(*args.plain_pipeline_loop)
        return

    os.environ.update(MALLOC_ENV)  # before the JVM and its Python workers start
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("MEDSPARK_PSEUDONYM_KEY", "benchmark-only-key-not-secret-000")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    inputs = work / f"input-{args.files}"
    began = time.perf_counter()
    generate(inputs / "synthetic", args.files)
    real_mix(inputs / "real")
    print(f"inputs ready in {time.perf_counter() - began:.1f} s: {inputs}")

    settings, spark = benchmark_session(args.master, "medspark benchmark")
    if args.scaling:
        scaling(spark, settings, work, [int(n) for n in args.scaling.split(",")])
        spark.stop()
        return
    stage = features_stage if args.stage == "features" else pipeline_stage
    ratio = stage(spark, settings, inputs, work, args.files, args.master, args.repeat)
    spark.stop()
    print(f"ratio={ratio:.3f}")


if __name__ == "__main__":
    main()
