"""The identity secret of a source: it signs user ids for the personalization endpoint.

The write key is public (it sits in every page), so it cannot prove who a
visitor is. As chat widgets do, the site's server computes ``userHash =
HMAC-SHA256(identity secret, userId)`` (hex) when it renders a page for a
signed-in user; a browser cannot compute it for anyone else's id. The
secret is shown once, stored encrypted (``core.crypto``) and rotatable.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.db import transaction

from accounts.permissions import require_permissions
from customers.models import Source


def user_hash(*, secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def user_hash_matches(*, source: Source, user_id: str, given: str) -> bool:
    if not source.identity_secret or not given:
        return False
    expected = user_hash(secret=source.identity_secret, user_id=user_id)
    return hmac.compare_digest(expected.encode(), given.strip().lower().encode())


@transaction.atomic
def rotate_identity_secret(*, source: Source, actor=None) -> str:
    """Set a new identity secret; hashes made with the old one stop matching at once
    (within ``TRIBUTARY_WRITE_KEY_CACHE_SECONDS`` in other processes). Returns it,
    to be shown once."""
    require_permissions(actor, "sources.change_source", what="rotate identity secrets")
    secret = "is_" + secrets.token_urlsafe(32)
    source.identity_secret = secret
    source.save(update_fields=["identity_secret"])
    return secret
