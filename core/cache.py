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
on the event loop (``aget``, ``alog_request_and_get``: one ``redis.asyncio``
client per loop) for the paths that answer without Django's request machinery
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

# The sliding log of one client's recent requests, a sorted set scored by time.
# ARGV: now, the period, the limit, a unique member for this request. Drops
# requests older than the period; adds this one only if it is allowed. Returns
# false when allowed, else the oldest request's time (as text: Lua numbers
# become integers).
_LOG_REQUEST = """
local function log_request(key)
  local now, period = tonumber(ARGV[1]), tonumber(ARGV[2])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - period)
  if redis.call('ZCARD', key) >= tonumber(ARGV[3]) then
    return redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  end
  redis.call('ZADD', key, now, ARGV[4])
  redis.call('EXPIRE', key, math.ceil(period))
  return false
end
"""
# KEYS[1]: the log. Returns {1} or {0, the oldest request's time}.
_SLIDING_LOG = (
    _LOG_REQUEST
    + """
local oldest = log_request(KEYS[1])
if oldest then return {0, oldest} end
return {1}
"""
)
# KEYS[1]: the log, KEYS[2]: an entry read in the same round trip. Returns
# {1 or 0, the oldest request's time or nil, the entry or nil}.
_LOG_AND_GET = (
    _LOG_REQUEST
    + """
local oldest = log_request(KEYS[1])
return {oldest and 0 or 1, oldest, redis.call('GET', KEYS[2])}
"""
)


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
        held = _loop_clients[loop] = (client, client.register_script(_LOG_AND_GET))
    return held


async def aget(key: str, default=None):
    """``cache.get(key, default)`` of the default (Redis) cache, without blocking the loop."""
    backend = _default_backend()
    client, _script = _loop_client()
    data = await client.get(backend.make_and_validate_key(key))
    return default if data is None else backend._cache._serializer.loads(data)


async def alog_request_and_get(
    log_key: str, get_key: str, *, now: float, period: int, limit: int
) -> tuple[float | None, object]:
    """``RedisCache.log_request(log_key, ...)`` and ``cache.get(get_key)`` in one
    round trip, on the event loop: (None or the oldest request's time, the value or None)."""
    backend = _default_backend()
    _client, script = _loop_client()
    keys = [backend.make_and_validate_key(log_key), backend.make_and_validate_key(get_key)]
    allowed, oldest, data = await script(keys=keys, args=_sliding_log_args(now, period, limit))
    value = None if data is None else backend._cache._serializer.loads(data)
    return (None if allowed else float(oldest)), value


async def close_loop_client() -> None:
    """Close this loop's client (tests; a worker's lives as long as it does)."""
    held = _loop_clients.pop(asyncio.get_running_loop(), None)
    if held is not None:
        await held[0].aclose()
