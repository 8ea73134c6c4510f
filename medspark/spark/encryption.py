"""Parquet modular encryption of chosen columns, through Spark's own Parquet settings."""

from __future__ import annotations

from pathlib import Path

from medspark.config import EncryptionSettings
from medspark.errors import EnvironmentProblem

KMS_JAR = Path(__file__).resolve().parents[1] / "java" / "medspark-kms.jar"
KMS_CLASS = "org.medspark.crypto.EnvironmentKmsClient"


class EncryptionUnavailableError(EnvironmentProblem):
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
