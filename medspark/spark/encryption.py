"""Parquet modular encryption of chosen columns, through Spark's own Parquet settings."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from medspark.config import EncryptionSettings

KMS_JAR = Path(__file__).resolve().parents[1] / "java" / "medspark-kms.jar"
KMS_CLASS = "org.medspark.crypto.EnvironmentKmsClient"


class EncryptionUnavailableError(RuntimeError):
    """Encryption was asked for but the KMS client jar was not built (no JDK at install)."""


def session_settings(encryption: EncryptionSettings) -> dict[str, str]:
    """Spark settings that load medspark's KMS client and Parquet's crypto factory."""
    if not encryption.enabled:
        return {}
    if not KMS_JAR.is_file():
        raise EncryptionUnavailableError(
            f"{KMS_JAR} is missing: run scripts/build-kms-jar.sh (needs a JDK) to encrypt columns"
        )
    return {
        "spark.jars": str(KMS_JAR),
        "spark.hadoop.parquet.crypto.factory.class": (
            "org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory"
        ),
        "spark.hadoop.parquet.encryption.kms.client.class": KMS_CLASS,
        # executor environments show in the UI: keep the master keys out of sight there too
        "spark.redaction.regex": "(?i)secret|password|token|access[.]?key|parquet_key",
    }


def write_options(
    encryption: EncryptionSettings | None, schema: pa.Schema | Sequence[str]
) -> dict[str, str]:
    """Write options that encrypt the configured columns a table (an Arrow schema, or a
    DataFrame's column names) has, and its footer."""
    if encryption is None or not encryption.enabled:
        return {}
    names = schema.names if isinstance(schema, pa.Schema) else list(schema)
    groups = []
    for key, columns in encryption.column_keys.items():
        present = [c for c in columns if c in names]
        if present:
            groups.append(f"{key}:{','.join(present)}")
    if not groups:
        return {}
    return {
        "parquet.encryption.column.keys": ";".join(groups),
        "parquet.encryption.footer.key": encryption.footer_key,
    }
