"""Write what happened to the outbox, inside the caller's transaction.

``Topic`` is the one list of topics; write ``Topic.TRACK``, not ``"track"``.
"""

from __future__ import annotations

import json
from datetime import datetime

from django.db import connection

from core.models import OutboxEntry

Topic = OutboxEntry.Topic


def emit(*, topic: str, customer, payload: dict) -> OutboxEntry:
    """One entry about ``customer`` (a ``customers.Customer`` or None)."""
    return OutboxEntry.objects.create(topic=topic, customer=customer, payload=payload)


def emit_for_customers(
    *, topic: str, customer_ids: list[int], payload: dict, created_at: datetime
) -> int:
    """One entry per customer: ``payload`` plus ``"customer_id"``, in one INSERT … SELECT.

    For bulk changes (a segment recompute entering 100,000 profiles), where
    building model instances would cost seconds.
    """
    if not customer_ids:
        return 0
    table = connection.ops.quote_name(OutboxEntry._meta.db_table)
    if connection.vendor == "postgresql":
        ids = "SELECT unnest(%s::bigint[]) AS id"
        body = "(%s::jsonb || jsonb_build_object('customer_id', ids.id))"
        id_param: object = list(customer_ids)
    else:
        ids = "SELECT CAST(value AS INTEGER) AS id FROM json_each(%s)"
        body = "json_set(%s, '$.customer_id', ids.id)"
        id_param = json.dumps(list(customer_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (topic, customer_id, payload, created_at) "  # noqa: S608
            f"SELECT %s, ids.id, {body}, %s FROM ({ids}) AS ids",
            [topic, json.dumps(payload), created_at, id_param],
        )
    return len(customer_ids)
