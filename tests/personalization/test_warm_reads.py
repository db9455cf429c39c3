"""Warm reads answered on the event loop (``sources.personalization.warm``) equal Django's.

Each scenario runs the production ASGI stack (``cdp_site.asgi``) on one
event loop, PostgreSQL and Redis, with Django's app wrapped in a counter:
a first request warms what the process remembers (keys, config, the
document), the next is answered without Django, and its status, headers and
body must be those Django gives with ``TRIBUTARY_WARM_READS`` off. Changes
commit for real (``transaction=True``): Django's views run in a thread of
their own, the warm reads on their own connections.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.db import connection

from accounts.services.api_keys import create_api_key, forget_verified_keys, revoke_api_key
from cdp_site import asgi
from consent.services.privacy import create_request
from core.cache import close_loop_client
from core.db.async_reads import close_pools
from customers.models import Customer
from segments.models import Segment
from segments.rules import dependencies
from segments.services import recompute_segment, save_segment
from sources.personalization.secrets import rotate_identity_secret, user_hash
from sources.personalization.warm import WarmReads
from tests.personalization.conftest import configure, grant
from tests.services import redis_up

pytestmark = [
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql" or not redis_up(),
        reason="warm reads need PostgreSQL and Redis",
    ),
]

ANONYMOUS = "0b7f9c1e-5d2a-4c8e-9f3a-2e6d8b1a7c40"


@pytest.fixture(autouse=True)
def redis_cache(settings):
    """Django's cache on Redis, under a key prefix of this test's own."""
    prefix = f"tributary-warm-{uuid.uuid4().hex[:12]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/13",
            "KEY_PREFIX": prefix,
        }
    }
    forget_verified_keys()
    yield
    forget_verified_keys()
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


class CountingDjango:
    """Django's ASGI app, counting the requests it answers."""

    def __init__(self, app=None):
        self.app = app or asgi.django_application
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
def server():
    return WarmReads(CountingDjango())


async def _get(app, path: str, query: str = "", headers: dict | None = None):
    """One GET through ``app``: (status, headers with lower-case names, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query if isinstance(query, bytes) else query.encode(),
        "headers": [
            (name.lower().encode(), value.encode())
            for name, value in {"Host": "testserver", **(headers or {})}.items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    messages, sent = [], asyncio.Event()
    body_given = False

    async def receive():
        nonlocal body_given
        if not body_given:
            body_given = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await sent.wait()  # the client stays connected until the answer is sent
        return {"type": "http.disconnect"}

    async def send(message):
        messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            sent.set()

    await app(scope, receive, send)
    start = messages[0]
    answer_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], answer_headers, b"".join(m.get("body", b"") for m in messages[1:])


def run(scenario):
    """Run ``scenario()`` on a fresh loop, closing that loop's pools after it."""

    async def main():
        try:
            return await scenario()
        finally:
            await close_pools()
            await close_loop_client()

    return asyncio.run(main())


