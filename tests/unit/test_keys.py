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
