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
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from medspark.spark.output.kms import PACKAGED_JAR as KMS_JAR
from tests.conftest import DOCUMENTED_IDENTIFIERS, needs

pytestmark = pytest.mark.spark

# Both child scripts start from these settings: patient_id encrypted, no UI, no settle time.
ENCRYPTED_SETTINGS = textwrap.dedent(
    """
    import sys
    from medspark.config import EncryptionSettings, load_settings
    from medspark.spark.session import build_session

    base = load_settings("local")
    encryption = EncryptionSettings(enabled=True)
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
    import pyarrow as pa
    from medspark.schemas import TableSpec
    from medspark.spark.output.tables import read_table, write_table

    spec = TableSpec("patients", 1, ("patient_id",),
                     pa.schema([("patient_id", pa.string()), ("modality", pa.string())]))
    mode, path = sys.argv[1], sys.argv[2]
    if mode == "write":
        frame = spark.createDataFrame([("PSEUDO-1", "CT"), ("PSEUDO-2", "MR")],
                                      "patient_id string, modality string")
        write_table(frame, "unused", spec, encryption, to=path)
    if mode == "write_part":  # as a task writes its share of a table, with pyarrow
        from medspark.spark.output.tables import write_part
        rows = pa.table({"patient_id": ["PSEUDO-1", "PSEUDO-2"], "modality": ["CT", "MR"]})
        write_part(path, spec, "part-00000-0.parquet", rows, encryption)
    rows = sorted(tuple(r) for r in read_table(spark, "unused", spec, at=path).collect())
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


EVERY_JOB = textwrap.dedent(
    """
    import json, sys
    from pyspark.sql import SparkSession
    from medspark.cli import main

    images, landing, labels, root = sys.argv[1:5]
    on = ["--set", "deid.encryption.enabled=true", "--set", "spark.settings.spark.ui.enabled=false",
          "--set", "etl.settle_seconds=0", "--set", "features.keypoints=false"]
    out, single, etl = f"{root}/out", f"{root}/single", f"{root}/etl"
    codes = {}
    codes["pipeline"] = main(["pipeline", images, out, "--labels", labels, *on])
    codes["ingest"] = main(["ingest", images, single, *on])
    codes["features"] = main(["features", single, *on])
    codes["volumes"] = main(["volumes", out, *on])
    codes["train"] = main(["train", out, "--labels", labels, "--model", f"{root}/model", *on])
    codes["predict"] = main(["predict", out, "--model", f"{root}/model",
                             "--aggregate", "study,patient", *on])
    codes["export"] = main(["export", out, f"{root}/dest", *on])
    spark = SparkSession.getActiveSession()
    images_ = spark.read.parquet(f"{out}/metadata").filter("modality in ('CT', 'MR')")
    fixed, moving = sorted(r[0] for r in images_.select("sop_instance_uid").collect())[:2]
    codes["register"] = main(["register", out, "--fixed", fixed, "--moving", moving, *on])
    codes["report"] = main(["report", out, *on])
    codes["etl"] = main(["etl", landing, etl, *on])
    codes["compact"] = main(["compact", etl, *on])
    from medspark.spark.output.current import current_tables
    current = current_tables(spark, etl)  # etl's tables read through their Delta logs
    tables = {}
    for folder in (out, single, etl):
        for name in ("metadata", "quarantine", "features", "volumes", "predictions",
                     "predictions_study", "predictions_patient", "exports", "audit"):
            try:
                if folder == etl and name in current:
                    tables[f"{folder}/{name}"] = current[name].count()
                else:
                    tables[f"{folder}/{name}"] = spark.read.parquet(f"{folder}/{name}").count()
            except Exception as exc:
                tables[f"{folder}/{name}"] = type(exc).__name__
    patients = sorted({r[0] for r in spark.read.parquet(f"{out}/metadata")
                       .select("patient_id").collect()})
    identifiers = sorted({value for name in ("metadata", "features")
                          for row in current[name].select(
                              "patient_id", "study_instance_uid", "series_instance_uid",
                              "sop_instance_uid").collect()
                          for value in row if value})
    print("RESULT", json.dumps({"codes": codes, "tables": tables, "patients": patients,
                                "etl_identifiers": identifiers}))
    """
)


MASTER_KEYS = {"footer": b"f" * 16, "identifiers": b"k" * 16}  # as _env sets them


def test_the_docs_promise_these_identifier_columns():
    page = (Path(__file__).parents[2] / "docs" / "deidentification.md").read_text()
    section = page[page.index("**Column encryption.**") :][:800]
    assert all(f"`{column}`" in section for column in DOCUMENTED_IDENTIFIERS)


def _decryption(known: set[str]):
    """pyarrow decryption properties with a KMS client that unwraps, as the project's
    EnvironmentKmsClient (Parquet's local wrapping: AES-GCM under the master key, its name as
    AAD) does, only the master keys named in `known`."""
    import pyarrow.parquet.encryption as pe
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    class Keys(pe.KmsClient):
        def __init__(self, _config):
            pe.KmsClient.__init__(self)

        def wrap_key(self, key_bytes, master_key_identifier):
            raise NotImplementedError("reading only")

        def unwrap_key(self, wrapped_key, master_key_identifier):
            if master_key_identifier not in known:
                raise PermissionError(f"no master key {master_key_identifier}")
            blob = base64.b64decode(json.loads(wrapped_key)["encryptedKey"])
            key = AESGCM(MASTER_KEYS[master_key_identifier])
            return key.decrypt(blob[:12], blob[12:], master_key_identifier.encode())

    factory = pe.CryptoFactory(Keys)
    return factory.file_decryption_properties(
        pe.KmsConnectionConfig(), pe.DecryptionConfiguration()
    )


def _reads(opened: pq.ParquetFile, column: str) -> bool:
    try:
        opened.read(columns=[column])
    except Exception:  # pyarrow raises its own error types for a key it cannot have
        return False
    return True


def test_a_file_a_task_writes_is_encrypted_as_sparks_and_read_by_spark(tmp_path):
    """pyarrow's writer in a task uses the same keys and wrapping as Spark's: Spark reads the
    file with the keys and fails without them, and the footer key alone opens no identifier."""
    needs(KMS_JAR.is_file(), "medspark-kms.jar (scripts/install.sh builds it)")
    table = str(tmp_path / "task-written")
    written = run("write_part", table, with_keys=True)
    assert written.returncode == 0, written.stderr[-3000:]
    assert "('PSEUDO-1', 'CT'), ('PSEUDO-2', 'MR')" in written.stdout
    part = Path(table) / "part-00000-0.parquet"
    assert b"PSEUDO-1" not in part.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - pyarrow raises its own error types here
        pq.read_table(part)
    opened = pq.ParquetFile(part, decryption_properties=_decryption({"footer"}))
    assert not _reads(opened, "patient_id") and _reads(opened, "modality")
    without = run("read", table, with_keys=False)
    assert without.returncode != 0


def test_a_column_encrypted_with_another_key_is_unreadable_with_the_footer_key_alone(tmp_path):
    """The check the every-job test makes per file, shown on a table with one identifier."""
    if not KMS_JAR.is_file():
        pytest.skip("medspark-kms.jar is missing")
    table = str(tmp_path / "encrypted")
    assert run("write", table, with_keys=True).returncode == 0
    for parquet in Path(table).glob("*.parquet"):
        opened = pq.ParquetFile(parquet, decryption_properties=_decryption({"footer"}))
        assert not _reads(opened, "patient_id") and _reads(opened, "modality")
        both = pq.ParquetFile(parquet, decryption_properties=_decryption(set(MASTER_KEYS)))
        assert _reads(both, "patient_id")


def test_every_job_encrypts_every_identifier_column_it_writes(tmp_path):
    """ingest, features, pipeline (with radiomics when regions exist, train, predict, report),
    volumes, train, predict with aggregation, export, register, report, etl and compact, all
    from the command line with encryption on: no Parquet file under OUT that has an identifier
    column can be read without the keys, every table reads back with them, and no pseudonym
    is in any file's bytes."""
    from tests.conftest import pydicom_file
    from tests.spark.test_classify import NPZ, wrap

    needs(KMS_JAR.is_file(), "medspark-kms.jar (scripts/install.sh builds it)")
    needs(NPZ.is_file(), "shared/data/pneumoniamnist")
    labels = wrap(NPZ, tmp_path / "xrays", 12)
    images, landing = tmp_path / "xrays" / "images", tmp_path / "landing"
    landing.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        (images / name).write_bytes(pydicom_file(name).read_bytes())
        (landing / name).write_bytes(pydicom_file(name).read_bytes())
    env = _env(with_keys=True)
    env["MEDSPARK_PSEUDONYM_KEY"] = "encryption-test-key-0123456789"
    result = subprocess.run(
        [sys.executable, "-c", EVERY_JOB, str(images), str(landing), str(labels), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(x for x in result.stdout.splitlines() if x.startswith("RESULT "))
    found = json.loads(line.split(" ", 1)[1])
    assert found["codes"] == {
        "pipeline": 0, "ingest": 0, "features": 0, "volumes": 0, "train": 0, "predict": 0,
        "export": 0, "register": 0, "report": 0, "etl": 0, "compact": 0,
    }  # fmt: skip
    counts = found["tables"]
    every = {f"{tmp_path / 'out'}/{name}" for name in (
        "metadata", "quarantine", "features", "volumes", "predictions", "predictions_study",
        "predictions_patient", "exports", "audit")}  # fmt: skip
    every.discard(f"{tmp_path / 'out'}/quarantine")  # may be empty: every file is readable
    assert {t: counts[t] for t in every if not (isinstance(counts[t], int) and counts[t] > 0)} == {}
    assert counts[f"{tmp_path / 'etl'}/metadata"] == 2
    patients = found["patients"]
    assert len(patients) == 26
    identifiers = found["etl_identifiers"]
    assert len(identifiers) >= 6  # 2 patients, studies, series, instances: pseudonyms and UIDs
    logs = list((tmp_path / "etl").glob("*/_delta_log/*.json"))
    assert len(logs) >= 3
    for entry in logs:
        text = entry.read_bytes()
        assert not any(value.encode() in text for value in identifiers), entry

    encrypted, readable, checked = set(), 0, 0
    footer_only = _decryption(known={"footer"})
    for parquet in tmp_path.rglob("*.parquet"):
        if parquet.is_relative_to(tmp_path / "model"):
            continue  # the fitted Spark ML pipeline, not a table
        data = parquet.read_bytes()
        assert not any(p.encode() in data for p in patients), parquet
        try:
            columns = pq.read_schema(parquet).names
        except Exception:  # pyarrow raises its own error type for an encrypted footer
            encrypted.add("/".join(parquet.relative_to(tmp_path).parts[:2]))
            opened = pq.ParquetFile(parquet, decryption_properties=footer_only)
            names = opened.schema_arrow.names
            for column in set(names) & set(DOCUMENTED_IDENTIFIERS):
                assert not _reads(opened, column), (parquet, column)
                checked += 1
            others = [c for c in names if c not in DOCUMENTED_IDENTIFIERS and c != "file"]
            assert any(_reads(opened, c) for c in others), parquet  # the footer key works
            continue
        readable += 1
        assert not set(columns) & set(DOCUMENTED_IDENTIFIERS), parquet
    assert readable > 0  # audit and etl's plan have no identifier column: left readable
    assert checked > 50  # identifier columns found encrypted, file by file
    tables = ("metadata", "features", "volumes", "predictions", "predictions_study",
              "predictions_patient", "exports")  # fmt: skip
    assert encrypted >= {f"out/{t}" for t in tables} | {
        "single/metadata", "single/features", "etl/metadata", "etl/features"}  # fmt: skip
    assert not list(tmp_path.rglob("_staging-*"))
