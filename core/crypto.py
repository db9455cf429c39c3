"""The one way to keep a secret the code must read back: Fernet with rotating keys.

Secrets that are only ever compared (API keys, write keys, sign-in tokens)
are stored as SHA-256 digests instead. This helper is for secrets Tributary
has to use in clear, such as the secrets that sign webhooks.

Keys come from ``settings.TRIBUTARY_ENCRYPTION_KEYS`` (the environment
variable of the same name, comma-separated), newest first: the first key
encrypts, every key decrypts (``MultiFernet``). To rotate, put a new key in
front, restart, run ``manage.py rotate_encryption_key`` (it re-encrypts
every stored secret with the new key), then drop the old key.

Models keep such secrets in a ``core.fields.EncryptedTextField``; code that
encrypts something else calls :func:`encrypt` and :func:`decrypt`.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

SETTING = "TRIBUTARY_ENCRYPTION_KEYS"


class DecryptionError(Exception):
    """The value was not encrypted with any configured key (or was altered)."""


def parse_keys(raw: list[str]) -> list[str]:
    """Validate keys read from the environment; the error never quotes a key."""
    for position, key in enumerate(raw, start=1):
        try:
            Fernet(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raise ImproperlyConfigured(
                f"{SETTING}: key {position} is not a Fernet key (32 url-safe base64-encoded "
                f"bytes). Make one with: python -c 'from cryptography.fernet import Fernet; "
                f"print(Fernet.generate_key().decode())'"
            ) from None
    return list(raw)


def development_key(secret_key: str) -> str:
    """The key used when DEBUG is on and no key is configured (never in production)."""
    digest = hashlib.sha256(b"tributary.core.crypto:" + secret_key.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii")


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _keys() -> list[str]:
    keys = getattr(settings, SETTING, None)
    if not keys:
        raise ImproperlyConfigured(
            f"{SETTING} is not set: secrets cannot be encrypted or read. Set it to one or "
            f"more comma-separated Fernet keys (newest first)."
        )
    return keys


def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key.encode("ascii")) for key in _keys()])


def encrypt(text: str) -> str:
    """Encrypt with the newest key; the token is url-safe ASCII."""
    return _fernet().encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeEncodeError):
        raise DecryptionError(
            f"cannot decrypt: no key in {SETTING} matches (was a key removed too early?)"
        ) from None


def reencrypt(token: str) -> str | None:
    """The token under the newest key, or None when it already is."""
    try:
        Fernet(_keys()[0].encode("ascii")).decrypt(token.encode("ascii"))
        return None
    except InvalidToken:
        pass
    try:
        return _fernet().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken:
        raise DecryptionError(f"cannot re-encrypt: no key in {SETTING} matches") from None


def is_development_key_in_use() -> bool:
    keys = getattr(settings, SETTING, None) or []
    return bool(keys) and keys[0] == development_key(settings.SECRET_KEY)
