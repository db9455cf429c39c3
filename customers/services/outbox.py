"""Write what happened to the outbox, inside the caller's transaction."""

from __future__ import annotations

from customers.models import Customer, OutboxEntry


def emit(*, topic: str, customer: Customer | None, payload: dict) -> OutboxEntry:
    return OutboxEntry.objects.create(topic=topic, customer=customer, payload=payload)
