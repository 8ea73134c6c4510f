"""Listing and ingest of a large tree of small files: files/s, peak memory, and the accounting.

    python benchmarks/listing.py [--files 100000] [--also 10000] [--workdir DIR]

Generates (or reuses) a nested tree (patient/study/series folders, no file extensions) of tiny
DICOM instances, with 1 % empty files and 1 % junk, runs `medspark ingest` over it in local
mode, and prints files/s, the peak resident memory of the Python driver and the JVM (sampled
every 0.2 s), and whether every file is accounted for: a metadata row or a quarantine row with
the expected reason, each exactly once. `--also N` runs a smaller tree first, so the two peaks
show whether the driver's memory grows with the number of files.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from throughput import MALLOC_ENV, PeakMemory, benchmark_session

UID_STEM = "1.2.826.0.1.3680043.10.511.9."
PLACEHOLDER = UID_STEM + "1" + "0" * 11
FILES_PER_SERIES = 50


def template() -> bytes:
    """A tiny CT instance whose SOP Instance UID is a fixed-length placeholder."""
    import io

    import numpy as np
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = PLACEHOLDER
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, PLACEHOLDER
    ds.StudyInstanceUID = UID_STEM + "1"
    ds.SeriesInstanceUID = UID_STEM + "2"
    ds.PatientID, ds.PatientName, ds.Modality = "LISTING-BENCH", "Bench^Listing", "CT"
    ds.Rows = ds.Columns = 8
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.PixelData = np.arange(64, dtype=np.uint16).tobytes()
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def kind_of(number: int) -> str:
    return {0: "empty", 1: "junk"}.get(number % 100, "dicom")


def generate(root: Path, count: int) -> None:
    """The tree: patient/study/series folders of FILES_PER_SERIES files each."""
    marker = root / ".complete"
    if marker.exists():
        return
    data = template()
    placeholder = PLACEHOLDER.encode()
    for number in range(count):
        series = number // FILES_PER_SERIES
        folder = root / f"P{series // 40:05d}" / f"ST{series // 4 % 10}" / f"SE{series % 4}"
        if number % FILES_PER_SERIES == 0:
            folder.mkdir(parents=True, exist_ok=True)
        kind = kind_of(number)
        if kind == "empty":
            body = b""
        elif kind == "junk":
            body = b"PACS export log line %d\n" % number * 8
        else:
            body = data.replace(placeholder, (UID_STEM + f"1{number:011d}").encode())
        (folder / f"IM{number:07d}").write_bytes(body)
    marker.write_text("")  # a dot-file: listed and quarantined like any other entry


def run(count: int, work: Path, spark, settings) -> None:

    from medspark.dicom.keys import load_key
    from medspark.spark.jobs.ingest import run_ingest
    from medspark.spark.run import Run

    tree, out = work / f"tree-{count}", work / f"out-{count}"
    began = time.perf_counter()
    generate(tree, count)
    print(f"{count} files ready in {time.perf_counter() - began:.1f} s under {tree}")
    with PeakMemory() as memory:
        began = time.perf_counter()
        result = run_ingest(Run(spark, settings, str(out), str(tree), load_key()))
        seconds = time.perf_counter() - began
    listed = result.summary["counts"]["listed_files"]
    print(f"ingest {count}: {listed} files in {seconds:.1f} s = {listed / seconds:.0f} files/s")
    print("peak RSS MiB: " + ", ".join(f"{k} {v / 2**20:.0f}" for k, v in memory.peaks.items()))
    check_accounting(tree, out, count, listed)


def check_accounting(tree: Path, out: Path, count: int, listed: int) -> bool:
    """Every file on disk is exactly one row: metadata, or quarantine with the expected reason."""
    import pyarrow.dataset as pads

    metadata = pads.dataset(out / "metadata").to_table(columns=["path"]).column("path")
    quarantine = pads.dataset(out / "quarantine", partitioning="hive").to_table(
        columns=["path", "reason"]
    )
    keys = metadata.to_pylist() + quarantine.column("path").to_pylist()
    reasons: dict[str, int] = {}
    for reason in quarantine.column("reason").to_pylist():
        reasons[reason] = reasons.get(reason, 0) + 1
    expected = {"empty_file": sum(kind_of(n) == "empty" for n in range(count)) + 1,  # .complete
                "not_dicom": sum(kind_of(n) == "junk" for n in range(count))}  # fmt: skip
    on_disk = sum(len(names) for _, _, names in os.walk(tree))
    accounted = len(keys) == len(set(keys)) == on_disk == listed and reasons == expected
    print(f"{len(metadata)} metadata rows, quarantine {reasons} (expected {expected}); "
          f"accounted={accounted} (files on disk {on_disk}, listed {listed}, keys {len(keys)}, "
          f"distinct {len(set(keys))})")  # fmt: skip
    return accounted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--also", type=int, help="a smaller tree run first, to compare peaks")
    parser.add_argument("--workdir", default="/tmp/medspark-listing")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    os.environ.update(MALLOC_ENV)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("MEDSPARK_PSEUDONYM_KEY", "benchmark-only-key-not-secret-000")
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)

    settings, spark = benchmark_session(args.master, "medspark listing benchmark")
    for count in ([args.also] if args.also else []) + [args.files]:
        run(count, work, spark, settings)
    spark.stop()


if __name__ == "__main__":
    main()
