"""Warm profile reads answered on the event loop, in front of Django.

``GET /v1/personalize`` and ``GET /api/v1/profiles/<type>:<value>/`` are
read on every page view. Through Django each costs a thread hand-off, the
middleware stack and a synchronous ORM connection: about 2.5 ms of CPU for
an answer that is one indexed query and one cache read. ``WarmReads``
answers them itself when everything the answer needs is already known in
this process or is one of those two reads:

- the key was checked recently (``remembered_source``,
  ``remembered_api_key``: the same in-process memory Django's path keeps,
  with the same expiry), and the personalization config is fresh;
- the identifier names an unmerged profile (``afind_unmerged_pointer``,
  async psycopg) whose document at its current version is in the cache
  (``warm_document``; for the REST API read in the same Redis round trip
  that counts the request against the API key's rate limit), so a change is
  seen by the next request after its commit, exactly as through Django;
- the request is plain: GET, an allowed host, no redirect to HTTPS due.

Anything else (a refusal, an unknown key, a merge, a cache miss, a 404, a
rate-limit refusal, an error) goes to Django untouched, which answers it and
warms what is missing. The rules themselves are shared with Django's path
(``answers``, ``encode_answer``, ``core.ratelimit``); tests compare both
answers, headers included. Off with ``TRIBUTARY_WARM_READS=false``, and
without PostgreSQL and Redis.
"""

from __future__ import annotations

import logging
import re

from corsheaders.conf import conf as cors
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import QueryDict
from django.http.request import split_domain_port, validate_host
from rest_framework.renderers import JSONRenderer

from accounts.api.throttling import COUNTED_IN, api_key_bucket, api_rate
from accounts.services.api_keys import remembered_api_key
from core.cache import loop_reads_available
from core.db import async_reads
from core.ratelimit import ahit_and_get
from customers.pointers import MergedProfile, afind_unmerged_pointer
from customers.services.normalize import InvalidValue, normalize_identifier
from sources.personalization.answers import (
    allowed_part,
    check_reach,
    empty_answer,
    requested_identifier,
)
from sources.personalization.config import remembered_config
from sources.personalization.documents import current_document, document_key, warm_document
from sources.personalization.views import encode_answer
from sources.services.intake import remembered_source
from sources.services.parsing import RequestRejected
from sources.views import basic_auth_key

logger = logging.getLogger(__name__)

PERSONALIZE_PATH = "/v1/personalize"
PROFILE_PATH = re.compile(r"/api/v1/profiles/([^/]+)/")
PROFILE_READ_SCOPE = "profiles:read"
JSON_ACCEPTS = (None, "*/*", "application/json")
# what DRF's ProfileViewSet answers in ``Allow`` on a profile's URL
PROFILE_ALLOW = "GET, PATCH, HEAD, OPTIONS"


class Delegate(Exception):
    """Django answers this request."""


