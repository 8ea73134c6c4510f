#!/usr/bin/env bash
# Build medspark as a wheel and as a .zip for spark-submit --py-files.
# Spark puts .zip, .egg and .jar files from --py-files on the executors' sys.path, but not .whl
# files; a wheel is a zip with the package at its root, so the same bytes are shipped as .zip.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-dist}
mkdir -p "$out"
rm -f "$out"/medspark-*.whl "$out"/medspark-*.zip
.venv/bin/python -m pip wheel --quiet --no-deps -w "$out" .
wheel=$(ls "$out"/medspark-*.whl)
cp "$wheel" "${wheel%.whl}.zip"
echo "${wheel%.whl}.zip"
