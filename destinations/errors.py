"""Errors of the destinations domain, each with a stable code."""

from __future__ import annotations

from core.errors import DomainError


class DestinationError(DomainError):
    code = "destination_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(code or self.code, message)


class BlockedURL(DestinationError):
    """The URL points somewhere webhooks must not go (SSRF guard)."""

    code = "blocked_url"
