import threading
import uuid

import pytest
from django.core.cache import caches
from django.test import override_settings

from core.cache import RedisCache
from core.ratelimit import hit
from tests.services import needs_redis


@pytest.fixture(params=["locmem", pytest.param("redis", marks=needs_redis)])
def backend(request):
    """Each rate-limit test on the local-memory cache and on Redis (a key prefix of its own)."""
    if request.param == "locmem":
        yield caches["default"]
        return
    prefix = f"tributary-test-{uuid.uuid4().hex[:12]}"
    config = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/14",
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=config):
        cache = caches["default"]
        assert isinstance(cache, RedisCache)
        yield cache
        client = cache._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)


START = 6_000_000.0


def test_requests_within_the_limit_are_allowed_then_refused_with_retry_after(backend):
    verdicts = [hit("k", limit=3, period=60, now=START + i) for i in range(4)]
    assert [v.allowed for v in verdicts] == [True, True, True, False]
    assert verdicts[-1].retry_after == 57  # until the first leaves the last 60 s


def test_a_request_is_allowed_again_once_the_oldest_leaves_the_period(backend):
    assert hit("k", limit=2, period=60, now=START).allowed
    assert hit("k", limit=2, period=60, now=START + 30).allowed
    assert not hit("k", limit=2, period=60, now=START + 59.5).allowed
    assert hit("k", limit=2, period=60, now=START + 60.5).allowed
    refused = hit("k", limit=2, period=60, now=START + 61)
    assert (refused.allowed, refused.retry_after) == (False, 29)


def test_refused_requests_are_not_counted(backend):
    for i in range(10):
        hit("k", limit=2, period=60, now=START + i)
    # only the first two were recorded: both have left by START + 61.5
    assert hit("k", limit=2, period=60, now=START + 61.5).allowed


def test_names_are_counted_separately(backend):
    assert hit("a", limit=1, period=60, now=START).allowed
    assert not hit("a", limit=1, period=60, now=START).allowed
    assert hit("b", limit=1, period=60, now=START).allowed


@needs_redis
def test_concurrent_requests_never_exceed_the_limit_on_redis(backend):
    if not isinstance(backend, RedisCache):
        pytest.skip("the atomic check is Redis's")
    results = []

    def burst():
        results.extend(hit("k", limit=25, period=60).allowed for _ in range(10))

    threads = [threading.Thread(target=burst) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 25
