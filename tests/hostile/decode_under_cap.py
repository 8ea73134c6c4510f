"""Run the per-image core over decoding bombs; meant to run under an address-space cap.

Usage: python -m tests.hostile.decode_under_cap FOLDER  (prints one `name outcome reason` line
per file in FOLDER).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from medspark.config import FeatureSettings
from medspark.dicom.sources import ArchiveLimits
from medspark.imaging.extract import FeatureOptions, extract_instance


def main(folder: str) -> None:
    options = FeatureOptions("cap", FeatureSettings(), ArchiveLimits(1 << 30, 2, 64 << 20))
    for path in sorted(Path(folder).iterdir()):
        data = path.read_bytes()
        row = {
            "path": str(path),
            "file_size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "sop_instance_uid": path.name,
        }
        del data
        for record in extract_instance(row, options):
            print(path.name, record["outcome"], record.get("reason"), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
