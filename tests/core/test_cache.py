import threading
import uuid

import pytest
from django.core.cache import caches
from django.test import override_settings

from tests.services import needs_redis

pytestmark = needs_redis


@pytest.fixture
def redis_cache():
    prefix = f"tributary-test-{uuid.uuid4().hex[:12]}"
    config = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/14",
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=config):
        yield caches["default"]
        client = caches["default"]._cache.get_client(write=True)
        keys = list(client.scan_iter(match=f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def _in_thread(function):
    result = []
    thread = threading.Thread(target=lambda: result.append(function()))
    thread.start()
    thread.join()
    return result[0]


def test_request_threads_share_one_redis_client_and_pool(redis_cache):
    # Django makes a cache object per thread, and each request runs in a
    # thread of its own under the uvicorn workers
    other = _in_thread(lambda: caches["default"])
    assert other is not redis_cache
    assert other._cache is redis_cache._cache
    assert other._cache.get_client() is redis_cache._cache.get_client(write=True)


def test_a_thread_per_request_reuses_the_pools_connections(redis_cache):
    redis_cache.set("doc", {"known": True})

    def request():  # reads a document; which server connection served it?
        cache = caches["default"]
        assert cache.get("doc") == {"known": True}
        return cache._cache.get_client().client_id()

    # twenty requests, one after another, each in a new thread: one connection
    assert len({_in_thread(request) for _ in range(20)}) == 1


def test_values_round_trip_as_with_djangos_backend(redis_cache):
    redis_cache.set("n", 5)
    assert redis_cache.incr("n") == 6
    redis_cache.set_many({"a": [1, "x"], "b": None})
    assert redis_cache.get_many(["a", "b", "c"]) == {"a": [1, "x"], "b": None}
    redis_cache.delete_many(["a", "b"])
    assert redis_cache.get("a", "gone") == "gone"
