#!/usr/bin/env bash
# Mutation testing of the pure core's critical modules (the list is [tool.mutmut] in
# pyproject.toml) against the unit tests, with mutmut. Not part of the default test run:
# about ten minutes on two cores. Writes the survivors, grouped, to
# benchmarks/mutation-survivors.tsv, prints the share of mutants killed per module and the
# survivors, and exits 1 when a module is below 85 %. `.venv/bin/mutmut show NAME` prints one
# survivor's diff.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m pip install --quiet 'mutmut==3.8.1'
rm -rf mutants
MEDSPARK_SHARED_DATA="$(cd .. && pwd)/shared/data"
export MEDSPARK_SHARED_DATA MEDSPARK_REQUIRE_ALL=1  # the IBSI tests must run, not skip
.venv/bin/mutmut run --max-children "${MUTATION_WORKERS:-2}" >/dev/null 2>&1 || true
.venv/bin/mutmut results --all true > mutants/results.txt
PATH="$PWD/.venv/bin:$PATH" .venv/bin/python benchmarks/mutation_survivors.py mutants/results.txt \
    > benchmarks/mutation-survivors.tsv
.venv/bin/python benchmarks/mutation_scores.py mutants/results.txt