class WarmReads:
    """ASGI middleware: warm profile reads answered here, the rest by ``app``."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "GET" and _enabled():
            reply = await _warm_reply(scope)
            if reply is not None:
                status, headers, body = reply
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def _enabled() -> bool:
    return settings.TRIBUTARY_WARM_READS and async_reads.available() and loop_reads_available()


async def _warm_reply(scope) -> tuple[int, list, bytes] | None:
    path = scope["path"]
    if path == PERSONALIZE_PATH:
        read = _personalize
    elif path.startswith("/api/v1/profiles/"):
        read = _profile
    else:
        return None
    try:
        headers = _request_headers(scope)
        status, extra, body = await read(scope, headers)
    except (
        Delegate,
        RequestRejected,
        InvalidValue,
        MergedProfile,
        SuspiciousOperation,  # e.g. too many query parameters: Django's 400
        UnicodeDecodeError,
    ):
        return None
    except Exception:  # an outage or a bug here must not cost the answer
        logger.warning("warm read of %s failed; Django answers", path, exc_info=True)
        return None
    return status, _response_headers(scope, headers, extra, body), body


def _request_headers(scope) -> dict[str, str]:
    """Lower-case name -> value; a repeated header, a body, a proxied host or a
    host this site does not serve are left to Django."""
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    if len(headers) != len(scope["headers"]) or scope.get("root_path"):
        raise Delegate
    if headers.get("content-length", "0") != "0" or "transfer-encoding" in headers:
        raise Delegate
    if settings.USE_X_FORWARDED_HOST and "x-forwarded-host" in headers:
        raise Delegate
    domain, _port = split_domain_port(headers.get("host", ""))
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        raise Delegate
    if settings.SECURE_SSL_REDIRECT and not _is_secure(scope, headers):
        raise Delegate
    return headers


def _is_secure(scope, headers: dict[str, str]) -> bool:
    """``HttpRequest.is_secure``."""
    if settings.SECURE_PROXY_SSL_HEADER:
        name, secure_value = settings.SECURE_PROXY_SSL_HEADER
        value = headers.get(name.removeprefix("HTTP_").replace("_", "-").lower())
        if value is not None:
            return value.split(",", 1)[0].strip() == secure_value
    return scope.get("scheme") == "https"


async def _personalize(scope, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    key = basic_auth_key(headers.get("authorization", ""))
    source = remembered_source(key) if key else None
    if source is None:
        raise Delegate
    _cors_applies(scope, headers)  # before any work: it may delegate
    origin = headers.get("origin")
    if origin and source.personalization_origins and origin not in source.personalization_origins:
        raise Delegate
    params = QueryDict(scope["query_string"].decode())
    type_name, value = requested_identifier(
        source=source,
        user_id=params.get("userId"),
        anonymous_id=params.get("anonymousId"),
        user_hash=params.get("userHash"),
    )
    pointer = await afind_unmerged_pointer(
        type_name=type_name, normalized=normalize_identifier(type_name, value)
    )
    if pointer is None:
        answer = empty_answer(known=False)
    else:
        check_reach(source=source, type_name=type_name, pointer=pointer)
        config = remembered_config()
        document = await warm_document(pointer, config.fingerprint) if config else None
        if document is None:
            raise Delegate
        answer = allowed_part(document, source, config)
    status, body, extra = encode_answer(answer, headers.get("if-none-match", ""))
    return status, {"Content-Type": "application/json", **extra}, body


async def _profile(scope, headers: dict[str, str]) -> tuple[int, dict, bytes]:
    """``ProfileViewSet.retrieve`` for an API key holding ``profiles:read``."""
    match = PROFILE_PATH.fullmatch(scope["path"])
    if match is None or scope["query_string"] or "cookie" in headers:
        raise Delegate
    if headers.get("accept") not in JSON_ACCEPTS:
        raise Delegate
    scheme, _, secret = headers.get("authorization", "").partition(" ")
    api_key = remembered_api_key(secret) if scheme.lower() == "bearer" else None
    config = remembered_config()
    if api_key is None or PROFILE_READ_SCOPE not in api_key.scopes or config is None:
        raise Delegate
    type_name, sep, value = match.group(1).partition(":")
    if not (sep and type_name and value):
        raise Delegate
    pointer = await afind_unmerged_pointer(
        type_name=type_name, normalized=normalize_identifier(type_name, value)
    )
    if pointer is None:
        raise Delegate  # Django's 404
    # the request is counted as the document is read (one round trip); a
    # refusal is not counted, and Django answers the 429
    bucket = api_key_bucket(api_key)
    limit, period = api_rate()
    verdict, held = await ahit_and_get(
        bucket, limit=limit, period=period, key=document_key(pointer.customer_id)
    )
    if not verdict.allowed:
        raise Delegate
    document = current_document(held, pointer, config.fingerprint)
    if document is None:
        scope[COUNTED_IN] = bucket  # Django renders the document, and counts nothing
        raise Delegate
    body = JSONRenderer().render(document)
    return 200, {"Content-Type": "application/json", "Allow": PROFILE_ALLOW}, body


def _cors_applies(scope, request: dict[str, str]) -> bool:
    """django-cors-headers' answer to a request from a page on another origin,
    as configured here (every origin, no credentials) and only so."""
    if not (re.match(cors.CORS_URLS_REGEX, scope["path"]) and request.get("origin")):
        return False
    if not cors.CORS_ALLOW_ALL_ORIGINS or cors.CORS_ALLOW_CREDENTIALS:
        raise Delegate
    return True


def _response_headers(scope, request: dict[str, str], extra: dict, body: bytes) -> list:
    """The view's headers, plus what the middleware stack adds to them."""
    headers = {**extra, "Content-Length": str(len(body))}
    if _cors_applies(scope, request):
        headers["access-control-allow-origin"] = "*"
        if cors.CORS_EXPOSE_HEADERS:
            headers["access-control-expose-headers"] = ", ".join(cors.CORS_EXPOSE_HEADERS)
    if settings.SECURE_HSTS_SECONDS and _is_secure(scope, request):
        value = f"max-age={settings.SECURE_HSTS_SECONDS}"
        if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
            value += "; includeSubDomains"
        if settings.SECURE_HSTS_PRELOAD:
            value += "; preload"
        headers["Strict-Transport-Security"] = value
    if settings.SECURE_CONTENT_TYPE_NOSNIFF:
        headers["X-Content-Type-Options"] = "nosniff"
    if settings.SECURE_REFERRER_POLICY:
        policy = settings.SECURE_REFERRER_POLICY
        headers["Referrer-Policy"] = policy if isinstance(policy, str) else ",".join(policy)
    if settings.SECURE_CROSS_ORIGIN_OPENER_POLICY:
        headers["Cross-Origin-Opener-Policy"] = settings.SECURE_CROSS_ORIGIN_OPENER_POLICY
    headers["X-Frame-Options"] = settings.X_FRAME_OPTIONS.upper()
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
