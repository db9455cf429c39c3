"""Write keys: generated, stored hashed, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import transaction
from django.utils import timezone

from accounts.permissions import require_permissions
from customers.models import Source

WRITE_KEY_PREFIX_LENGTH = 8


def generate_write_key() -> str:
    return "wk_" + secrets.token_urlsafe(32)


def hash_write_key(key: str) -> str:
    # Keys carry 256 bits of randomness, so a fast digest is safe here and
    # keeps authentication cheap on the ingestion hot path.
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@transaction.atomic
def create_source(*, name: str, kind: str, description: str = "") -> tuple[Source, str]:
    """Create a source; returns it with its write key (shown only now)."""
    key = generate_write_key()
    source = Source.objects.create(
        name=name,
        kind=kind,
        description=description,
        write_key_prefix=key[:WRITE_KEY_PREFIX_LENGTH],
        write_key_hash=hash_write_key(key),
    )
    return source, key


@transaction.atomic
def rotate_write_key(*, source: Source, actor=None) -> str:
    """Replace the source's key; the old one stops working at once."""
    require_permissions(actor, "customers.change_source", what="rotate write keys")
    key = generate_write_key()
    source.write_key_prefix = key[:WRITE_KEY_PREFIX_LENGTH]
    source.write_key_hash = hash_write_key(key)
    source.write_key_rotated_at = timezone.now()
    source.save(update_fields=["write_key_prefix", "write_key_hash", "write_key_rotated_at"])
    return key


def authenticate_write_key(key: str) -> Source | None:
    """The enabled source whose key this is, or None."""
    if not key:
        return None
    digest = hash_write_key(key)
    source = Source.objects.filter(write_key_hash=digest).first()
    if source is None or not hmac.compare_digest(source.write_key_hash, digest):
        return None
    if not source.enabled:
        return None
    return source
