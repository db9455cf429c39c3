"""Rate limit per API key (or per person, or per address when anonymous).

The rate is ``settings.TRIBUTARY_API_RATE`` (env ``API_RATE_LIMIT``, e.g.
``1200/minute``), counted over a sliding window by ``core.ratelimit`` in
Django's cache: per process with the default local-memory cache, shared
(and one round trip per request) with Redis (``CACHE_URL``).
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiKey
from core.ratelimit import hit

# An ASGI scope key: the log a request was already counted in before it reached
# Django (``sources.personalization.warm`` counts while it reads, and may then
# hand the request over); the scope is the server's, clients cannot set it.
COUNTED_IN = "tributary.rate_counted_in"


def api_rate() -> tuple[int, int]:
    """(requests, seconds) of ``TRIBUTARY_API_RATE``."""
    return SimpleRateThrottle.parse_rate(None, settings.TRIBUTARY_API_RATE)


def api_key_bucket(api_key: ApiKey) -> str:
    """The rate-limit log an API key's requests are counted in."""
    return f"api:key:{api_key.pk}"


class ApiRateThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self) -> str:
        return settings.TRIBUTARY_API_RATE

    def get_cache_key(self, request, view) -> str:
        if isinstance(request.auth, ApiKey):
            return api_key_bucket(request.auth)
        if request.user and request.user.is_authenticated:
            return f"api:user:{request.user.pk}"
        return f"api:addr:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        bucket = self.get_cache_key(request, view)
        if getattr(request._request, "scope", {}).get(COUNTED_IN) == bucket:
            return True  # allowed and counted already
        verdict = hit(bucket, limit=self.num_requests, period=self.duration)
        self.retry_after = verdict.retry_after
        return verdict.allowed

    def wait(self) -> int:
        return self.retry_after
