"""The Spark settings of Parquet modular encryption: medspark's key-management client and
Parquet's crypto factory (which columns a table encrypts: `tables.encryption_options`)."""

from __future__ import annotations

from medspark.config import EncryptionSettings
from medspark.errors import EnvironmentProblem
from medspark.spark.output import kms


class EncryptionUnavailableError(EnvironmentProblem):
    """Encryption was asked for, but there is no KMS client jar and no JDK to compile one."""


def session_settings(encryption: EncryptionSettings) -> dict[str, str]:
    """Spark settings that load medspark's KMS client and Parquet's crypto factory."""
    if not encryption.enabled:
        return {}
    try:
        jar = kms.kms_jar()
    except kms.JarUnavailable as exc:
        raise EncryptionUnavailableError(
            f"column encryption needs medspark's key-management jar: {exc}",
            hint="install a JDK (apt-get install openjdk-17-jdk-headless) or a medspark wheel "
            "built with one (scripts/build-kms-jar.sh)",
        ) from None
    return {
        "spark.jars": str(jar),
        "spark.hadoop.parquet.crypto.factory.class": (
            "org.apache.parquet.crypto.keytools.PropertiesDrivenCryptoFactory"
        ),
        "spark.hadoop.parquet.encryption.kms.client.class": kms.KMS_CLASS,
        # executor environments show in the UI: keep the master keys out of sight there too
        "spark.redaction.regex": "(?i)secret|password|token|access[.]?key|parquet_key",
    }
