import re

import pytest

from medspark.dicom.keys import MissingKeyError, PseudonymKey, load_key

UID_PATTERN = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$")


def test_uid_pseudonyms_are_valid_stable_and_keyed():
    key_a = PseudonymKey(b"a" * 32, "test")
    key_b = PseudonymKey(b"b" * 32, "test")
    uid = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    first = key_a.uid(uid)
    assert first == key_a.uid(uid)
    assert first != key_b.uid(uid)
    assert first != key_a.uid(uid + "1")
    assert first.startswith("2.25.")
    assert len(first) <= 64
    assert UID_PATTERN.match(first)


def test_identifier_pseudonyms_do_not_contain_the_input():
    key = PseudonymKey(b"k" * 32, "test")
    pseudonym = key.identifier("PAT-0001", "patient")
    assert "PAT" not in pseudonym and "0001" not in pseudonym
    assert pseudonym == key.identifier(" PAT-0001 ", "patient")
    assert pseudonym != key.identifier("PAT-0001", "path")


def test_date_shift_is_per_patient_within_bounds():
    key = PseudonymKey(b"k" * 32, "test")
    shifts = {key.date_shift_days(f"patient-{n}", 365) for n in range(50)}
    assert all(-365 <= s <= -1 for s in shifts)
    assert len(shifts) > 10
    assert key.date_shift_days("p", 365) == key.date_shift_days("p", 365)
    assert key.date_shift_days("p", 0) == 0


def test_repr_never_shows_the_secret():
    key = PseudonymKey(b"super-secret-value-123", "test")
    assert "super-secret" not in repr(key)


def test_key_sources(monkeypatch, tmp_path):
    monkeypatch.delenv("MEDSPARK_PSEUDONYM_KEY", raising=False)
    with pytest.raises(MissingKeyError):
        load_key()
    throwaway = load_key(allow_throwaway=True)
    assert throwaway.throwaway and len(throwaway.secret) == 32

    key_file = tmp_path / "key"
    key_file.write_text("file-secret-0123456789\n")
    assert load_key(key_file=str(key_file)).secret == b"file-secret-0123456789"

    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", "env-secret-0123456789")
    from_env = load_key(key_file=str(key_file))
    assert from_env.secret == b"env-secret-0123456789" and not from_env.throwaway

    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", "short")
    with pytest.raises(MissingKeyError):
        load_key()


def test_sealed_paths_open_only_with_the_same_key():
    from medspark.dicom.keys import seal, unseal

    key = PseudonymKey(b"k" * 32, "test")
    token = seal(key, "/pacs/Doe_John/IM1")
    assert "Doe_John" not in token and token != seal(key, "/pacs/Doe_John/IM1")  # random nonce
    assert unseal(key, token) == "/pacs/Doe_John/IM1"
    with pytest.raises(ValueError):
        unseal(PseudonymKey(b"o" * 32, "other"), token)


# Known answers computed here with hmac and hashlib, independently of PseudonymKey: the
# derivations are HMAC-SHA-256 over "purpose NUL value".
SECRET = b"known-answer-secret-0123456789"


def hmac_digest(purpose: str, value: str) -> bytes:
    import hashlib
    import hmac

    return hmac.new(SECRET, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()


def test_derivations_match_hmac_sha256_known_answers():
    key = PseudonymKey(SECRET, "test")
    uid = "1.2.840.113619.2.1.1.1"
    assert key.uid(uid) == "2.25." + str(int.from_bytes(hmac_digest("uid", uid)[:16], "big"))
    assert key.uid(f" {uid} ") == key.uid(uid)
    assert key.identifier("PAT-1", "patient") == hmac_digest("patient", "PAT-1").hex()[:24].upper()
    assert key.identifier("PAT-1") == hmac_digest("id", "PAT-1").hex()[:24].upper()
    number = int.from_bytes(hmac_digest("date-shift", "PAT-1")[:8], "big")
    assert key.date_shift_days("PAT-1", 365) == -(1 + number % 365)
    assert key.date_shift_days("PAT-1", 1) == -1
    assert key.date_shift_days("PAT-1", -5) == 0


def test_sealing_uses_aes_gcm_with_a_key_derived_for_paths():
    import base64

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from medspark.dicom.keys import seal, unseal

    key = PseudonymKey(SECRET, "test")
    token = seal(key, "/pacs/a b/IM1")
    assert token.startswith("sealed:v1:")
    raw = base64.urlsafe_b64decode(token[len("sealed:v1:") :])
    aes = AESGCM(hmac_digest("path-seal", "aes-256-gcm"))
    assert aes.decrypt(raw[:12], raw[12:], None) == b"/pacs/a b/IM1"
    assert len(raw) == 12 + len(b"/pacs/a b/IM1") + 16
    with pytest.raises(ValueError, match="not a sealed token"):
        unseal(key, "plain:" + token)
    damaged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(ValueError, match="another key, or damaged"):
        unseal(key, damaged)


@pytest.mark.parametrize(
    "secret,accepted",
    [
        (b"0123456789abcdef", True),  # 16 bytes, 16 different: the least accepted
        (b"0123456789abcde", False),  # 15 bytes
        (b" 0123456789abcde ", False),  # white space does not count
        (b"abcdefgh" * 2, True),  # 8 different characters
        (b"abcdefg" * 3, False),  # 7 different characters, 21 bytes
    ],
)
def test_key_strength_boundaries(secret, accepted, monkeypatch):
    monkeypatch.setenv("MEDSPARK_PSEUDONYM_KEY", secret.decode())
    if accepted:
        assert load_key().secret == secret
    else:
        with pytest.raises(MissingKeyError, match="pseudonym key from environment variable"):
            load_key()


def test_key_file_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MEDSPARK_PSEUDONYM_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="key file not found"):
        load_key(key_file=str(tmp_path / "missing"))
    with pytest.raises(MissingKeyError, match="key file not found"):
        load_key(key_file=str(tmp_path))  # a folder is no key file
    custom = tmp_path / "key"
    custom.write_text("  custom-secret-0123456789  \n")
    monkeypatch.setenv("OTHER_KEY_VARIABLE", "other-secret-0123456789")
    assert load_key("OTHER_KEY_VARIABLE").origin == "environment variable OTHER_KEY_VARIABLE"
    loaded = load_key("UNSET_VARIABLE_FOR_TEST", key_file=str(custom))
    assert loaded.secret == b"custom-secret-0123456789"
    assert loaded.origin == f"key file {custom}" and not loaded.throwaway
    throwaway = load_key("UNSET_VARIABLE_FOR_TEST", allow_throwaway=True)
    assert throwaway.throwaway and throwaway.origin.startswith("throwaway")
