"""Write what happened to the outbox, inside the caller's transaction.

``Topic`` is the one list of topics; write ``Topic.TRACK``, not ``"track"``.

Most entries are about one profile (``customer``). A *chunk* is about many:
no ``customer``, and up to ``CHUNK_SIZE`` profile ids, ascending, in its
payload's ``"customer_ids"`` (``emit_chunks_for_selected``: a recompute
entering 400,000 profiles writes 400 rows, not 400,000). Readers ask
``entry_customer_ids`` which profiles an entry is about; the webhook
dispatcher fans a chunk out into one delivery per profile.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from django.db import connection

from core.models import OutboxEntry

Topic = OutboxEntry.Topic

# Event types other parts subscribe to (webhooks: identify calls, track by name).
EVENT_TOPICS = frozenset({Topic.IDENTIFY, Topic.TRACK})

CHUNK_SIZE = 1000
CUSTOMER_IDS = "customer_ids"


def is_chunk(entry: OutboxEntry) -> bool:
    """Whether the entry names its profiles in its payload (``CUSTOMER_IDS``)."""
    return (
        entry.customer_id is None
        and isinstance(entry.payload, dict)
        and CUSTOMER_IDS in entry.payload
    )


def entry_customer_ids(entry: OutboxEntry) -> list[int]:
    """The profiles an entry is about: its ``customer``, or a chunk's ids (none for
    an entry about no profile)."""
    if entry.customer_id is not None:
        return [entry.customer_id]
    ids = entry.payload.get(CUSTOMER_IDS) if isinstance(entry.payload, dict) else None
    return [pk for pk in ids if isinstance(pk, int)] if isinstance(ids, list) else []


def event_payload(
    *,
    customer_id: int,
    event_id: int,
    name: str,
    properties: dict,
    timestamp: datetime,
    message_id: str,
    source_id: int,
    integrations: dict | None = None,
) -> dict:
    """The outbox payload of a stored identify or track call (one shape for every writer);
    ``integrations`` (which destinations the caller addressed) only when given."""
    return {
        "customer_id": customer_id,
        "event_id": event_id,
        "event": name,
        "properties": properties,
        "timestamp": timestamp.isoformat(),
        "message_id": message_id,
        "source_id": source_id,
        **({"integrations": integrations} if integrations else {}),
    }


def emit(*, topic: str, customer, payload: dict) -> OutboxEntry:
    """One entry about ``customer`` (a ``customers.Customer`` or None)."""
    return OutboxEntry.objects.create(topic=topic, customer=customer, payload=payload)


def emit_for_customers(
    *, topic: str, customer_ids: list[int], payload: dict, created_at: datetime
) -> int:
    """One entry per customer: ``payload`` plus ``"customer_id"``, in one INSERT … SELECT.

    For changes of many profiles, where building model instances would cost
    seconds; ``emit_for_selected`` when the ids are in the database already.
    """
    if not customer_ids:
        return 0
    if connection.vendor == "postgresql":
        select = "SELECT unnest(%s::bigint[]) AS customer_id"
        ids: object = list(customer_ids)
    else:
        select = "SELECT CAST(value AS INTEGER) AS customer_id FROM json_each(%s)"
        ids = json.dumps(list(customer_ids))
    return emit_for_selected(
        topic=topic, select=select, params=[ids], payload=payload, created_at=created_at
    )


def emit_for_selected(
    *, topic: str, select: str, params=(), payload: dict, created_at: datetime
) -> int:
    """One entry per customer id that ``select`` (one column, ``customer_id``)
    yields, in id order: ``payload`` plus ``"customer_id"``. The ids never
    leave the database (a segment recompute entering 400,000 profiles)."""
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    if connection.vendor == "postgresql":
        body = "(%s::jsonb || jsonb_build_object('customer_id', ids.customer_id))"
    else:
        body = "json_set(%s, '$.customer_id', ids.customer_id)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (topic, customer_id, payload, created_at) "  # noqa: S608
            f"SELECT %s, ids.customer_id, {body}, %s FROM ({select}) AS ids "
            "ORDER BY ids.customer_id",
            [topic, json.dumps(payload), created_at, *params],
        )
        return cursor.rowcount


def emit_chunks_for_selected(
    *, topic: str, select: str, params=(), payload: dict, created_at: datetime
) -> int:
    """Chunks of up to ``CHUNK_SIZE`` of the customer ids ``select`` (one
    column, ``customer_id``; no repeats) yields: ``payload`` plus
    ``"customer_ids"``, ascending, the chunks in id order. On PostgreSQL one
    ``INSERT … SELECT`` (the ids never leave the database). Returns the number
    of entries written.

    A chunk has no foreign key to its profiles: whoever deletes a profile
    removes its id from chunks (the segments eraser does, for ``segment.entered``).
    """
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} (topic, customer_id, payload, created_at) "  # noqa: S608
                "SELECT %s, NULL, %s::jsonb || jsonb_build_object("
                "'customer_ids', jsonb_agg(customer_id ORDER BY customer_id)), %s "
                "FROM (SELECT ids.customer_id, "
                "(row_number() OVER (ORDER BY ids.customer_id) - 1) / %s AS chunk "
                f"FROM ({select}) AS ids) AS numbered GROUP BY chunk ORDER BY chunk",
                [topic, json.dumps(payload), created_at, CHUNK_SIZE, *params],
            )
            return cursor.rowcount
        cursor.execute(
            f"SELECT ids.customer_id FROM ({select}) AS ids ORDER BY ids.customer_id",  # noqa: S608
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
    OutboxEntry.objects.bulk_create(
        OutboxEntry(
            topic=topic,
            payload={**payload, CUSTOMER_IDS: ids[start : start + CHUNK_SIZE]},
            created_at=created_at,
        )
        for start in range(0, len(ids), CHUNK_SIZE)
    )
    return -(-len(ids) // CHUNK_SIZE)


def remove_from_chunks(*, topic: str, customer_ids: Iterable[int]) -> int:
    """Take these profiles' ids out of every ``topic`` chunk naming them (a chunk
    left empty is deleted), the entries locked; inside the caller's transaction.
    An id matches as an element of ``"customer_ids"``, never as part of another
    number. Returns the number of entries rewritten or deleted."""
    erased = set(customer_ids)
    if not erased:
        return 0
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"SELECT id FROM {table} WHERE topic = %s AND customer_id IS NULL "  # noqa: S608
                "AND payload -> 'customer_ids' @> ANY(%s::jsonb[])",
                [topic, [json.dumps([pk]) for pk in sorted(erased)]],
            )
        else:
            marks = ", ".join(["%s"] * len(erased))
            cursor.execute(
                f"SELECT id FROM {table} AS o WHERE topic = %s AND customer_id IS NULL "  # noqa: S608
                "AND EXISTS (SELECT 1 FROM json_each(o.payload, '$.customer_ids') AS e "
                f"WHERE e.type = 'integer' AND e.value IN ({marks}))",
                [topic, *sorted(erased)],
            )
        pks = [row[0] for row in cursor.fetchall()]
    changed = 0
    for entry in OutboxEntry.objects.filter(pk__in=pks).order_by("pk").select_for_update():
        ids = entry.payload.get(CUSTOMER_IDS, [])
        kept = [pk for pk in ids if pk not in erased]
        if kept == ids:
            continue
        if kept:
            entry.payload = {**entry.payload, CUSTOMER_IDS: kept}
            entry.save(update_fields=["payload"])
        else:
            entry.delete()
        changed += 1
    return changed
