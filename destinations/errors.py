"""Errors of the destinations domain, each with a stable code."""

from __future__ import annotations


class DestinationError(Exception):
    code = "destination_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BlockedURL(DestinationError):
    """The URL points somewhere webhooks must not go (SSRF guard)."""

    code = "blocked_url"
