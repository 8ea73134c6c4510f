"""Per-module mutation scores from `mutmut results --all true`.

Usage: python benchmarks/mutation_scores.py RESULTS_FILE. Prints one line per module (killed,
total, share) and then every mutant that survived, by module; exits 1 when a module is below
85 % killed.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict

TARGET = 0.85
_LINE = re.compile(r"^\s*(?P<name>[\w.]+__mutmut_\d+):\s*(?P<status>.+?)\s*$")
_KILLED = {"killed", "timeout", "segfault"}  # a mutant that made the tests fail or hang


def module_of(name: str) -> str:
    """`medspark.dicom.deid.x_deidentify__mutmut_3` -> `medspark.dicom.deid`."""
    dotted = name.split("__mutmut_")[0]
    parts = dotted.split(".")
    for index, part in enumerate(parts):
        if part.startswith(("x_", "xǁ")):
            return ".".join(parts[:index])
    return ".".join(parts[:-1])


def main(path: str) -> int:
    by_module: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    with open(path) as handle:
        for line in handle:
            match = _LINE.match(line)
            if match:
                by_module[module_of(match["name"])][match["status"]].append(match["name"])
    failing = 0
    print(f"{'module':36} {'killed':>7} {'total':>6} {'score':>6}")
    for module, statuses in sorted(by_module.items()):
        total = sum(len(names) for status, names in statuses.items() if status != "skipped")
        killed = sum(len(statuses[status]) for status in _KILLED)
        score = killed / total if total else 1.0
        failing += score < TARGET
        print(f"{module:36} {killed:>7} {total:>6} {score:>6.1%}")
    for _, statuses in sorted(by_module.items()):
        for status, names in sorted(statuses.items()):
            if status not in _KILLED and status != "skipped":
                for name in names:
                    print(f"{status}: {name}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