def basic(key: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


async def warm_and_compare(server, settings, path, query="", headers=None):
    """Warm (Django answers), then read warm (Django must not be called), then
    read with warm reads off: the last two must be equal, headers included."""
    await _get(server, path, query, headers)
    before = server.app.calls
    warm = await _get(server, path, query, headers)
    assert server.app.calls == before, "the warm read was delegated to Django"
    settings.TRIBUTARY_WARM_READS = False
    try:
        plain = await _get(server, path, query, headers)
    finally:
        settings.TRIBUTARY_WARM_READS = True
    assert server.app.calls == before + 1
    assert warm == plain
    return warm


@pytest.fixture
def key(site):
    return site[1]


@pytest.fixture
def gold_segment(elodie):
    segment = save_segment(name="Gold members", rule={"trait": "plan", "op": "eq", "value": "gold"})
    Segment.objects.filter(pk=segment.pk).update(personalize=True)
    recompute_segment(segment_id=segment.pk)
    return segment


PERSONALIZE = "/v1/personalize"


def test_a_known_visitor_read_warm_equals_django(server, settings, key, elodie, gold_segment):
    status, headers, body = run(
        lambda: warm_and_compare(server, settings, PERSONALIZE, "userId=cust-1042", basic(key))
    )
    assert status == 200
    answer = json.loads(body)
    assert answer["traits"] == {"plan": "gold", "first_name": "Élodie", "favourite_colour": "vert"}
    assert answer["segments"] == ["Gold members"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["content-length"] == str(len(body))


def test_cors_headers_and_304_warm_equal_django(server, settings, key, elodie):
    origin = {**basic(key), "Origin": "https://boutique-elodie.example"}

    async def scenario():
        _status, headers, _body = await warm_and_compare(
            server, settings, PERSONALIZE, "userId=cust-1042", origin
        )
        assert headers["access-control-allow-origin"] == "*"
        assert headers["access-control-expose-headers"] == "ETag"
        revalidate = {**origin, "If-None-Match": headers["etag"]}
        return await warm_and_compare(server, settings, PERSONALIZE, "userId=cust-1042", revalidate)

    status, headers, body = run(scenario)
    assert (status, body) == (304, b"")
    assert headers["etag"]


def test_an_unknown_visitor_is_answered_warm(server, settings, key, elodie):
    status, _headers, body = run(
        lambda: warm_and_compare(
            server, settings, PERSONALIZE, "anonymousId=never-seen-7f", basic(key)
        )
    )
    assert status == 200
    assert json.loads(body)["known"] is False


def test_changes_are_seen_by_the_next_read(server, key, elodie, track):
    query = "userId=cust-1042"

    async def read():
        status, _headers, body = await _get(server, PERSONALIZE, query, basic(key))
        assert status == 200
        return json.loads(body)

    async def scenario():
        await read()
        assert (await read())["traits"]["plan"] == "gold"  # warm
        await asyncio.to_thread(
            track, "identify", {"userId": "cust-1042", "traits": {"plan": "platinum"}}
        )
        assert (await read())["traits"]["plan"] == "platinum"
        assert (await read())["traits"]["plan"] == "platinum"
        await asyncio.to_thread(grant, elodie, "personalization", "withdrawn")
        withdrawn = await read()
        assert withdrawn["consent"]["personalization"] is False
        assert withdrawn["traits"] == {}
        await asyncio.to_thread(grant, elodie, "personalization", "granted")
        assert (await read())["traits"]["plan"] == "platinum"
        await asyncio.to_thread(create_request, type="erasure", identifier="user_id:cust-1042")
        return await read()

    assert run(scenario)["known"] is False


def test_a_segment_entered_is_seen_by_the_next_warm_read(server, key, elodie):
    """A recompute moves only the profile's stamp, not its row: the warm
    reader's pointer (its own connection) must still see the new version."""
    rule = {"trait": "plan", "op": "eq", "value": "gold"}
    segment = Segment.objects.create(
        name="Gold members", rule=rule, dependencies=dependencies(rule), personalize=True
    )
    query = "userId=cust-1042"

    async def read():
        status, _headers, body = await _get(server, PERSONALIZE, query, basic(key))
        assert status == 200
        return json.loads(body)["segments"]

    async def scenario():
        await read()
        calls = server.app.calls
        assert await read() == []  # warm
        assert server.app.calls == calls
        row_version = await asyncio.to_thread(_row_version, elodie.pk)
        await asyncio.to_thread(recompute_segment, segment_id=segment.pk)
        assert await asyncio.to_thread(_row_version, elodie.pk) == row_version
        assert await read() == ["Gold members"]  # a new version: Django renders it
        calls = server.app.calls
        assert await read() == ["Gold members"]  # warm again
        assert server.app.calls == calls

    run(scenario)


def _row_version(pk: int) -> int:
    return Customer.objects.values_list("version", flat=True).get(pk=pk)


def test_refusals_are_djangos(server, settings, key, site, elodie):
    secret = rotate_identity_secret(source=site[0])
    configure(site[0], require_signed_user_ids=True)
    good = user_hash(secret=secret, user_id="cust-1042")

    async def scenario():
        await _get(server, PERSONALIZE, f"userId=cust-1042&userHash={good}", basic(key))
        before = server.app.calls
        answers = [
            await _get(server, PERSONALIZE, "userId=cust-1042", basic(key)),
            await _get(server, PERSONALIZE, "userId=cust-1042&userHash=" + "0" * 64, basic(key)),
            await _get(server, PERSONALIZE, f"anonymousId={ANONYMOUS}", basic(key)),
            await _get(server, PERSONALIZE, "", basic(key)),
            await _get(server, PERSONALIZE, "userId=cust-1042", basic("wk_not-a-key")),
        ]
        assert server.app.calls == before + len(answers)
        signed = await _get(server, PERSONALIZE, f"userId=cust-1042&userHash={good}", basic(key))
        assert server.app.calls == before + len(answers)  # warm again
        return answers, signed

    answers, signed = run(scenario)
    assert [(status, json.loads(body)["code"]) for status, _h, body in answers] == [
        (403, "user_hash_required"),
        (403, "invalid_user_hash"),
        (403, "user_hash_required"),
        (400, "missing_identifier"),
        (401, "invalid_write_key"),
    ]
    assert json.loads(signed[2])["traits"]["plan"] == "gold"


def test_other_hosts_go_to_django(server, key, elodie):
    async def scenario():
        await _get(server, PERSONALIZE, "userId=cust-1042", basic(key))
        before = server.app.calls
        other_host = await _get(
            server, PERSONALIZE, "userId=cust-1042", {**basic(key), "Host": "evil.example"}
        )
        assert server.app.calls == before + 1
        return other_host[0]

    assert run(scenario) == 400


def test_plain_http_under_ssl_redirect_goes_to_django(settings, key, elodie):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    server = WarmReads(CountingDjango(ASGIHandler()))  # its middleware reads the settings
    proxied = {**basic(key), "X-Forwarded-Proto": "https"}

    async def scenario():
        query = "userId=cust-1042"
        django_answer = await _get(server, PERSONALIZE, query, proxied)
        before = server.app.calls
        plain = await _get(server, PERSONALIZE, query, basic(key))
        assert server.app.calls == before + 1
        secure = await _get(server, PERSONALIZE, query, proxied)
        assert server.app.calls == before + 1  # warm
        return django_answer, plain, secure

    django_answer, plain, secure = run(scenario)
    assert plain[0] == 301
    assert secure == django_answer
    assert secure[1]["strict-transport-security"].startswith("max-age=3600")


@pytest.fixture
def api_key():
    _api_key, secret = create_api_key(name="site renderer", scopes=["profiles:read"])
    return _api_key, {"Authorization": f"Bearer {secret}"}


def test_a_rest_profile_read_warm_equals_django(server, settings, api_key, elodie):
    _key, bearer = api_key
    path = "/api/v1/profiles/user_id:cust-1042/"

    async def scenario():
        return [
            await warm_and_compare(server, settings, path, "", {**bearer, **accept})
            for accept in ({}, {"Accept": "*/*"}, {"Accept": "application/json"})
        ]

    for status, headers, body in run(scenario):
        assert status == 200
        assert headers["content-type"] == "application/json"
        assert json.loads(body)["id"] == elodie.pk


def test_rest_refusals_are_djangos(server, api_key, elodie):
    key, bearer = api_key
    _other, events_only = create_api_key(name="events", scopes=["events:read"])
    path = "/api/v1/profiles/user_id:cust-1042/"

    async def scenario():
        await _get(server, path, "", bearer)
        html = await _get(server, path, "", {**bearer, "Accept": "text/html"})
        scope = await _get(server, path, "", {"Authorization": f"Bearer {events_only}"})
        scope_again = await _get(server, path, "", {"Authorization": f"Bearer {events_only}"})
        missing = await _get(server, "/api/v1/profiles/user_id:nobody/", "", bearer)
        await asyncio.to_thread(revoke_api_key, api_key=key)
        revoked = await _get(server, path, "", bearer)
        return [html, scope, scope_again, missing, revoked]

    assert [status for status, _h, _b in run(scenario)] == [406, 403, 403, 404, 401]


def test_the_rate_limit_counts_warm_reads(server, settings, api_key, elodie):
    settings.TRIBUTARY_API_RATE = "3/minute"
    _key, bearer = api_key
    path = "/api/v1/profiles/user_id:cust-1042/"

    async def scenario():
        answers = [await _get(server, path, "", bearer) for _ in range(5)]
        return [status for status, _h, _b in answers], answers[-1]

    statuses, refused = run(scenario)
    assert statuses == [200, 200, 200, 429, 429]
    assert int(refused[1]["retry-after"]) > 0


def test_a_warm_read_handed_to_django_is_counted_once(server, settings, api_key, elodie, track):
    """The warm path counts a request as it reads the document; when the
    document turns out stale, Django renders it without counting it again."""
    settings.TRIBUTARY_API_RATE = "3/minute"
    _key, bearer = api_key
    path = "/api/v1/profiles/user_id:cust-1042/"

    async def scenario():
        statuses = [(await _get(server, path, "", bearer))[0]]  # Django: remembers the key
        await asyncio.to_thread(
            track, "identify", {"userId": "cust-1042", "traits": {"plan": "platinum"}}
        )
        before = server.app.calls
        stale = await _get(server, path, "", bearer)  # counted here, rendered by Django
        assert server.app.calls == before + 1
        assert json.loads(stale[2])["traits"]["plan"] == "platinum"
        statuses.append(stale[0])
        statuses += [(await _get(server, path, "", bearer))[0] for _ in range(2)]
        return statuses

    assert run(scenario) == [200, 200, 200, 429]


def test_hostile_queries_are_left_to_django_and_never_500(server, key, elodie):
    hostile = [
        b"userId=%FF%FE&anonymousId=\xff",  # not UTF-8
        "&".join(f"p{i}=1" for i in range(5000)).encode(),  # over Django's field limit
        b"userId=cust%001042",  # a NUL
        b"userId=" + b"9" * 100_000,
        b"anonymousId=null",  # a placeholder, not an identifier
        b"userId[]=cust-1042&userId[$ne]=x",
    ]

    async def scenario():
        await _get(server, PERSONALIZE, "userId=cust-1042", basic(key))
        return [await _get(server, PERSONALIZE, query, basic(key)) for query in hostile]

    answers = run(scenario)
    assert [status for status, _h, _b in answers] == [400] * len(hostile)
    # Django refuses a query string that is not UTF-8 before any view or handler
    for _status, headers, body in answers[1:]:
        assert headers["content-type"] == "application/json"
        assert json.loads(body)["code"]
