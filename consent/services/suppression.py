"""Suppression: erased identifiers, kept only as keyed hashes, block later data.

The hash is an HMAC-SHA256 of ``type:normalized value`` keyed with a secret
derived from ``SECRET_KEY`` (Django's ``salted_hmac``), so the table cannot
be reversed by hashing guessed e-mail addresses without the key. Rotating
``SECRET_KEY`` therefore forgets every suppression: keep the old key in
``SECRET_KEY_FALLBACKS``, which is checked too.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Iterable, Mapping

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from consent.models import DataSubjectRequest, SuppressedMessageCount, Suppression
from core.db.lookups import AnyOf

_SALT = "tributary.consent.suppression"


def identifier_hash(type_name: str, value: str, *, secret: str | None = None) -> str:
    """Keyed hash of one normalized identifier (what ``salted_hmac`` gives, SHA-256)."""
    return _keyed_hash(_derived_key(secret or settings.SECRET_KEY), type_name, value)


@functools.lru_cache(maxsize=8)
def _derived_key(secret: str) -> bytes:
    """The key ``salted_hmac`` derives from the salt and the secret, computed
    once per secret: intake hashes every identifier of every call."""
    return hashlib.sha256(_SALT.encode() + secret.encode()).digest()


def _hashes(identifiers: Iterable[tuple[str, str]]) -> list[str]:
    keys = [_derived_key(s) for s in _secrets()]
    return [_keyed_hash(key, t, v) for t, v in identifiers for key in keys]


def _secrets() -> list[str]:
    return [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]


def _keyed_hash(key: bytes, type_name: str, value: str) -> str:
    return hmac.new(key, f"{type_name}:{value}".encode(), "sha256").hexdigest()


def suppress_identifiers(
    *, identifiers: Iterable[tuple[str, str]], request: DataSubjectRequest | None = None
) -> int:
    """Add the identifiers to the suppression list; returns how many were new."""
    new = 0
    for type_name, value in identifiers:
        _, created = Suppression.objects.get_or_create(
            identifier_hash=identifier_hash(type_name, value), defaults={"request": request}
        )
        new += created
    return new


def is_suppressed(identifiers: Iterable[tuple[str, str]]) -> bool:
    hashes = _hashes(identifiers)
    return bool(hashes) and Suppression.objects.filter(identifier_hash__in=hashes).exists()


def suppressed_indexes(
    *, identifier_sets: Mapping[int, Iterable[tuple[str, str]]], source_ids: Mapping[int, int]
) -> set[int]:
    """Which of a batch of messages name an erased person (one query), counted per source.

    ``identifier_sets`` and ``source_ids`` are keyed by the message's index.
    """
    by_hash: dict[str, set[int]] = {}
    keys = [_derived_key(s) for s in _secrets()]
    for index, identifiers in identifier_sets.items():
        for type_name, value in identifiers:
            for key in keys:
                by_hash.setdefault(_keyed_hash(key, type_name, value), set()).add(index)
    if not by_hash:
        return set()
    found = Suppression.objects.filter(AnyOf("identifier_hash", by_hash)).values_list(
        "identifier_hash", flat=True
    )
    dropped = {index for digest in found for index in by_hash[digest]}
    for index in dropped:
        _count(source_ids[index])
    return dropped


def drop_if_suppressed(*, identifiers: Iterable[tuple[str, str]], source_id: int) -> bool:
    """True (and counted for the source) if any identifier belongs to an erased person.

    Call it at intake, before anything about the message is stored.
    """
    if not is_suppressed(identifiers):
        return False
    _count(source_id)
    return True


def _count(source_id: int) -> None:
    now = timezone.now()
    counted = SuppressedMessageCount.objects.filter(source_id=source_id).update(
        count=F("count") + 1, last_dropped_at=now
    )
    if not counted:
        try:
            with transaction.atomic():
                SuppressedMessageCount.objects.create(
                    source_id=source_id, count=1, last_dropped_at=now
                )
        except IntegrityError:
            SuppressedMessageCount.objects.filter(source_id=source_id).update(
                count=F("count") + 1, last_dropped_at=now
            )
