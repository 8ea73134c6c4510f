#!/usr/bin/env bash
# Create .venv with medspark and its test tools (--deep: and PyTorch for the CNN stage).
# Safe to re-run; pip reuses its cache.
set -euo pipefail
cd "$(dirname "$0")/.."

python_bin=""
for candidate in python3.11 python3 python; do
    if command -v "$candidate" >/dev/null 2>&1 &&
        "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        python_bin=$candidate
        break
    fi
done
if [ -z "$python_bin" ]; then
    echo "medspark needs Python 3.11 (python3.11 on PATH)." >&2
    exit 2
fi
if ! command -v java >/dev/null 2>&1 && [ -z "${JAVA_HOME:-}" ]; then
    echo "medspark needs Java 17 for Spark (e.g. apt-get install openjdk-17-jre-headless)." >&2
    exit 2
fi

[ -x .venv/bin/python ] || "$python_bin" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
extras="test"
cpu_torch="2.13.0"
for argument in "$@"; do
    case "$argument" in
        --deep) extras="test,deep" ;;  # PyTorch (CPU) for train --kind cnn
        *) echo "unknown option: $argument (scripts/install.sh [--deep])" >&2; exit 2 ;;
    esac
done
# PyTorch's CPU build where pip can find it (a wheel in its find-links, or PyTorch's CPU index
# given as PIP_EXTRA_INDEX_URL): 0.8 GB installed instead of PyPI's CUDA build with its NVIDIA
# libraries (about 9 GB). Without one, medspark[deep] takes PyPI's build.
if [ "$extras" = "test,deep" ] && ! .venv/bin/python -c 'import torch' 2>/dev/null; then
    .venv/bin/python -m pip install --quiet "torch==$cpu_torch+cpu" 2>/dev/null ||
        echo "no CPU build of PyTorch $cpu_torch found; installing PyPI's (CUDA) build" >&2
fi
.venv/bin/python -m pip install --quiet -e ".[$extras]"
bash scripts/build-kms-jar.sh >/dev/null

# Linters for docker/ (tests/test_docker.py): hadolint comes with the test extra; dclint from npm.
if command -v npm >/dev/null 2>&1 && [ ! -x .tools/node_modules/.bin/dclint ]; then
    mkdir -p .tools
    (cd .tools && npm install --silent --no-audit --no-fund dclint@3.1.0 >/dev/null)
fi

# Which PyTorch build --deep installed, and what it weighs (PyPI's Linux wheels carry CUDA).
if [ "$extras" = "test,deep" ]; then
    .venv/bin/python - <<'PY'
import importlib.metadata as metadata
from pathlib import Path

import torch

files = [f for name in ("torch", *(d.metadata["Name"] for d in metadata.distributions()
                                   if d.metadata["Name"].startswith("nvidia-")))
         for f in (metadata.distribution(name).files or [])]
size = sum(p.stat().st_size for f in files if (p := Path(f.locate())).is_file())
build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "CPU only"
print(f"PyTorch {torch.__version__} ({build} build): {size / 2**30:.1f} GiB with its libraries")
if torch.version.cuda and not torch.cuda.is_available():
    print("no GPU here: the CPU-only build is enough (docs/classifier.md: A CNN beside the classifier)")
PY
fi
