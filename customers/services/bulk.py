"""Set-at-a-time helpers for batched ingestion.

The batched pipeline (``sources.pipeline``) uses these to carry out, in
bulk, what ``customers.services.identity.plan`` decided for the cheap,
common cases — identifiers that are all known and name one profile, people
never seen before — and to store events. Nothing here decides identity.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import timezone

from core.db.copy import (
    insert_rows,
    insert_values,
    insert_values_with_history,
    number_rows,
    reserve_ids,
)
from core.models import OutboxEntry
from core.outbox import EVENT_TOPICS, Topic, event_payload
from customers.models import Customer, Event, IdentifierType, Identity
from customers.selectors import resolve_survivor_id
from customers.services.identity import ANONYMOUS_TYPES
from customers.services.versions import bump_versions


@dataclass(frozen=True)
class NewPerson:
    """Identifiers ((type, normalized value) pairs) of someone never seen before."""

    identifiers: tuple[tuple[str, str], ...]
    source_id: int | None
    seen_at: datetime


@dataclass(frozen=True)
class EventRecord:
    customer_id: int
    source_id: int
    type: str
    name: str
    properties: dict
    context: dict
    timestamp: datetime
    received_at: datetime
    message_id: str
    sent_at: datetime | None = None
    original_timestamp: datetime | None = None
    # the call's Segment-style ``integrations`` (which destinations receive it);
    # carried on the outbox entry, not stored on the event
    integrations: dict | None = None


@dataclass(frozen=True)
class NewIdentity:
    customer_id: int
    type_name: str
    value: str
    source_id: int | None
    seen_at: datetime


def identifier_type_ids() -> dict[str, int]:
    return dict(IdentifierType.objects.values_list("name", "pk"))


def create_profiles(*, people: Sequence[NewPerson]) -> list[Customer]:
    """One new profile per person, with its identities, in a few bulk inserts.

    The profiles get no history row here: the caller hands them to
    ``ProfileChanges.created``, whose ``save`` writes their first history row
    once the batch has set their traits. On PostgreSQL the profile rows are
    only numbered here and ``save`` inserts them with those final values (one
    write per profile instead of an insert and an update); elsewhere they are
    inserted now.

    The caller guarantees none of the identifiers exists yet; a concurrent
    insert of the same identifier makes this raise IntegrityError, and the
    caller then retries the message through ``resolve_identity``.
    """
    if not people:
        return []
    customers = [
        Customer(
            first_seen=person.seen_at,
            last_seen=person.seen_at,
            is_identified=any(t not in ANONYMOUS_TYPES for t, _ in person.identifiers),
        )
        for person in people
    ]
    if not number_rows(Customer, customers):
        insert_rows(Customer, customers, set_pks=True)
    add_identities(
        [
            NewIdentity(customer.pk, type_name, value, person.source_id, person.seen_at)
            for person, customer in zip(people, customers, strict=True)
            for type_name, value in person.identifiers
        ]
    )
    now = timezone.now()
    insert_values(
        OutboxEntry,
        ("topic", "customer_id", "payload", "created_at"),
        [(Topic.PROFILE_CREATED, c.pk, {"customer_id": c.pk}, now) for c in customers],
    )
    return customers


def add_identities(identities: Sequence[NewIdentity]) -> None:
    """Insert identities (with their history rows); the caller has locked and
    checked them (none exists yet, per-profile limits hold).

    Written from plain values, no ``Identity`` instances: each row is built
    once and its history row is taken from it (``insert_values_with_history``).
    """
    type_ids = identifier_type_ids()
    rows = [
        (type_ids[i.type_name], i.value, i.customer_id, i.source_id, i.seen_at, None)
        for i in identities
        if i.type_name in type_ids
    ]
    insert_values_with_history(Identity, _IDENTITY_COLUMNS, rows)
    bump_versions(row[2] for row in rows)


# the Identity columns add_identities writes, in its rows' order
_IDENTITY_COLUMNS = ("type_id", "value", "customer_id", "source_id", "first_seen", "superseded_at")


def lock_active(customer_ids: Iterable[int]) -> set[int]:
    """Lock these profile rows; returns those not merged away."""
    return set(
        Customer.objects.select_for_update()
        .filter(pk__in=set(customer_ids), merged_into__isnull=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def active_customers(
    *, ids: Iterable[int], created: Iterable[Customer] = ()
) -> dict[int, Customer]:
    """Each id mapped to the profile that now holds it (following merges).

    Ids that end at the same profile share one instance, so updates made
    through either are not lost. ``created`` are profiles made in this batch
    (maybe not inserted yet): they are used as they are. The others are
    locked (in id order) until the transaction ends: a concurrent batch that
    reaches the same person through other identifiers reads the profile
    after this one's changes, instead of overwriting them.
    """
    wanted = set(ids)
    loaded = {customer.pk: customer for customer in created}
    locked = Customer.objects.select_for_update().filter(pk__in=wanted - set(loaded))
    loaded.update({customer.pk: customer for customer in locked.order_by("pk")})
    result: dict[int, Customer] = {}
    for pk in wanted:
        customer = loaded[pk]
        if customer.merged_into_id is not None:
            survivor = resolve_survivor_id(pk)
            if survivor not in loaded:
                loaded[survivor] = Customer.objects.select_for_update().get(pk=survivor)
            customer = loaded[survivor]
        result[pk] = customer
    return result


# the Event columns record_events writes: EventRecord's fields
_EVENT_COLUMNS = (
    "customer_id",
    "source_id",
    "type",
    "name",
    "properties",
    "context",
    "timestamp",
    "received_at",
    "sent_at",
    "original_timestamp",
    "message_id",
)


def record_events(*, events: Sequence[EventRecord]) -> None:
    """Store new events (the caller has left out message ids already stored).

    Writes the outbox entries of identify and track calls
    (``core.outbox.event_payload``), all in bulk; the caller bumps ``last_seen``.
    """
    if not events:
        return
    rows = [[getattr(e, column) for column in _EVENT_COLUMNS] for e in events]
    ids = reserve_ids(Event, len(rows))
    if ids is None:
        created = Event.objects.bulk_create(
            Event(**dict(zip(_EVENT_COLUMNS, row, strict=True))) for row in rows
        )
        ids = [event.pk for event in created]
    else:
        numbered = ([pk, *row] for pk, row in zip(ids, rows, strict=True))
        insert_values(Event, ("id", *_EVENT_COLUMNS), numbered)
    bump_versions(e.customer_id for e in events)  # computed traits read events
    now = timezone.now()
    insert_values(
        OutboxEntry,
        ("topic", "customer_id", "payload", "created_at"),
        (
            (
                Topic(e.type),
                e.customer_id,
                event_payload(
                    customer_id=e.customer_id,
                    event_id=event_id,
                    name=e.name,
                    properties=e.properties,
                    timestamp=e.timestamp,
                    message_id=e.message_id,
                    source_id=e.source_id,
                    integrations=e.integrations,
                ),
                now,
            )
            for e, event_id in zip(events, ids, strict=True)
            if e.type in EVENT_TOPICS
        ),
    )


def stored_message_ids(*, source_id: int, message_ids: Collection[str]) -> set[str]:
    """Which of these message ids of a source already have an event.

    On PostgreSQL each id is probed on its own (a LATERAL … LIMIT 1), so every
    partition's (source, message_id, timestamp) index is used on both keys.
    A plain ``IN`` list lets the planner, misled by statistics taken before a
    source existed, scan all of that source's events and filter them: 38 ms
    instead of 4 ms per batch of 100 for a source with 60,000 events, and
    growing with every import into a new file source.
    """
    if not message_ids:
        return set()
    if connection.vendor != "postgresql":
        rows = Event.objects.filter(source_id=source_id, message_id__in=list(message_ids))
        return set(rows.values_list("message_id", flat=True))
    table = connection.ops.quote_name(Event._meta.db_table)
    # the table name comes from the model; every value is a parameter
    sql = (
        "SELECT m.id FROM unnest(%s::text[]) AS m(id) CROSS JOIN LATERAL "  # noqa: S608
        f"(SELECT 1 FROM {table} e WHERE e.source_id = %s AND e.message_id = m.id LIMIT 1) hit"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(message_ids), source_id])
        return {row[0] for row in cursor.fetchall()}
