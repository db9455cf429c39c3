"""Write what happened to the outbox, inside the caller's transaction."""

from __future__ import annotations

from customers.models import Customer, OutboxEntry


def emit(*, topic: str, customer: Customer | None, payload: dict) -> OutboxEntry:
    return OutboxEntry.objects.create(topic=topic, customer=customer, payload=payload)


def emit_many(*, topic: str, entries: list[tuple[int | None, dict]]) -> int:
    """Write one entry per (customer id, payload), in batches; returns how many."""
    OutboxEntry.objects.bulk_create(
        [OutboxEntry(topic=topic, customer_id=cid, payload=payload) for cid, payload in entries],
        batch_size=2000,
    )
    return len(entries)
