"""Parquet modular encryption of the files a task writes with pyarrow, interchangeable with
the files Spark's writer encrypts: the same master keys (MEDSPARK_PARQUET_KEY_<NAME>, base64
of a 16, 24 or 32 byte AES key) and the same local wrapping of data keys (AES-GCM under the
master key, the key's name as associated data) as medspark's Java KMS client, so either
reader opens either writer's files.

Which columns a table encrypts with which key (`column_keys`) is decided here for both writers.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Sequence
from functools import lru_cache

import pyarrow.parquet.encryption as pe
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from medspark.config import EncryptionSettings
from medspark.errors import EnvironmentProblem

KEY_PREFIX = "MEDSPARK_PARQUET_KEY_"
_NO_VERSION = "NO_VERSION"  # Parquet's local wrapping keeps no master key versions
_NONCE_BYTES = 12


class MasterKeyMissing(EnvironmentProblem):
    """A master key a file needs is not in this process's environment (or is no AES key)."""


def master_key(name: str) -> bytes:
    """The master key `name` from the environment."""
    variable = KEY_PREFIX + name.upper()
    value = os.environ.get(variable, "").strip()
    if not value:
        raise MasterKeyMissing(
            f"master key {name} is not set in {variable}",
            hint="set it (base64 of a 16, 24 or 32 byte key) on the driver and every executor",
        )
    try:
        key = base64.b64decode(value, validate=True)
    except binascii.Error:
        key = b""
    if len(key) not in (16, 24, 32):
        raise MasterKeyMissing(f"master key {name} in {variable} is not 16, 24 or 32 bytes")
    return key


class EnvironmentKeys(pe.KmsClient):
    """pyarrow's KMS client over the environment's master keys, wrapping data keys locally."""

    def __init__(self, _config: pe.KmsConnectionConfig) -> None:
        pe.KmsClient.__init__(self)

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(master_key(master_key_identifier)).encrypt(
            nonce, key_bytes, master_key_identifier.encode()
        )
        return json.dumps(
            {
                "masterKeyVersion": _NO_VERSION,
                "encryptedKey": base64.b64encode(nonce + sealed).decode(),
            }
        )

    def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
        sealed = base64.b64decode(json.loads(wrapped_key)["encryptedKey"])
        return AESGCM(master_key(master_key_identifier)).decrypt(
            sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:], master_key_identifier.encode()
        )


def column_keys(
    encryption: EncryptionSettings | None,
    identifiers: Sequence[str],
    columns: Sequence[str],
    partitions: Sequence[str] = (),
) -> dict[str, list[str]]:
    """The columns of a file to encrypt, by master key: every identifier column under the
    identifier key, the profile's further columns under theirs (partition columns live in
    folder names, never in a file); empty when encryption is off or nothing is to encrypt."""
    if encryption is None or not encryption.enabled:
        return {}
    groups: dict[str, list[str]] = {}
    named = {c for names in encryption.column_keys.values() for c in names}
    for key, names in encryption.column_keys.items():
        groups[key] = [c for c in names if c in columns and c not in partitions]
    chosen = [c for c in identifiers if c in columns and c not in named and c not in partitions]
    groups.setdefault(encryption.identifier_key, []).extend(chosen)
    return {key: names for key, names in groups.items() if names}


@lru_cache(maxsize=1)
def _factory() -> pe.CryptoFactory:
    return pe.CryptoFactory(EnvironmentKeys)


def file_encryption(
    encryption: EncryptionSettings, keys: dict[str, list[str]]
) -> pe.FileEncryptionProperties:
    """What pyarrow encrypts one file with: each data key fresh, wrapped twice (as Spark's
    writer does by default), the footer encrypted with the footer key."""
    return _factory().file_encryption_properties(
        pe.KmsConnectionConfig(),
        pe.EncryptionConfiguration(footer_key=encryption.footer_key, column_keys=keys),
    )


def file_decryption() -> pe.FileDecryptionProperties:
    """What pyarrow reads an encrypted file with, either writer's."""
    return _factory().file_decryption_properties(
        pe.KmsConnectionConfig(), pe.DecryptionConfiguration()
    )
