"""Profile versions: a counter per profile, bumped in the transaction of every change.

Cached profile documents (``sources.personalization.documents``) are keyed
by (profile, version). Because the bump commits with the change, a reader
that sees the change also sees the new version, in any process, and never
the old document; nothing has to be deleted from the cache on time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection, transaction
from django.db.models import F

from customers.models import Customer

_CHUNK = 900  # SQLite's bound parameters per statement

# the ids noted inside ``bumped_once``, or None outside it
_pending: ContextVar[set[int] | None] = ContextVar("pending_version_bumps", default=None)


def bump_versions(customer_ids: Iterable[int | None]) -> None:
    """Add one to these profiles' versions, inside the caller's transaction.

    Rows are locked in id order first, as ``lock_active`` does, so a segment
    recompute bumping thousands of profiles cannot deadlock with a batch.
    Inside ``bumped_once`` the ids are only noted.
    """
    pending = _pending.get()
    if pending is not None:
        pending.update(pk for pk in customer_ids if pk is not None)
        return
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


@contextmanager
def bumped_once() -> Iterator[set[int]]:
    """Bump each profile noted inside this block once, when it ends without error.

    A batch that gives one profile identities, events and traits would
    otherwise rewrite its row once per kind of change (and every index
    entry with it). Yields the noted ids: the caller removes those it needs
    not bump (rows created in this transaction, whose documents nobody can
    have cached; rows whose version it already moved another way). Nested
    blocks note into the outermost one. Readers see the change and the new
    version together either way: both commit with the transaction.
    """
    if _pending.get() is not None:
        yield _pending.get()
        return
    pending: set[int] = set()
    token = _pending.set(pending)
    try:
        yield pending
    finally:
        _pending.reset(token)
    bump_versions(pending)


def mark_bumped(customer_ids: Iterable[int]) -> None:
    """These profiles' versions moved in this transaction already (an UPDATE
    that also set ``version = version + 1``): ``bumped_once`` leaves them be."""
    pending = _pending.get()
    if pending is not None:
        pending.difference_update(customer_ids)


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
