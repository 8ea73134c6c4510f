"""The per-file core (dicom, imaging, volume, radiomics, exports, ml) knows nothing of Spark or
the profile: importing every one of its modules, in a fresh interpreter, loads neither pyspark
nor medspark.config."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import medspark

CORE_PACKAGES = (
    "dicom",
    "dicomweb",
    "sources",
    "imaging",
    "volume",
    "regions",
    "radiomics",
    "exports",
    "ml",
)
FORBIDDEN = ("pyspark", "medspark.config", "medspark.spark")


def core_modules() -> list[str]:
    names = []
    for package in CORE_PACKAGES:
        found = pkgutil.walk_packages(
            [f"{medspark.__path__[0]}/{package}"], prefix=f"medspark.{package}."
        )
        names += [f"medspark.{package}", *(module.name for module in found)]
    return names


def test_the_core_has_modules_to_check():
    modules = core_modules()
    assert "medspark.imaging.extract" in modules and "medspark.radiomics.families.glcm" in modules
    assert len(modules) > 40


def test_no_core_module_imports_spark_or_the_profile():
    script = (
        "import importlib, json, sys\n"
        f"for name in {core_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r}))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
