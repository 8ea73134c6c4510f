"""`pip install` of the built wheel into a fresh venv, with no extra step, gives a medspark
whose defaults all work: the pipeline examines and redacts burned-in text exactly as the
development install (scripts/install.sh) does, with one OpenCV (the headless one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pyarrow.dataset as pads
import pytest
from pydicom.data import get_testdata_file

from benchmarks.burned_in_text import PLANTED as BENCHMARK_SOURCES
from tests.burned_text import burn

REPO = Path(__file__).resolve().parents[2]
KEY = {"MEDSPARK_PSEUDONYM_KEY": "wheel-install-test-key-0123456789"}
# every source frame of benchmarks/burned_in_text.py, each in one of its four drawings
PLANTED = tuple((name, number % 4) for number, name in enumerate(BENCHMARK_SOURCES))


def _run(command: list[str], **extra: str) -> subprocess.CompletedProcess:
    environment = {**os.environ, **KEY, **extra}
    return subprocess.run(command, capture_output=True, text=True, env=environment, check=False)


@pytest.fixture(scope="module")
def fresh_medspark(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(root / "dist"), str(REPO)])  # fmt: skip
    assert built.returncode == 0, built.stderr
    wheel = next((root / "dist").glob("medspark-*.whl"))
    venv = root / "venv"
    assert _run([sys.executable, "-m", "venv", str(venv)]).returncode == 0
    installed = _run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)])
    assert installed.returncode == 0, installed.stderr[-3000:]
    return venv


def _redactions(out: Path) -> dict[tuple[str, int], tuple]:
    table = pads.dataset(out / "features").to_table(
        columns=[
            "sop_instance_uid",
            "frame",
            "pixels_examined",
            "pixel_phi_boxes",
            "pixel_redactions",
        ]
    )
    return {
        (r["sop_instance_uid"], r["frame"]): (
            r["pixels_examined"],
            r["pixel_phi_boxes"],
            r["pixel_redactions"],
        )
        for r in table.to_pylist()
    }


def test_the_wheel_alone_examines_and_redacts_as_the_development_install(fresh_medspark, tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    for name, variant in PLANTED:
        burn(get_testdata_file(name), images / name, variant=variant)
    packages = _run([str(fresh_medspark / "bin" / "python"), "-m", "pip", "list"]).stdout
    names = {line.split()[0].lower() for line in packages.splitlines()[2:] if line.strip()}
    assert "opencv-python-headless" in names and "opencv-python" not in names
    runs = {}
    for label, command in (
        ("wheel", [str(fresh_medspark / "bin" / "medspark")]),
        ("development", [sys.executable, "-m", "medspark.cli"]),
    ):
        out = tmp_path / f"out-{label}"
        done = _run([*command, "pipeline", str(images), str(out)], SPARK_LOCAL_IP="127.0.0.1")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
        assert "unavailable" not in done.stderr
        assert "0 images held back unchecked" in done.stdout
        runs[label] = _redactions(out)
    assert len(runs["wheel"]) >= len(PLANTED)  # a multi-frame source gives a row per frame
    assert all(examined for examined, _, _ in runs["wheel"].values())
    assert sum(boxes > 0 for _, boxes, _ in runs["wheel"].values()) >= len(PLANTED)
    assert runs["wheel"] == runs["development"]
