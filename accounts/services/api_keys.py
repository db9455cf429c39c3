"""API keys: generated, stored hashed, compared in constant time, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import ApiKey
from accounts.permissions import require_permissions
from accounts.scopes import SCOPES, unknown_scopes
from core.errors import DomainError

KEY_PREFIX = "tk_"
PREFIX_LENGTH = 10
# last_used_at is written at most this often per key, so a busy key does not
# turn every read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# digest -> (monotonic expiry, key): a busy key costs no query per request.
# Only working keys are kept, so unknown keys cannot fill it (it is also capped).
_verified: dict[str, tuple[float, ApiKey]] = {}
_verified_lock = threading.Lock()
_VERIFIED_MAX = 1000
_clock = time.monotonic


class InvalidScopes(DomainError):
    def __init__(self, scopes: tuple[str, ...]) -> None:
        self.scopes = scopes
        known = ", ".join(SCOPES)
        message = f"unknown scope(s): {', '.join(scopes)} (known: {known})"
        super().__init__("unknown_scope", message, "scopes")


def generate_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # 256 bits of randomness: a fast digest is safe and keeps each request cheap.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _clean_scopes(scopes: list[str] | tuple[str, ...]) -> list[str]:
    unknown = unknown_scopes(scopes)
    if unknown:
        raise InvalidScopes(tuple(unknown))
    return [name for name in SCOPES if name in set(scopes)]


@transaction.atomic
def create_api_key(
    *, name: str, scopes: list[str] | tuple[str, ...], created_by=None
) -> tuple[ApiKey, str]:
    """Create a key; returns it with the secret, which is never shown again."""
    cleaned = _clean_scopes(scopes)
    key = generate_key()
    prefix = key[:PREFIX_LENGTH]
    user = get_user_model().objects.create(
        username=f"apikey_{secrets.token_hex(6)}",
        first_name=name[:150],
        last_name="(API key)",
        is_staff=False,
        is_active=False,  # cannot sign in anywhere; it only names the key in the audit trail
    )
    user.set_unusable_password()
    user.save(update_fields=["password"])
    api_key = ApiKey.objects.create(
        name=name,
        prefix=prefix,
        key_hash=hash_key(key),
        scopes=cleaned,
        user=user,
        created_by=created_by,
    )
    return api_key, key


@transaction.atomic
def update_api_key(*, api_key: ApiKey, name: str, scopes: list[str] | tuple[str, ...]) -> ApiKey:
    api_key.name = name
    api_key.scopes = _clean_scopes(scopes)
    api_key.save(update_fields=["name", "scopes"])
    forget_verified_keys()
    return api_key


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey, actor=None) -> bool:
    """Stop the key working at once; returns False if it already was revoked."""
    require_permissions(actor, "accounts.change_apikey", what="revoke API keys")
    if api_key.revoked_at is not None:
        return False
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])
    forget_verified_keys()
    return True


def forget_verified_keys() -> None:
    """Check every key against the database again (this process; others within
    ``TRIBUTARY_API_KEY_CACHE_SECONDS``)."""
    with _verified_lock:
        _verified.clear()


def authenticate_api_key(key: str) -> ApiKey | None:
    """The active key matching this secret, or None; records its use cheaply.

    A working key is remembered in the process for
    ``TRIBUTARY_API_KEY_CACHE_SECONDS``: revoking it (or changing its scopes)
    takes effect at once in the process that did it, and within that time in
    the others.
    """
    if not key or not key.startswith(KEY_PREFIX):
        return None
    digest = hash_key(key)
    now = _clock()
    held = _verified.get(digest)
    if held is not None and held[0] > now:
        _touch(held[1])
        return held[1]
    api_key = _load_key(digest)
    ttl = settings.TRIBUTARY_API_KEY_CACHE_SECONDS
    if api_key is not None and ttl > 0:
        with _verified_lock:
            if len(_verified) >= _VERIFIED_MAX:
                _verified.clear()
            _verified[digest] = (now + ttl, api_key)
    return api_key


def remembered_api_key(key: str) -> ApiKey | None:
    """The key, if this process verified it less than
    ``TRIBUTARY_API_KEY_CACHE_SECONDS`` ago and its last use is recorded
    recently enough that this use needs no write; else None (ask
    ``authenticate_api_key``). Reads no database."""
    if not key.startswith(KEY_PREFIX):
        return None
    held = _verified.get(hash_key(key))
    if held is None or held[0] <= _clock():
        return None
    last_used = held[1].last_used_at
    if last_used is None or timezone.now() - last_used >= LAST_USED_RESOLUTION:
        return None
    return held[1]


def _load_key(digest: str) -> ApiKey | None:
    api_key = ApiKey.objects.select_related("user").filter(key_hash=digest).first()
    if api_key is None or not hmac.compare_digest(api_key.key_hash, digest):
        return None
    if api_key.revoked_at is not None:
        return None
    _touch(api_key)
    return api_key


def _touch(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    # Conditional update: concurrent requests write it once, not once each.
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    ).update(last_used_at=now)
    api_key.last_used_at = now
