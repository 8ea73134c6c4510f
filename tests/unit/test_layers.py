"""The per-file core (dicom, imaging, volume, radiomics, exports, ml) knows nothing of Spark or
the profile: importing every one of its modules, in a fresh interpreter, loads neither pyspark
nor medspark.config."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

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


# The shell's floors, lowest first: a module imports from its own floor or those below it
# (function-level imports included); `records` and `learning` share a floor and keep apart.
SHELL_FLOORS = (
    ("medspark.spark.progress", "medspark.spark.placement"),
    ("medspark.spark.output",),
    ("medspark.spark.session", "medspark.spark.run"),
    ("medspark.spark.records", "medspark.spark.learning"),
    ("medspark.spark.jobs",),
)
SIDE_BY_SIDE = 3  # the floor whose packages keep apart


def _shell_place(module: str) -> tuple[int, str] | None:
    for floor, prefixes in enumerate(SHELL_FLOORS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                return floor, prefix
    return None


def _imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.startswith("medspark.spark")}


def shell_arrows_up(shell: Path) -> list[str]:
    """Each import by a module of the shell (the folder `shell`, medspark.spark) of one on a
    floor above its own, or on its floor beside another package."""
    offenders = []
    for path in sorted(shell.rglob("*.py")):
        parts = path.relative_to(shell).with_suffix("").parts
        module = ".".join(("medspark.spark", *parts)).removesuffix(".__init__")
        place = _shell_place(module)
        for name in sorted(_imported(path)):
            target = _shell_place(name)
            if place is None or target is None:
                continue
            above = target[0] > place[0]
            beside = place[0] == target[0] == SIDE_BY_SIDE and target[1] != place[1]
            if above or beside:
                offenders.append(f"{module} imports {name}")
    return offenders


def test_no_shell_module_imports_from_a_floor_above_it():
    assert shell_arrows_up(Path(medspark.__file__).parent / "spark") == []


def test_the_floor_check_sees_an_arrow_up(tmp_path):
    shell = tmp_path / "spark"
    (shell / "output").mkdir(parents=True)
    (shell / "output" / "tables.py").write_text(
        "def f():\n    from medspark.spark.records import catalog\n"
    )
    (shell / "records").mkdir()
    (shell / "records" / "studies.py").write_text("from medspark.spark.learning.labels import x\n")
    assert shell_arrows_up(shell) == [
        "medspark.spark.output.tables imports medspark.spark.records",
        "medspark.spark.output.tables imports medspark.spark.records.catalog",
        "medspark.spark.records.studies imports medspark.spark.learning.labels",
        "medspark.spark.records.studies imports medspark.spark.learning.labels.x",
    ]
