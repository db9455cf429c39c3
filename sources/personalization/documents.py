"""Profile documents: each profile's REST answer, cached by (profile, version).

One cache key per profile, ``profile-doc:<id>``, holding the version and
config fingerprint it was rendered at. A reader first reads the profile's
current version (``customers.pointers``, one indexed query); a document of
another version or fingerprint is re-rendered and replaced, so a change is
seen by the next request after its commit, in every process. Erasure
deletes the key (``erase_documents``); documents also expire after
``TRIBUTARY_PROFILE_DOCUMENT_SECONDS`` so time-windowed computed traits
("orders in the last 30 days") move on without a write.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from rest_framework.renderers import JSONRenderer

from consent.registry import Subject
from core.api.exceptions import ApiError
from core.cache import aget
from customers.api.lookups import profile_or_404
from customers.models import Customer
from customers.pointers import ProfilePointer, find_profile_pointer
from customers.selectors import profile_identities
from customers.services.normalize import InvalidValue
from sources.personalization.config import current_config
from sources.personalization.serializers import ProfileDetailSerializer


def document_key(customer_id: int) -> str:
    return f"profile-doc:{customer_id}"


def profile_document(pointer: ProfilePointer) -> dict | None:
    """The profile's unmasked REST answer at ``pointer.version``; None if it is gone."""
    fingerprint = current_config().fingerprint
    document = current_document(cache.get(document_key(pointer.customer_id)), pointer, fingerprint)
    if document is not None:
        return document
    customer = (
        Customer.objects.active()
        .prefetch_related(profile_identities())
        .filter(pk=pointer.customer_id)
        .first()
    )
    if customer is None:
        return None
    # plain JSON values (no Decimal, date, ReturnDict), as a reader of the cache expects
    document = json.loads(JSONRenderer().render(ProfileDetailSerializer(customer).data))
    # stored under the version read before rendering: if a change commits
    # meanwhile, its new version makes the next reader render again
    cache.set(
        document_key(pointer.customer_id),
        (pointer.version, fingerprint, document),
        settings.TRIBUTARY_PROFILE_DOCUMENT_SECONDS,
    )
    return document


async def warm_document(pointer: ProfilePointer, fingerprint: str) -> dict | None:
    """The cached document at ``pointer.version``, or None (render it synchronously)."""
    held = await aget(document_key(pointer.customer_id))
    return current_document(held, pointer, fingerprint)


def current_document(held, pointer: ProfilePointer, fingerprint: str) -> dict | None:
    """The document in a cache entry if it is at the pointer's version and config."""
    if held is not None and held[0] == pointer.version and held[1] == fingerprint:
        return held[2]
    return None


def document_or_404(identifier: str) -> dict:
    """The document of the profile ``<type>:<value>`` names, for the REST API.

    A hit costs one query; anything else goes through ``profile_or_404``,
    the one place that says what is wrong with an identifier (400s, 404).
    """
    type_name, sep, value = identifier.partition(":")
    for _attempt in range(2):
        if sep and type_name and value:
            try:
                pointer = find_profile_pointer(type_name=type_name, value=value)
            except InvalidValue:
                pointer = None
            document = profile_document(pointer) if pointer is not None else None
            if document is not None:
                return document
        profile_or_404(identifier)  # raises the error, unless it appeared meanwhile
    raise ApiError(status_code=404, code="profile_not_found", message="The profile is gone.")


def erase_documents(subject: Subject) -> int:
    """Eraser: delete the subject's cached documents now and again after commit,
    so one rendered while the erasure ran is gone too. A request still
    rendering after that could store one more; it is never served (no
    identifier leads to the profile) and expires with the others' TTL."""
    keys = [document_key(pk) for pk in subject.customer_ids]
    cache.delete_many(keys)
    transaction.on_commit(lambda: cache.delete_many(keys))
    return 0
