"""Profile versions: a counter per profile, bumped in the transaction of every change.

Cached profile documents (``sources.personalization.documents``) are keyed
by (profile, version). Because the bump commits with the change, a reader
that sees the change also sees the new version, in any process, and never
the old document; nothing has to be deleted from the cache on time.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F

from customers.models import Customer

_CHUNK = 900  # SQLite's bound parameters per statement


def bump_versions(customer_ids: Iterable[int | None]) -> None:
    """Add one to these profiles' versions, inside the caller's transaction.

    Rows are locked in id order first, as ``lock_active`` does, so a segment
    recompute bumping thousands of profiles cannot deadlock with a batch.
    """
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if ids and not transaction.get_connection().in_atomic_block:
        with transaction.atomic():  # an admin action outside a transaction
            bump_versions(ids)
        return
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        locked = list(
            Customer.objects.filter(pk__in=chunk)
            .order_by("pk")
            .select_for_update()
            .values_list("pk", flat=True)
        )
        Customer.objects.filter(pk__in=locked).update(version=F("version") + 1)


def bump_versions_selected(*, select: str, params=()) -> int:
    """``bump_versions`` for the profile ids ``select`` (one column,
    ``customer_id``) yields, when they are in the database already (a segment
    recompute moving 400,000 profiles): one statement, rows locked in id
    order as ``bump_versions`` locks them. Returns how many were bumped."""
    table = connection.ops.quote_name(Customer._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"UPDATE {table} SET version = {table}.version + 1 FROM "  # noqa: S608
                f"(SELECT id FROM {table} WHERE id IN (SELECT customer_id FROM ({select}) AS s) "
                f"ORDER BY id FOR UPDATE) AS locked WHERE {table}.id = locked.id",
                params,
            )
        else:  # SQLite: writers are serialised already
            cursor.execute(
                f"UPDATE {table} SET version = version + 1 "  # noqa: S608
                f"WHERE id IN (SELECT customer_id FROM ({select}) AS s)",
                params,
            )
        return cursor.rowcount
