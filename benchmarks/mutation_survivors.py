"""Group the mutants that survived, for docs/testing.md: `python benchmarks/mutation_survivors.py`
run from the folder mutmut ran in. Writes one line per survivor (group, mutant, mutated line)."""

from __future__ import annotations

import re
import subprocess
import sys

GROUPS = (
    ("wording", re.compile(r'"XX|XX"|"[A-Z ,.()`\-0-9]{12,}"|\(WHITE SPACE|NOT ACCOUNTED'
                           r"|ValueError\(None\)|type\(None\)\.__name__")),
    ("inert", re.compile(r"dtype=None|astype\(None\)|errstate|strict=|\"UTF-8\"|SURROGATEESCAPE"
                         r"|encode\(\"utf-8\", \)|np\.(indices|arange)\(.*, \)"
                         r"|native\[\"PixelData\"\]\.VR|native\.PixelData = body"
                         r"|decompress\(compressed, (expected \+ 2)?\)|number_of_frames=None"
                         r"|generate_frames\(dataset\.PixelData, \)|count = None"
                         r"|p\.shape\[1\]|p\.sum\(axis=1\)")),
    ("counter", re.compile(r"report\.\w+ (=|-=|\+= 2)")),
)  # fmt: skip


def mutated_line(name: str) -> str:
    shown = subprocess.run(["mutmut", "show", name], capture_output=True, text=True).stdout
    return next((line[1:].strip() for line in shown.splitlines() if line.startswith("+ ")), "")


def main(results: str) -> None:
    with open(results) as handle:
        lines = handle.read().splitlines()
    for line in lines:
        name, _, status = line.strip().partition(": ")
        if status not in ("survived", "no tests"):  # a timeout counts as killed
            continue
        text = mutated_line(name)
        group = next((g for g, pattern in GROUPS if pattern.search(text)), "edge")
        print(f"{group}\t{name}\t{text}")


if __name__ == "__main__":
    main(sys.argv[1])
