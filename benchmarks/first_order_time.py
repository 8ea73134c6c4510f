"""Milliseconds per call of `first_order` on a 512 x 512 tile of real CT values (CT_small).

Usage: .venv/bin/python benchmarks/first_order_time.py [--repeat 50]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pydicom

from medspark.imaging.first_order import first_order

CT = Path(pydicom.__file__).parent / "data" / "test_files" / "CT_small.dcm"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    tile = np.tile(pydicom.dcmread(CT).pixel_array.astype(np.float64), (4, 4))
    mask = tile > tile.mean()
    for _ in range(3):
        first_order(tile, mask)
    began = time.perf_counter()
    for _ in range(args.repeat):
        first_order(tile, mask)
    print(f"first_order 512x512: {(time.perf_counter() - began) / args.repeat * 1000:.2f} ms")


if __name__ == "__main__":
    main()
