"""docker/ is linted by real linters and kept in step with pyproject.toml (no engine here)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "docker" / "Dockerfile"
COMPOSE = REPO / "docker" / "compose.yaml"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def tool(name: str, *candidates: Path) -> str:
    for candidate in candidates:
        if candidate.exists():
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not installed; scripts/install.sh installs it")
    pytest.skip(f"{name} is not installed")


def test_hadolint_passes():
    hadolint = tool("hadolint", Path(sys.executable).parent / "hadolint")
    result = subprocess.run(
        [hadolint, "--config", str(REPO / "docker" / ".hadolint.yaml"), str(DOCKERFILE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dclint_passes():
    dclint = tool("dclint", REPO / ".tools" / "node_modules" / ".bin" / "dclint")
    result = subprocess.run(
        [dclint, "--max-warnings", "0", str(COMPOSE)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_matches_pyproject():
    text = DOCKERFILE.read_text()
    python = re.search(r"^ARG BASE=python:(\d+\.\d+)", text, re.MULTILINE)
    assert python, "the default base must be an official python image"
    assert (
        f"<{python.group(1).split('.')[0]}.{int(python.group(1).split('.')[1]) + 1}"
        in (PYPROJECT["project"]["requires-python"])
    ), "the image's Python must be the one pyproject.toml allows"
    assert re.findall(r"^FROM (\S+)", text, re.MULTILINE) == ["${BASE}", "${BASE}"]
    assert "openjdk-17-jre-headless" in text, "pyspark 4 needs Java 17"
    assert f"/opt/venv/lib/python{python.group(1)}/site-packages/pyspark" in text
    assert f"python{python.group(1)} -m venv /opt/venv" in text
    assert "pip install --no-cache-dir ." in text, "install from pyproject.toml, not a copy of it"
    stages = set(re.findall(r"^FROM \S+ AS (\S+)", text, re.MULTILINE))
    for line in re.findall(r"^COPY (.+)$", text, re.MULTILINE):
        words = line.split()
        if words[0].startswith("--from="):  # built by an earlier stage, not in the repository
            assert words[0].removeprefix("--from=") in stages, line
            continue
        for path in words[:-1]:
            assert (REPO / path).exists(), f"COPY {path}: missing from the repository"


def test_the_image_carries_the_kms_jar_built_in_a_jdk_stage():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM \S+ AS kms$", text, re.MULTILINE)
    assert "openjdk-17-jdk-headless" in text and "python -m medspark.spark.output.kms" in text
    assert "COPY --from=kms /src/medspark-kms.jar ./medspark/java/medspark-kms.jar" in text


def test_compose_runs_the_image_and_the_pipeline_job():
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"master", "worker-1", "worker-2", "job"} <= set(services)
    version = PYPROJECT["project"]["version"]
    for name, service in services.items():
        assert service["image"] == f"medspark:{version}", name
        assert service["build"]["dockerfile"] == "docker/Dockerfile"
    job = services["job"]["command"]
    assert "/opt/medspark/jobs/run.py" in job and "pipeline" in job and "spark://master:7077" in job
    assert (REPO / "jobs" / "run.py").is_file()
    assert any(v.endswith(":/data/landing:ro") for v in services["job"]["volumes"])
    assert all(p.startswith("127.0.0.1:") for p in services["master"].get("ports", []))
