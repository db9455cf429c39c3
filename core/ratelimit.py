"""Rate limits counted in Django's cache: DRF's sliding log, one round trip on Redis.

A limit of ``limit`` requests per ``period`` seconds remembers the times of
the requests allowed in the last ``period`` seconds (refused ones are not
counted), as DRF's ``SimpleRateThrottle`` does: a request is refused while
``limit`` of them are that recent, and may retry when the oldest leaves.

DRF kept the times as one pickled list in one cache entry, read and
rewritten on every request (two round trips, up to ``limit`` floats each
way, and two processes could both read, both append, one write lost). On
``core.cache.RedisCache`` the log is a sorted set and the check-and-record
one Lua script: one round trip, atomic across every process. Other caches
(local memory in development and tests) keep DRF's list.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.core.cache import caches

from core.cache import RedisCache, alog_request_and_get


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after: int = 0  # whole seconds until a request would be allowed, when refused


def hit(name: str, *, limit: int, period: int, now: float | None = None) -> Verdict:
    """Record one request of ``name`` if fewer than ``limit`` were allowed in the
    last ``period`` seconds."""
    now = time.time() if now is None else now
    key = _log_key(name)
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        oldest = backend.log_request(key, now=now, period=period, limit=limit)
    else:
        oldest = _log_in_list(backend, key, now=now, period=period, limit=limit)
    return _verdict(oldest, now=now, period=period)


async def ahit_and_get(name: str, *, limit: int, period: int, key: str) -> tuple[Verdict, object]:
    """``hit``, and the default cache's entry ``key`` read in the same round trip;
    on the event loop, with ``core.cache.RedisCache`` as the default cache only."""
    now = time.time()
    oldest, value = await alog_request_and_get(
        _log_key(name), key, now=now, period=period, limit=limit
    )
    return _verdict(oldest, now=now, period=period), value


def _log_key(name: str) -> str:
    return f"rate:{name}"


def _verdict(oldest: float | None, *, now: float, period: int) -> Verdict:
    if oldest is None:
        return Verdict(allowed=True)
    return Verdict(allowed=False, retry_after=max(1, math.ceil(oldest + period - now)))


def _log_in_list(backend, key: str, *, now: float, period: int, limit: int) -> float | None:
    times = [t for t in backend.get(key, []) if t > now - period]  # oldest first
    if len(times) >= limit:
        return times[0]
    times.append(now)
    backend.set(key, times, period)
    return None
