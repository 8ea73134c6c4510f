"""spark-submit of `jobs/run.py pipeline` to a real standalone cluster, with the package as a wheel.

The workers and the driver run a Python without medspark installed and in working directories
of their own: only the wheel passed with --py-files can make the job work. The output tables
must equal a local-mode run of the same input.
"""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from medspark.dicom.keys import PseudonymKey
from medspark.spark.jobs.features import run_features
from medspark.spark.jobs.ingest import run_ingest
from medspark.spark.run import Run
from tests.cluster.standalone import SPARK_HOME, StandaloneCluster, dependencies_only_python
from tests.conftest import pydicom_file
from tests.spark_settings import make_settings

pytestmark = pytest.mark.cluster
REPO = Path(__file__).resolve().parents[2]
KEY = "cluster-test-key-0123456789abcdef"
VOLATILE = {"run_id", "processed_at"}


def build_pyfiles(target: Path) -> Path:
    """The .zip that scripts/build-pyfiles.sh makes, as docs/cluster.md tells users to ship it."""
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "build-pyfiles.sh"), str(target)],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(result.stdout.strip().splitlines()[-1])


def make_input(root: Path) -> Path:
    folder = root / "landing" / "study"
    folder.mkdir(parents=True)
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "examples_ybr_color.dcm",
                 "JPEG2000.dcm", "MR_truncated.dcm", "README.txt"):  # fmt: skip
        shutil.copyfile(pydicom_file(name), folder / name.split(".")[0])
    (folder / "empty").write_bytes(b"")
    with zipfile.ZipFile(root / "landing" / "cd.zip", "w") as archive:
        archive.writestr("DICOM/IM1", pydicom_file("SC_rgb_rle.dcm").read_bytes())
    return root / "landing"


def table(out: Path, name: str, key: tuple[str, ...]) -> dict:
    rows = pads.dataset(out / name, partitioning="hive").to_table().to_pylist()
    return {
        tuple(r[k] for k in key): {k: v for k, v in r.items() if k not in VOLATILE} for r in rows
    }


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    root = tmp_path_factory.mktemp("cluster")
    standalone = StandaloneCluster(root, dependencies_only_python(root))
    try:
        standalone.start()
        yield standalone
    finally:
        standalone.stop()


def test_pipeline_on_standalone_cluster_matches_local_mode(cluster, spark, tmp_path):
    landing = make_input(tmp_path)
    package = build_pyfiles(tmp_path / "dist")
    driver_dir = tmp_path / "driver-cwd"
    driver_dir.mkdir()
    cluster_out = tmp_path / "cluster-out"
    env = cluster._env()
    env["MEDSPARK_PSEUDONYM_KEY"] = KEY
    result = subprocess.run(
        [
            str(SPARK_HOME / "bin" / "spark-submit"),
            "--master", cluster.url,
            "--py-files", str(package),
            "--conf", f"spark.pyspark.python={cluster.worker_python}",
            "--conf", f"spark.pyspark.driver.python={cluster.worker_python}",
            "--conf", "spark.driver.host=127.0.0.1",
            "--conf", "spark.ui.enabled=false",
            "--executor-memory", "1g",
            "--total-executor-cores", "2",
            str(REPO / "jobs" / "run.py"),
            "pipeline",
            str(landing), str(cluster_out), "--profile", "cluster",
        ],
        cwd=driver_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert KEY not in result.stdout + result.stderr

    local_out = tmp_path / "local-out"
    settings = make_settings()
    key = PseudonymKey(KEY.encode(), "test")
    run_ingest(Run(spark, settings, str(local_out), str(landing), key))
    run_features(Run(spark, settings, str(local_out)))

    for name, key_columns in (
        ("metadata", ("sop_instance_uid",)),
        ("quarantine", ("path", "stage")),
        ("features", ("sop_instance_uid", "frame")),
    ):
        remote, local = table(cluster_out, name, key_columns), table(local_out, name, key_columns)
        assert remote.keys() == local.keys(), name
        for row_key, row in local.items():
            for column, value in row.items():
                other = remote[row_key][column]
                if isinstance(value, float):
                    assert other == pytest.approx(value, rel=1e-9, abs=1e-12), (name, column)
                else:
                    assert other == value, (name, row_key, column)
    reasons = sorted(
        r["reason"] for r in table(cluster_out, "quarantine", ("path", "stage")).values()
    )
    assert "truncated" in reasons and "empty_file" in reasons and "not_dicom" in reasons
