"""Decoded size is bounded before decoding: shown under an address-space cap, not by timing."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from tests.hostile import craft

REPO = Path(__file__).resolve().parents[2]
CAP_BYTES = 2_500 << 20  # the interpreter with numpy, OpenCV and pydicom fits well inside


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (CAP_BYTES, CAP_BYTES))


def test_decoding_bombs_are_refused_or_bounded_within_a_memory_cap(tmp_path):
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    (bombs / "rle-20000x20000").write_bytes(craft.rle_bomb(20_000, 20_000))
    (bombs / "frames-2e31").write_bytes(craft.many_frames(2**31))
    (bombs / "deflate-64x64-inflating-512MiB").write_bytes(craft.deflate_bomb(64, 64, 512 << 20))
    (bombs / "rle-4000x4000").write_bytes(craft.rle_bomb(4_000, 4_000))
    assert sum(p.stat().st_size for p in bombs.iterdir()) < 16 << 20
    done = subprocess.run(
        [sys.executable, "-m", "tests.hostile.decode_under_cap", str(bombs)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_cap,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()}
    assert results == {
        "rle-20000x20000": ["quarantine", "decoded_size_over_limit"],
        "frames-2e31": ["quarantine", "decoded_size_over_limit"],
        "deflate-64x64-inflating-512MiB": ["features", "None"],
        "rle-4000x4000": ["features", "None"],
    }
