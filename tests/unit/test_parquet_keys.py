"""The Python side of Parquet modular encryption: data keys wrapped under the environment's
master keys as Parquet's local wrapping does, the columns each key encrypts, and a missing or
malformed master key refused by name."""

from __future__ import annotations

import base64
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from medspark.config import EncryptionSettings
from medspark.parquet_keys import (
    EnvironmentKeys,
    MasterKeyMissing,
    column_keys,
    file_decryption,
    file_encryption,
)

FOOTER, IDENTIFIERS = b"f" * 16, b"k" * 32


@pytest.fixture
def master_keys(monkeypatch):
    monkeypatch.setenv("MEDSPARK_PARQUET_KEY_FOOTER", base64.b64encode(FOOTER).decode())
    monkeypatch.setenv("MEDSPARK_PARQUET_KEY_IDENTIFIERS", base64.b64encode(IDENTIFIERS).decode())


def test_a_wrapped_key_is_sealed_under_its_master_key_and_named_by_it(master_keys):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    keys = EnvironmentKeys(None)
    wrapped = keys.wrap_key(b"d" * 16, "identifiers")
    found = json.loads(wrapped)
    assert found["masterKeyVersion"] == "NO_VERSION"
    sealed = base64.b64decode(found["encryptedKey"])
    assert AESGCM(IDENTIFIERS).decrypt(sealed[:12], sealed[12:], b"identifiers") == b"d" * 16
    assert keys.unwrap_key(wrapped, "identifiers") == b"d" * 16
    with pytest.raises(Exception):  # noqa: B017 - the tag does not match under another name
        keys.unwrap_key(wrapped, "footer")


def test_a_missing_or_malformed_master_key_is_refused_by_name(monkeypatch):
    monkeypatch.delenv("MEDSPARK_PARQUET_KEY_IDENTIFIERS", raising=False)
    with pytest.raises(MasterKeyMissing, match="MEDSPARK_PARQUET_KEY_IDENTIFIERS"):
        EnvironmentKeys(None).wrap_key(b"d" * 16, "identifiers")
    monkeypatch.setenv("MEDSPARK_PARQUET_KEY_IDENTIFIERS", base64.b64encode(b"short").decode())
    with pytest.raises(MasterKeyMissing, match="16, 24 or 32"):
        EnvironmentKeys(None).wrap_key(b"d" * 16, "identifiers")


def test_identifier_columns_go_under_their_key_and_named_columns_under_theirs():
    on = EncryptionSettings(enabled=True, column_keys={"extra": ["modality", "missing"]})
    columns = ["patient_id", "modality", "stage", "rows"]
    assert column_keys(on, ("patient_id", "stage"), columns, partitions=("stage",)) == {
        "extra": ["modality"],
        "identifiers": ["patient_id"],
    }
    assert column_keys(EncryptionSettings(), ("patient_id",), columns) == {}
    assert column_keys(None, ("patient_id",), columns) == {}


def test_a_file_opens_with_the_keys_and_its_identifiers_stay_closed_without(master_keys, tmp_path):
    encryption = EncryptionSettings(enabled=True)
    table = pa.table({"patient_id": ["PSEUDO-7"], "modality": ["CT"]})
    path = tmp_path / "part.parquet"
    pq.write_table(
        table,
        path,
        encryption_properties=file_encryption(encryption, {"identifiers": ["patient_id"]}),
    )
    assert b"PSEUDO-7" not in path.read_bytes()
    with pytest.raises(Exception):  # noqa: B017 - pyarrow's own error for an encrypted footer
        pq.read_table(path)
    assert pq.read_table(path, decryption_properties=file_decryption()).equals(table)
