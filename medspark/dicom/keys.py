"""The secret pseudonym key: where it comes from, and the keyed derivations made with it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from medspark.errors import ConfigurationError

MIN_KEY_BYTES = 16
MIN_DISTINCT_BYTES = 8


class MissingKeyError(ConfigurationError):
    """No pseudonym key was configured and no throwaway key was allowed."""


@dataclass(frozen=True)
class PseudonymKey:
    """Secret bytes for keyed pseudonyms. Its repr never shows the secret."""

    secret: bytes = field(repr=False)
    origin: str
    throwaway: bool = False

    def _digest(self, purpose: str, value: str) -> bytes:
        return hmac.new(self.secret, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()

    def uid(self, value: str) -> str:
        """A valid DICOM UID in the `2.25.` form, the same for the same UID and key."""
        return "2.25." + str(int.from_bytes(self._digest("uid", value.strip())[:16], "big"))

    def identifier(self, value: str, purpose: str = "id") -> str:
        """A 24-character pseudonym for an identifier such as a patient ID."""
        return self._digest(purpose, value.strip()).hex()[:24].upper()

    def date_shift_days(self, patient_key: str, max_days: int) -> int:
        """A per-patient shift in [-max_days, -1] (0 when max_days is 0), stable across runs."""
        if max_days <= 0:
            return 0
        number = int.from_bytes(self._digest("date-shift", patient_key)[:8], "big")
        return -(1 + number % max_days)


_SEAL_PREFIX = "sealed:v1:"


def _sealing_key(key: PseudonymKey) -> bytes:
    return key._digest("path-seal", "aes-256-gcm")


def seal(key: PseudonymKey, text: str) -> str:
    """`text` encrypted and authenticated with a key derived from the pseudonym key (AES-GCM)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    nonce = secrets.token_bytes(12)
    body = AESGCM(_sealing_key(key)).encrypt(nonce, text.encode(), None)
    return _SEAL_PREFIX + base64.urlsafe_b64encode(nonce + body).decode()


def unseal(key: PseudonymKey, token: str) -> str:
    """The text `seal` sealed; raises ValueError for another key or a damaged token."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if not token.startswith(_SEAL_PREFIX):
        raise ValueError("not a sealed token")
    raw = base64.urlsafe_b64decode(token[len(_SEAL_PREFIX) :])
    try:
        return AESGCM(_sealing_key(key)).decrypt(raw[:12], raw[12:], None).decode()
    except InvalidTag:
        raise ValueError("the token was sealed with another key, or damaged") from None


def load_key(
    env_name: str = "MEDSPARK_PSEUDONYM_KEY",
    key_file: str | None = None,
    allow_throwaway: bool = False,
) -> PseudonymKey:
    """The key from the environment, else from a file, else a random throwaway if allowed."""
    from_env = os.environ.get(env_name)
    if from_env:
        secret = from_env.encode()
        origin = f"environment variable {env_name}"
    elif key_file:
        path = Path(key_file).expanduser()
        if not path.is_file():
            raise MissingKeyError(f"pseudonym key file not found: {path}")
        try:
            secret = path.read_bytes().strip()
        except OSError as exc:
            raise MissingKeyError(
                f"pseudonym key file cannot be read: {path} ({exc.strerror or exc})"
            ) from None
        origin = f"key file {path}"
    elif allow_throwaway:
        return PseudonymKey(secrets.token_bytes(32), "throwaway (random, not kept)", True)
    else:
        raise MissingKeyError(
            f"no pseudonym key: set {env_name} or deid.key_file in the profile, "
            "or pass --throwaway-key for a one-off run whose pseudonyms cannot be linked later."
        )
    check_key_strength(secret, origin)
    return PseudonymKey(secret, origin)


def check_key_strength(secret: bytes, origin: str) -> None:
    """Refuse keys that are short, blank or one pattern repeated (MissingKeyError)."""
    meaningful = secret.strip()
    if len(meaningful) < MIN_KEY_BYTES:
        raise MissingKeyError(
            f"the pseudonym key from {origin} is shorter than {MIN_KEY_BYTES} bytes "
            "(white space not counted)"
        )
    if len(set(meaningful)) < MIN_DISTINCT_BYTES:
        raise MissingKeyError(
            f"the pseudonym key from {origin} has fewer than {MIN_DISTINCT_BYTES} different "
            "characters: use a random secret (e.g. `openssl rand -base64 32`)"
        )
