"""Parquet modular encryption: a table written with medspark's settings is unreadable without
the master keys in the environment and readable with them (each run in its own JVM, since the
KMS client reads the keys from the JVM's environment)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from medspark.spark.encryption import KMS_JAR

pytestmark = pytest.mark.spark

# Both child scripts start from these settings: patient_id encrypted, no UI, no settle time.
ENCRYPTED_SETTINGS = textwrap.dedent(
    """
    import sys
    from medspark.config import EncryptionSettings, load_settings
    from medspark.spark.session import build_session

    base = load_settings("local")
    encryption = EncryptionSettings(enabled=True, column_keys={"identifiers": ["patient_id"]})
    settings = base.model_copy(update={
        "deid": base.deid.model_copy(update={"encryption": encryption}),
        "spark": base.spark.model_copy(update={"settings": {"spark.ui.enabled": "false"}}),
        "etl": base.etl.model_copy(update={"settle_seconds": 0}),
    })
    spark = build_session(settings, "encryption test")
    """
)

SCRIPT = ENCRYPTED_SETTINGS + textwrap.dedent(
    """
    from medspark.schemas import METADATA
    from medspark.spark.encryption import write_options

    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        frame = spark.createDataFrame([("PSEUDO-1", "CT"), ("PSEUDO-2", "MR")],
                                      "patient_id string, modality string")
        options = write_options(encryption, METADATA.schema)
        frame.write.mode("overwrite").options(**options).parquet(path)
    rows = sorted(tuple(r) for r in spark.read.parquet(path).collect())
    print("ROWS", rows)
    spark.stop()
    """
)


def _env(with_keys: bool) -> dict[str, str]:
    """The child's environment: loopback Spark, and the master keys only when asked."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSPARK_PARQUET_KEY_")}
    env["SPARK_LOCAL_IP"] = "127.0.0.1"
    if with_keys:
        env["MEDSPARK_PARQUET_KEY_IDENTIFIERS"] = base64.b64encode(b"k" * 16).decode()
        env["MEDSPARK_PARQUET_KEY_FOOTER"] = base64.b64encode(b"f" * 16).decode()
    return env


def run(mode: str, path: str, with_keys: bool) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, mode, path],
        env=_env(with_keys),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_encrypted_columns_need_the_key(tmp_path):
    if not KMS_JAR.is_file():
        message = "medspark-kms.jar is missing: scripts/install.sh builds it with a JDK's javac"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    table = str(tmp_path / "encrypted")
    written = run("write", table, with_keys=True)
    assert written.returncode == 0, written.stderr[-3000:]
    assert "('PSEUDO-1', 'CT')" in written.stdout

    without = run("read", table, with_keys=False)
    assert without.returncode != 0
    assert "MEDSPARK_PARQUET_KEY_FOOTER" in without.stderr or "KeyAccessDenied" in without.stderr

    with pytest.raises(Exception):  # noqa: B017 - pyarrow raises its own error types here
        pq.read_table(table)
    plain = b"".join(p.read_bytes() for p in (tmp_path / "encrypted").glob("*.parquet"))
    assert b"PSEUDO-1" not in plain

    again = run("read", table, with_keys=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "('PSEUDO-2', 'MR')" in again.stdout


ETL_SCRIPT = ENCRYPTED_SETTINGS + textwrap.dedent(
    """
    import json
    from medspark.dicom.keys import PseudonymKey
    from medspark.spark.current import current_tables
    from medspark.spark.etl import run_etl

    from medspark.spark.compaction import compact
    from medspark.spark.volumes import run_volumes

    landing, out = sys.argv[1], sys.argv[2]
    key = PseudonymKey(b"k" * 32, "test")
    run_etl(spark, settings, landing, out, key)
    compact(spark, settings, out)
    run_volumes(spark, settings, out, key)
    tables = current_tables(spark, out)
    patients = sorted(r[0] for r in tables["metadata"].select("patient_id").collect())
    print("PATIENTS", json.dumps(patients))
    print("FEATURES", tables["features"].count())
    spark.stop()
    """
)


def test_incremental_runs_compaction_and_volumes_encrypt_the_same_columns(tmp_path):
    if not KMS_JAR.is_file():
        pytest.skip("medspark-kms.jar is missing: scripts/install.sh builds it")
    from tests.conftest import pydicom_file

    landing, out = tmp_path / "landing", tmp_path / "out"
    landing.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        (landing / name).write_bytes(pydicom_file(name).read_bytes())
    result = subprocess.run(
        [sys.executable, "-c", ETL_SCRIPT, str(landing), str(out)],
        env=_env(with_keys=True),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    patients = next(line for line in result.stdout.splitlines() if line.startswith("PATIENTS"))
    pseudonyms = json.loads(patients.split(" ", 1)[1])
    assert len(pseudonyms) == 2 and "FEATURES 2" in result.stdout
    for table in ("metadata", "features", "volumes"):  # metadata and features as compacted
        files = list((out / table).rglob("*.parquet"))
        assert files
        with pytest.raises(Exception):  # noqa: B017 - pyarrow raises its own error types here
            pq.read_table(files[0])
        plain = b"".join(p.read_bytes() for p in files)
        assert not any(p.encode() in plain for p in pseudonyms)
