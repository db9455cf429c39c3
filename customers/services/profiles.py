"""Profile updates: core fields and traits, each with provenance."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from customers.models import CORE_FIELDS, Customer, Event
from customers.services.outbox import emit

# Event types other parts subscribe to (webhooks: identify calls, track by name).
_OUTBOX_EVENT_TYPES = frozenset({"identify", "track"})


@transaction.atomic
def apply_traits(
    *,
    customer: Customer,
    core: dict[str, object],
    traits: dict[str, object],
    source_id: int | None,
    observed_at: datetime,
) -> list[str]:
    """Set already-cleansed core fields and custom traits; returns what changed.

    A value older than the one already held (by its provenance time) does not
    overwrite it, so late-arriving messages cannot roll a profile back.
    """
    changed: list[str] = []
    provenance = dict(customer.trait_provenance)
    stamp = observed_at.isoformat()

    def newer(key: str) -> bool:
        held = provenance.get(key)
        return held is None or held.get("at", "") <= stamp

    for name, value in core.items():
        if name not in CORE_FIELDS:
            raise ValueError(f"{name} is not a core field")
        if getattr(customer, name) != value and newer(name):
            setattr(customer, name, value)
            provenance[name] = {"source": source_id, "at": stamp}
            changed.append(name)
    new_traits = dict(customer.traits)
    for name, value in traits.items():
        if new_traits.get(name) != value and newer(f"traits.{name}"):
            new_traits[name] = value
            provenance[f"traits.{name}"] = {"source": source_id, "at": stamp}
            changed.append(f"traits.{name}")
    if changed:
        customer.traits = new_traits
        customer.trait_provenance = provenance
    if observed_at > customer.last_seen:
        customer.last_seen = observed_at
    customer.save(
        update_fields=[
            *[c for c in changed if c in CORE_FIELDS],
            "traits",
            "trait_provenance",
            "last_seen",
            "updated_at",
        ]
    )
    if changed:
        emit(
            topic="profile.updated",
            customer=customer,
            payload={"customer_id": customer.pk, "changed": changed},
        )
    return changed


@transaction.atomic
def record_event(
    *,
    customer: Customer,
    source_id: int,
    type: str,
    name: str,
    properties: dict,
    context: dict,
    timestamp: datetime,
    received_at: datetime,
    message_id: str,
) -> tuple[Event, bool]:
    """Store an event once per (source, message id); returns (event, created)."""
    event, created = Event.objects.get_or_create(
        source_id=source_id,
        message_id=message_id,
        defaults={
            "customer": customer,
            "type": type,
            "name": name,
            "properties": properties,
            "context": context,
            "timestamp": timestamp,
            "received_at": received_at,
        },
    )
    if created and timestamp > customer.last_seen:
        customer.last_seen = timestamp
        customer.save(update_fields=["last_seen"])
    if created and type in _OUTBOX_EVENT_TYPES:
        emit(
            topic=type,
            customer=customer,
            payload={
                "customer_id": customer.pk,
                "event_id": event.pk,
                "event": name,
                "properties": properties,
                "timestamp": timestamp.isoformat(),
                "message_id": message_id,
                "source_id": source_id,
            },
        )
    return event, created
