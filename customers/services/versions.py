"""Profile versions: counters per profile, bumped in the transaction of every change.

Cached profile documents (``sources.personalization.documents``) are keyed
by (profile, version). Because the bump commits with the change, a reader
that sees the change also sees the new version, in any process, and never
the old document; nothing has to be deleted from the cache on time.

A document's version is the sum of two counters that only grow
(``customers.pointers``): ``Customer.version``, moved with the profile's own
row (``bump_versions``; free when the change rewrites the row anyway), and
``ProfileStamp.stamp``, a narrow row of its own for what other parts derive
from the profile (segment membership, stored traits: ``bump_stamps``). A
segment entering 400,000 profiles writes 400,000 narrow rows, not 400,000
wide profile rows with ten index entries each.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import IntegrityError, connection, transaction
from django.db.models import F

from customers.models import Customer, ProfileStamp

_CHUNK = 900  # SQLite's bound parameters per statement

# the ids noted inside ``bumped_once``, or None outside it
_pending: ContextVar[set[int] | None] = ContextVar("pending_version_bumps", default=None)


def bump_versions(customer_ids: Iterable[int | None]) -> None:
    """Add one to these profiles' versions, inside the caller's transaction.

    Rows are locked in id order first, as ``lock_active`` does, so a bulk
    change bumping thousands of profiles cannot deadlock with a batch.
    Inside ``bumped_once`` the ids are only noted. For changes derived from
    a profile rather than made to it (segments, stored traits): ``bump_stamps``.
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
    ``customer_id``) yields, when they are in the database already: one
    statement, rows locked in id order as ``bump_versions`` locks them.
    Returns how many were bumped. (Segment recomputes moving 400,000
    profiles use ``bump_stamps_selected``: no wide row is rewritten.)"""
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


def bump_stamps(customer_ids: Iterable[int | None]) -> None:
    """Move these profiles' document versions for a change derived from them
    (a segment entered or left, a stored trait value), inside the caller's
    transaction, without rewriting their profile rows.

    Inside ``bumped_once`` the ids are noted with the others: the one bump
    of the row at the end moves the document's version for this change too.
    """
    pending = _pending.get()
    if pending is not None:
        pending.update(pk for pk in customer_ids if pk is not None)
        return
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if not ids:
        return
    if connection.vendor == "postgresql":
        select, params = "SELECT unnest(%s::bigint[]) AS customer_id", [ids]
    else:
        select, params = (
            "SELECT CAST(value AS INTEGER) AS customer_id FROM json_each(%s)",
            [json.dumps(ids)],
        )
    if not transaction.get_connection().in_atomic_block:
        with transaction.atomic():  # an admin action outside a transaction
            bump_stamps_selected(select=select, params=params)
        return
    bump_stamps_selected(select=select, params=params)


def bump_stamps_selected(*, select: str, params=()) -> int:
    """``bump_stamps`` for the profile ids ``select`` (one column,
    ``customer_id``; repeats allowed) yields, when they are in the database
    already (a segment recompute moving 400,000 profiles): one statement.
    Stamps are written in id order, so two writers never wait on each
    other in a cycle. Returns how many profiles' stamps moved.

    On PostgreSQL the profiles that have a stamp are updated and the others
    get theirs by a plain insert, in one statement (an upsert checks each of
    400,000 new rows speculatively first); when another transaction created
    one of those stamps meanwhile, the insert fails on the primary key and
    the whole bump runs again as the upsert, in a savepoint.
    """
    table = connection.ops.quote_name(ProfileStamp._meta.db_table)
    moved = (
        f"SELECT customer_id FROM ({select}) AS s WHERE customer_id IS NOT NULL "  # noqa: S608
        "GROUP BY customer_id ORDER BY customer_id"
    )
    # SQLite needs the WHERE to read ON CONFLICT as the upsert's, not a join's
    upsert = (
        f"INSERT INTO {table} (customer_id, stamp) "  # noqa: S608
        f"SELECT customer_id, 1 FROM ({select}) AS s WHERE customer_id IS NOT NULL "
        "GROUP BY customer_id ORDER BY customer_id "
        f"ON CONFLICT (customer_id) DO UPDATE SET stamp = {table}.stamp + 1"
    )
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute(upsert, params)
            return cursor.rowcount
        split = (
            f"WITH moved AS MATERIALIZED ({moved}), "  # noqa: S608
            f"updated AS (UPDATE {table} SET stamp = {table}.stamp + 1 FROM moved "
            f"WHERE {table}.customer_id = moved.customer_id RETURNING {table}.customer_id), "
            f"inserted AS (INSERT INTO {table} (customer_id, stamp) SELECT customer_id, 1 "
            "FROM moved WHERE NOT EXISTS (SELECT 1 FROM updated "
            "WHERE updated.customer_id = moved.customer_id) ORDER BY customer_id "
            "RETURNING customer_id) "
            "SELECT (SELECT count(*) FROM updated) + (SELECT count(*) FROM inserted)"
        )
        try:
            with transaction.atomic(savepoint=True):
                cursor.execute(split, params)
                return cursor.fetchone()[0]
        except IntegrityError:
            cursor.execute(upsert, params)
            return cursor.rowcount
