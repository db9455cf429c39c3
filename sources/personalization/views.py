"""``GET /v1/personalize``: the browser-safe profile answer, authenticated by a write key.

Thin: authenticate, check the origin, call ``answers.personalize``, answer
with an ETag (``If-None-Match`` → 304). Refusals are JSON ``{"code",
"message"}``: 401 for an unknown or disabled key, 403 for a wrong origin or
userHash, 400 for a bad identifier.
"""

from __future__ import annotations

import hashlib
import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from sources.personalization.answers import personalize
from sources.services.intake import source_for_key
from sources.services.parsing import RequestRejected
from sources.views import _error, basic_auth_key


@csrf_exempt
def personalize_view(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _error(RequestRejected("method_not_allowed", "use GET", 405))
    try:
        key = basic_auth_key(request.headers.get("Authorization", ""))
        if key is None:
            raise RequestRejected(
                "invalid_write_key", "send the write key as the HTTP Basic user name", 401
            )
        source = source_for_key(key)
        origin = request.headers.get("Origin")
        if (
            origin
            and source.personalization_origins
            and origin not in source.personalization_origins
        ):
            raise RequestRejected("origin_not_allowed", f"{origin} may not read this source", 403)
        answer = personalize(
            source=source,
            user_id=request.GET.get("userId"),
            anonymous_id=request.GET.get("anonymousId"),
            user_hash=request.GET.get("userHash"),
        )
    except RequestRejected as error:
        return _error(error)
    status, body, headers = encode_answer(answer, request.headers.get("If-None-Match", ""))
    response = HttpResponse(body, status=status, content_type="application/json")
    for name, value in headers.items():
        response[name] = value
    return response


def encode_answer(answer: dict, if_none_match: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers of an answer: 304 with no body when the
    client's ``If-None-Match`` holds its ETag."""
    body = json.dumps(answer, separators=(",", ":"), sort_keys=True).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=16).hexdigest() + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={settings.TRIBUTARY_PERSONALIZE_MAX_AGE}",
        "Vary": "Authorization, Origin",
    }
    if etag in _etags(if_none_match):
        return 304, b"", headers
    return 200, body, headers


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


@require_GET
def demo_page(request: HttpRequest) -> HttpResponse:
    """A shop page whose banners follow the visitor's segments (``make run``'s demo).

    It holds no data: the visitor pastes a write key, and the page's buttons
    send the tracking calls a real site would.
    """
    return render(request, "demo/personalize.html")
