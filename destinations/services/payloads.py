"""The webhook body: a documented, versioned JSON document.

    {"id": "<delivery uuid>", "type": "<topic>", "version": 1,
     "created_at": "<ISO 8601 time of the change>",
     "profile": {...} or null, "data": {...}}

``profile`` is the profile as it is when the change is dispatched (core
fields, traits, identifiers); ``data`` is what the change itself carries
(see the README's "Webhooks" section for each type).
"""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date, datetime

from core.models import OutboxEntry
from core.outbox import CUSTOMER_IDS
from customers.models import CORE_FIELDS, Customer, Identity

PAYLOAD_VERSION = 1


def profile_snapshots(customer_ids: set[int]) -> dict[int, dict]:
    """Profile documents for many customers in two queries."""
    identities: dict[int, list[dict]] = defaultdict(list)
    for identity in (
        Identity.objects.filter(customer_id__in=customer_ids)
        .select_related("type")
        .order_by("type__priority", "first_seen", "pk")
    ):
        identities[identity.customer_id].append(
            {"type": identity.type.name, "value": identity.value}
        )
    return {
        customer.pk: _profile(customer, identities[customer.pk])
        for customer in Customer.objects.filter(pk__in=customer_ids)
    }


def _profile(customer: Customer, identities: list[dict]) -> dict:
    document: dict[str, object] = {"id": customer.pk}
    for name in CORE_FIELDS:
        value = getattr(customer, name)
        document[name] = value.isoformat() if isinstance(value, date) else value
    document["traits"] = customer.traits
    document["identifiers"] = identities
    document["merged_into"] = customer.merged_into_id
    document["first_seen"] = customer.first_seen.isoformat()
    document["last_seen"] = customer.last_seen.isoformat()
    return document


def entry_payload(*, delivery_id: uuid.UUID, entry: OutboxEntry, profile: dict | None) -> dict:
    # integrations routed the entry (dispatch.receives_call); it is not sent on,
    # and a chunk's ids neither: each delivery's body is about its one profile
    data = {
        key: value
        for key, value in entry.payload.items()
        if key not in ("customer_id", CUSTOMER_IDS, "integrations")
    }
    return document(
        delivery_id=delivery_id,
        type=entry.topic,
        created_at=entry.created_at,
        profile=profile,
        data=data,
    )


def document(
    *, delivery_id: uuid.UUID, type: str, created_at: datetime, profile: dict | None, data: dict
) -> dict:
    return {
        "id": str(delivery_id),
        "type": type,
        "version": PAYLOAD_VERSION,
        "created_at": created_at.isoformat(),
        "profile": profile,
        "data": data,
    }


def encode(payload: dict) -> bytes:
    """The exact bytes that are signed and sent."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
