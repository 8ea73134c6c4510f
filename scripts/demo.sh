#!/usr/bin/env bash
# One command on a fresh machine: install medspark, then ingest the sample DICOM files
# that pydicom ships, in local mode, into ./medspark-output/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/medspark demo "$@"
