"""docker/Dockerfile built with podman on a Debian base made from Debian's packages
(scripts/container-base.sh), its `medspark pipeline` run on pydicom's files with the tables
written to a mounted folder, and the compose file's standalone master and one worker brought up
(bound to 127.0.0.1) and down."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from tests.conftest import needs
from tests.ports import distinct_free_ports

REPO = Path(__file__).resolve().parents[2]
BASE = "localhost/medspark-base:bookworm"
IMAGE = "localhost/medspark:0.1.0"  # the name compose.yaml gives it
# podman-compose from PyPI (a test dependency): Debian bookworm's 1.0.3 appends an override
# file's command to the base file's and adds a network to host-network services.
PODMAN_COMPOSE = str(Path(sys.executable).parent / "podman-compose")
COMPOSE = ["-f", str(REPO / "docker" / "compose.yaml"),
           "-f", str(Path(__file__).parent / "compose.loopback.yaml")]  # fmt: skip


def _run(command: list[str], timeout: float, **environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **environment}, check=False)  # fmt: skip


@pytest.fixture(scope="module")
def image() -> Iterator[str]:
    for tool in ("podman", "mmdebstrap", "runc"):
        needs(shutil.which(tool) is not None, f"{tool} (apt-get install podman runc mmdebstrap)")
    needs(Path(PODMAN_COMPOSE).is_file(), "podman-compose (the test extra)")
    before = _image_ids()
    base = _run(["bash", str(REPO / "scripts" / "container-base.sh"), BASE], 1200)
    assert base.returncode == 0, base.stderr[-3000:]
    dockerfile = str(REPO / "docker" / "Dockerfile")
    built = _run(["podman", "build", "--network", "host", "--build-arg", f"BASE={BASE}",
                  "-f", dockerfile, "-t", IMAGE, str(REPO)], 2400)  # fmt: skip
    try:
        assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
        yield IMAGE
    finally:
        made = _image_ids() - before  # the base, each stage and the image: about 2 GB a build
        if made:
            _run(["podman", "rmi", "--force", *made], 300)
        assert not _image_ids() - before


def _image_ids() -> set[str]:
    listed = _run(["podman", "images", "--all", "--quiet", "--no-trunc"], 120)
    assert listed.returncode == 0, listed.stderr
    return set(listed.stdout.split())


def test_the_image_runs_the_pipeline_into_a_mounted_folder(image, tmp_path):
    import pydicom

    files = Path(pydicom.__file__).parent / "data" / "test_files"
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # the image runs as user 185
    done = _run(["podman", "run", "--rm", "--network", "host", "-e", "SPARK_LOCAL_IP=127.0.0.1",
                 "-v", f"{files}:/data/in:ro", "-v", f"{out}:/data/out", image,
                 "medspark", "pipeline", "/data/in", "/data/out", "--throwaway-key"],
                timeout=1200)  # fmt: skip
    assert done.returncode in (0, 5), done.stdout[-3000:] + done.stderr[-3000:]
    metadata = pads.dataset(out / "metadata", partitioning="hive").to_table()
    quarantine = pads.dataset(out / "quarantine", partitioning="hive").to_table()
    listed = sum(1 for p in files.rglob("*") if p.is_file())
    assert metadata.num_rows > 50 and metadata.num_rows + quarantine.num_rows >= listed - 5
    assert pads.dataset(out / "features", partitioning="hive").count_rows() > 0
    summary = json.loads(next((out / "runs").glob("*.json")).read_text())
    assert summary["missing_capabilities"] == []  # the image's defaults all work


def _alive_workers(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/", timeout=5) as response:
        return len([w for w in json.load(response)["workers"] if w["state"] == "ALIVE"])


def test_the_compose_cluster_comes_up_and_down(image, tmp_path):
    master, master_ui, worker_ui = distinct_free_ports(3)
    environment = {"MASTER_PORT": str(master), "MASTER_UI_PORT": str(master_ui),
                   "WORKER_UI_PORT": str(worker_ui), "LANDING": str(tmp_path),
                   "OUTPUT": str(tmp_path), "MEDSPARK_PSEUDONYM_KEY": "unused"}  # fmt: skip
    up = _run([PODMAN_COMPOSE, *COMPOSE, "up", "-d", "master", "worker-1"], 600, **environment)
    try:
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        deadline, alive = time.monotonic() + 120, 0
        while time.monotonic() < deadline and alive < 1:
            time.sleep(2)
            try:
                alive = _alive_workers(master_ui)
            except OSError:
                continue
        assert alive == 1
    finally:
        down = _run([PODMAN_COMPOSE, *COMPOSE, "down"], 600, **environment)
    assert down.returncode == 0, down.stderr[-3000:]
    with pytest.raises(OSError):
        _alive_workers(master_ui)
