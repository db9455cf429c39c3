"""What profile documents depend on besides the profile: re-read every few seconds.

Purposes (their verdicts are in each document), segments (names, the
``personalize`` flag) and computed-trait definitions change rarely, in the
admin. Each process keeps them for ``TRIBUTARY_WRITE_KEY_CACHE_SECONDS``
(as it keeps write keys), and their fingerprint is part of every cached
document, so an edit reaches every answer within that time without a query
per request.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass

from django.conf import settings

from consent.models import Purpose
from segments.models import ComputedTrait, Segment


@dataclass(frozen=True)
class Config:
    fingerprint: str
    personalized_segments: frozenset[int]  # ids of active segments with ``personalize``


_lock = threading.Lock()
_cached: tuple[float, Config] | None = None


def current_config() -> Config:
    global _cached
    now = time.monotonic()
    held = _cached
    if held is not None and held[0] > now:
        return held[1]
    config = _load()
    with _lock:
        _cached = (now + settings.TRIBUTARY_WRITE_KEY_CACHE_SECONDS, config)
    return config


def remembered_config() -> Config | None:
    """The config if this process read it recently enough, else None (no query)."""
    held = _cached
    if held is not None and held[0] > time.monotonic():
        return held[1]
    return None


def forget_config() -> None:
    """Re-read at the next request (tests, and the admin after an edit in this process)."""
    global _cached
    _cached = None


def _load() -> Config:
    purposes = list(
        Purpose.objects.order_by("pk").values_list("pk", "code", "name", "legal_basis", "is_active")
    )
    segments = list(
        Segment.objects.order_by("pk").values_list("pk", "name", "is_active", "personalize")
    )
    computed = list(ComputedTrait.objects.order_by("pk").values_list("pk", "name"))
    digest = hashlib.blake2b(
        json.dumps([purposes, segments, computed], default=str).encode(), digest_size=8
    ).hexdigest()
    return Config(
        fingerprint=digest,
        personalized_segments=frozenset(pk for pk, _n, active, flag in segments if active and flag),
    )
