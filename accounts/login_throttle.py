"""Login throttling: lock out an IP + user name after repeated failures.

After ``LOGIN_FAILURE_LIMIT`` failed sign-ins for the same user name from the
same address, further attempts are refused — even with the right password —
for ``LOGIN_LOCKOUT_SECONDS`` after the last failure. Counts live in Django's
cache (set ``CACHE_URL`` so all web processes share them); keys are hashes,
so neither addresses nor user names are stored in clear. Every way of
signing in that calls ``authenticate()`` (admin, dj-rest-auth, DRF) goes
through ``ThrottledModelBackend``.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache
from django.core.exceptions import PermissionDenied


def _key(request, username: str) -> str:
    address = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    digest = hashlib.sha256(f"{address}|{username.strip().lower()}".encode()).hexdigest()
    return f"login-failures:{digest}"


def is_locked_out(request, username: str) -> bool:
    return cache.get(_key(request, username), 0) >= settings.LOGIN_FAILURE_LIMIT


def record_failure(request, username: str) -> int:
    key = _key(request, username)
    failures = cache.get(key, 0) + 1
    cache.set(key, failures, timeout=settings.LOGIN_LOCKOUT_SECONDS)
    return failures


def clear_failures(request, username: str) -> None:
    cache.delete(_key(request, username))


class ThrottledModelBackend(ModelBackend):
    """Django's model backend, refusing locked-out IP + user name pairs."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(self._username_field(), "")
        if username and is_locked_out(request, username):
            raise PermissionDenied("too many failed sign-ins")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if username:
            if user is None:
                record_failure(request, username)
            else:
                clear_failures(request, username)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return get_user_model().USERNAME_FIELD
