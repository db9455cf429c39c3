"""Webhook signatures: ``t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``.

One ``v1`` per active secret: during a rotation both the new and the
previous secret sign, so receivers can switch at their own pace.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from destinations.models import Destination

SECRET_PREFIX = "whsec_"  # noqa: S105 (a label, not a secret)


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def active_secrets(destination: Destination, *, now: datetime) -> list[str]:
    found = [destination.secret]
    expires = destination.previous_secret_expires_at
    if destination.previous_secret and expires is not None and expires > now:
        found.append(destination.previous_secret)
    return found


def sign(*, body: bytes, timestamp: int, secret: str) -> str:
    message = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(*, body: bytes, timestamp: int, secrets_: list[str]) -> str:
    parts = [f"t={timestamp}"]
    parts += [f"v1={sign(body=body, timestamp=timestamp, secret=s)}" for s in secrets_]
    return ",".join(parts)
