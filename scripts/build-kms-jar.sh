#!/usr/bin/env bash
# Compile medspark's Parquet KMS client (reads master keys from the environment) into
# medspark/java/medspark-kms.jar, against the Parquet and Hadoop jars pyspark ships; a wheel
# built afterwards carries it (pyproject.toml's package data).
# Needs a JDK (javac); without one, Parquet column encryption is unavailable and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-.venv/bin/python}
if ! command -v javac >/dev/null 2>&1; then
    echo "javac not found: skipping the Parquet KMS client (column encryption unavailable)" >&2
    exit 0
fi
"$python" -m medspark.spark.output.kms medspark/java/medspark-kms.jar
