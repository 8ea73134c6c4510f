"""Lossless re-encoding on real files: the compression ratio per syntax and modality, how many
instances each encoder keeps as they were (and why), and the time per frame, over every image
in pydicom's test files and pydicom-data (`PYTHONPATH=. python benchmarks/compression.py`).
Explicit VR Little Endian, the uncompressed syntax, is left out: its ratio is 1 by definition.

The ratio is the pixel bytes of the uncompressed frames over the encoded pixel data; every
re-encoded image was decoded again and compared bit for bit by `reencode` itself.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict

import pydicom

from medspark.exports.compression import LOSSLESS, reencode
from tests.conftest import all_pydicom_files, pydicom_data_files


def images():
    for path in all_pydicom_files() + pydicom_data_files():
        try:
            dataset = pydicom.dcmread(path)
            if "PixelData" in dataset:
                yield path, dataset, dataset.pixel_array.nbytes
        except Exception:  # broken on purpose, or no decoder
            continue


def main() -> None:
    warnings.simplefilter("ignore")
    import logging

    logging.disable(logging.CRITICAL)
    found = [(p, ds.get("Modality") or "?", raw, int(ds.get("NumberOfFrames") or 1))
             for p, ds, raw in images()]  # fmt: skip
    print(f"{len(found)} images with decodable pixel data")
    rows = []
    for syntax in [name for name in LOSSLESS if name != "explicit-little"]:
        totals = defaultdict(lambda: [0, 0, 0, 0.0, 0])  # raw, encoded, instances, seconds, frames
        kept = defaultdict(int)
        for path, modality, raw, frames in found:
            dataset = pydicom.dcmread(path)
            if dataset.file_meta.TransferSyntaxUID == LOSSLESS[syntax]:
                kept["already in this syntax"] += 1
                continue
            began = time.perf_counter()
            result = reencode(dataset, syntax)
            seconds = time.perf_counter() - began
            if result.kept_original:
                kept[(result.reason or "").split(":")[0]] += 1
                continue
            total = totals[modality]
            total[0] += raw
            total[1] += result.pixel_bytes_after
            total[2] += 1
            total[3] += seconds
            total[4] += frames
        for modality, (raw, encoded, count, seconds, frames) in sorted(totals.items()):
            rows.append((syntax, modality, count, raw / max(encoded, 1), 1000 * seconds / frames))
        print(f"{syntax}: kept as they were: {dict(kept)}")
    print("| syntax | modality | instances | ratio | ms per frame |")
    print("|---|---|---|---|---|")
    for syntax, modality, count, ratio, ms in rows:
        print(f"| {syntax} | {modality} | {count} | {ratio:.2f} | {ms:.1f} |")


if __name__ == "__main__":
    main()
