"""Django's Redis cache with one connection pool per process, not one per request.

Django keeps a cache object per thread (``django.core.cache.caches`` is a
thread-local), and under the uvicorn workers every request runs in a thread of
its own (``cdp_site/serving.py``), so the stock backend built a new
``ConnectionPool`` for every request: a TCP connect, redis-py's handshake
(``HELLO``, ``CLIENT SETINFO`` with a package-metadata lookup) and a
``redis.Redis`` object per command — about 3 ms of CPU before the first
``GET``, on every profile read. Here the pools (and one ``redis.Redis`` on
each) live in the process and are shared by every thread; redis-py's pools
are thread-safe and start afresh after a fork.

Settings: ``BACKEND: "core.cache.RedisCache"``, as Django's. It also counts
rate-limit windows in one round trip (``core.ratelimit``), and reads entries
on the event loop (``aget``, ``alog_request``: one ``redis.asyncio`` client
per loop) for the paths that answer without Django's request machinery
(``sources.personalization.warm``).
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import threading

import redis.asyncio
from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.functional import cached_property

_lock = threading.Lock()
_clients: dict[tuple, SharedRedisClient] = {}

# KEYS: the sorted set of one client's recent requests (scored by time).
# ARGV: now, the period, the limit, a unique member for this request. Drops
# requests older than the period; adds this one only if it is allowed. Returns
# {1} or {0, the oldest request's time} (as text: Lua numbers become integers).
_SLIDING_LOG = """
local now, period = tonumber(ARGV[1]), tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - period)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  return {0, oldest[2]}
end
redis.call('ZADD', KEYS[1], now, ARGV[4])
redis.call('EXPIRE', KEYS[1], math.ceil(period))
return {1}
"""


class SharedRedisClient(RedisCacheClient):
    """Django's client, with a ``redis.Redis`` per pool made once instead of per command."""

    def __init__(self, servers, **options):
        super().__init__(servers, **options)
        self._redis: dict[int, object] = {}
        self._scripts: dict[str, object] = {}

    def script(self, source: str):
        """A Lua script, sent by its SHA1 (``EVALSHA``) once the server knows it."""
        script = self._scripts.get(source)
        if script is None:
            script = self._scripts[source] = self.get_client(write=True).register_script(source)
        return script

    def get_client(self, key=None, *, write=False):
        index = self._get_connection_pool_index(write)
        client = self._redis.get(index)
        if client is None:
            with _lock:
                client = self._redis.get(index)
                if client is None:
                    pool = self._pool_class.from_url(self._servers[index], **self._pool_options)
                    client = self._redis[index] = self._client(connection_pool=pool)
        return client


def shared_client(servers: list[str], options: dict) -> SharedRedisClient:
    """The process's client for these servers and options (made on first use)."""
    key = (tuple(servers), repr(sorted(options.items())))
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = SharedRedisClient(servers, **options)
    return client


def _sliding_log_args(now: float, period: int, limit: int) -> list:
    return [repr(now), period, limit, f"{now!r}:{secrets.token_hex(4)}"]


class RedisCache(DjangoRedisCache):
    @cached_property
    def _cache(self):
        return shared_client(self._servers, self._options)

    def log_request(self, key: str, *, now: float, period: int, limit: int) -> float | None:
        """``core.ratelimit``'s check-and-record, atomic and in one round trip:
        None if the request is allowed (and recorded), else the time of the
        oldest request still inside the period."""
        key = self.make_and_validate_key(key)
        client = self._cache.get_client(key, write=True)
        answer = self._cache.script(_SLIDING_LOG)(
            keys=[key], args=_sliding_log_args(now, period, limit), client=client
        )
        return None if answer[0] else float(answer[1])


# Reads on the event loop: the default cache's first server, one client per loop.
_loop_clients: dict[asyncio.AbstractEventLoop, tuple[redis.asyncio.Redis, object]] = {}


@functools.cache
def _default_backend() -> RedisCache | None:
    """The default cache, made once (``caches[...]`` makes one per async context)."""
    backend = caches.create_connection("default")
    return backend if isinstance(backend, RedisCache) else None


@receiver(setting_changed)
def _forget_default_backend(*, setting, **_kwargs) -> None:
    if setting == "CACHES":  # tests
        _default_backend.cache_clear()


def loop_reads_available() -> bool:
    return _default_backend() is not None


def _loop_client() -> tuple[redis.asyncio.Redis, object]:
    loop = asyncio.get_running_loop()
    held = _loop_clients.get(loop)
    if held is None:
        client = redis.asyncio.Redis.from_url(_default_backend()._servers[0])
        held = _loop_clients[loop] = (client, client.register_script(_SLIDING_LOG))
    return held


async def aget(key: str, default=None):
    """``cache.get(key, default)`` of the default (Redis) cache, without blocking the loop."""
    backend = _default_backend()
    client, _script = _loop_client()
    data = await client.get(backend.make_and_validate_key(key))
    return default if data is None else backend._cache._serializer.loads(data)


async def alog_request(key: str, *, now: float, period: int, limit: int) -> float | None:
    """``RedisCache.log_request`` on the event loop (same script, same keys)."""
    _client, script = _loop_client()
    key = _default_backend().make_and_validate_key(key)
    answer = await script(keys=[key], args=_sliding_log_args(now, period, limit))
    return None if answer[0] else float(answer[1])


async def close_loop_client() -> None:
    """Close this loop's client (tests; a worker's lives as long as it does)."""
    held = _loop_clients.pop(asyncio.get_running_loop(), None)
    if held is not None:
        await held[0].aclose()
