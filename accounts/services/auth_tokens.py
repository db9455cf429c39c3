"""Sign-in tokens for people (dj-rest-auth login): issued once, stored as digests."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from django.db import transaction

from accounts.models import AuthToken
from accounts.services.api_keys import hash_key

TOKEN_PREFIX = "tok_"  # noqa: S105 (a label, not a secret)
PREFIX_LENGTH = 8


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its key: the key exists only here, never in the database."""

    token: AuthToken
    key: str


def generate_token_key() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


@transaction.atomic
def issue_token(*, user) -> IssuedToken:
    key = generate_token_key()
    token = AuthToken.objects.create(user=user, prefix=key[:PREFIX_LENGTH], digest=hash_key(key))
    return IssuedToken(token=token, key=key)


def authenticate_token(key: str) -> AuthToken | None:
    """The token this key was issued as (also keys converted from clear-text tokens)."""
    if not key:
        return None
    digest = hash_key(key)
    token = AuthToken.objects.select_related("user").filter(digest=digest).first()
    if token is None or not hmac.compare_digest(token.digest, digest):
        return None
    return token


@transaction.atomic
def revoke_token(*, token: AuthToken) -> None:
    AuthToken.objects.filter(pk=token.pk).delete()
