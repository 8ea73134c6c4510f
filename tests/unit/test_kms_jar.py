"""The Parquet key-management jar reaches every installation: inside a wheel built after
scripts/install.sh, or compiled once into the user's cache from the Java source the package
ships (encryption without either: tests/spark/test_exit_codes.py)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from medspark.spark.output import kms
from tests.conftest import needs

REPO = Path(__file__).resolve().parents[2]
CLASS_FILE = "org/medspark/crypto/EnvironmentKmsClient.class"


def test_without_a_packaged_jar_it_is_compiled_once_into_the_cache(tmp_path, monkeypatch):
    needs(kms._javac() is not None, "a JDK's javac")
    monkeypatch.setattr(kms, "PACKAGED_JAR", tmp_path / "absent.jar")
    monkeypatch.setenv("MEDSPARK_CACHE", str(tmp_path / "cache"))
    jar = kms.kms_jar()
    assert jar.parent == tmp_path / "cache" and jar.name.startswith("medspark-kms-")
    assert CLASS_FILE in zipfile.ZipFile(jar).namelist()
    built = jar.stat().st_mtime_ns
    assert kms.kms_jar() == jar and jar.stat().st_mtime_ns == built
    assert [p.name for p in jar.parent.iterdir()] == [jar.name]  # no temporary left behind


def test_a_wheel_built_after_install_carries_the_jar_and_the_java_source(tmp_path):
    needs(kms.PACKAGED_JAR.is_file(), "medspark/java/medspark-kms.jar (scripts/install.sh)")
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(REPO / name, source / name)
    shutil.copytree(
        REPO / "medspark", source / "medspark", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    wheel = next((tmp_path / "dist").glob("medspark-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "medspark/java/medspark-kms.jar" in names
    assert "medspark/java/org/medspark/crypto/EnvironmentKmsClient.java" in names
