"""The codebase passes ruff, so lint breaks fail CI like any other regression."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_ruff_check_passes():
    ruff = Path(sys.executable).parent / "ruff"
    result = subprocess.run(
        [str(ruff), "check", "--no-cache", str(REPO)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
