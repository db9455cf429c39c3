"""A recompute's membership changes, written as set operations in SQL.

The profiles matching the rule land in a temporary table; entering is
"matching and not a member", exiting "a member and not matching". What each
statement really changed (``INSERT … ON CONFLICT DO NOTHING RETURNING``,
``UPDATE … RETURNING``, so a live re-evaluation that got there first is not
counted twice) lands in two more temporary tables, which the outbox entries
and the profiles' document stamps are written from (entries as chunks of up
to 1,000 profile ids, ``core.outbox.emit_chunks_for_selected``; exits one
entry per profile). No id travels to Python and back: a first compute of a
400,000-member segment is a handful of statements.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.db import IntegrityError, connection, transaction

from core.db.sets import bulk_planning, create_id_table, drop_tables, keep_returned
from core.outbox import Topic, emit_chunks_for_selected, emit_for_selected
from customers.services.versions import bump_stamps_selected
from segments.models import Segment, SegmentMembership

MATCH, ENTERED, EXITED = "segment_match", "segment_entered", "segment_exited"


def apply_matching(
    *, segment: Segment, sql: str, params, now: datetime, materialize: bool = True
) -> tuple[int, int]:
    """Make the segment's current members exactly the ids ``sql`` selects;
    returns (entered, exited). Inside the caller's transaction.

    ``materialize``: the ids land in a temporary table first, read by both
    statements. Without (``sql`` then names its one column ``customer_id``
    and yields each id once: ``compiler.matching_from_events``), no table:
    on PostgreSQL exits and entries are one statement that evaluates the
    rule once; elsewhere each statement reads ``sql`` itself, exits first,
    so on a first compute (no member to test) only the insert evaluates it.
    """
    table = connection.ops.quote_name(SegmentMembership._meta.db_table)
    with connection.cursor() as cursor:
        with bulk_planning(cursor):
            if materialize:
                create_id_table(cursor, MATCH, sql, params)
                sql, params = f"SELECT customer_id FROM {MATCH}", []  # noqa: S608
            create_id_table(cursor, ENTERED)
            create_id_table(cursor, EXITED)
            if not materialize and connection.vendor == "postgresql":
                entered, exited = _move_in_one_statement(
                    cursor, table, segment, sql, list(params), now
                )
            else:
                exited = keep_returned(
                    cursor,
                    f"UPDATE {table} SET exited_at = %s WHERE segment_id = %s "  # noqa: S608
                    f"AND exited_at IS NULL AND NOT EXISTS (SELECT 1 FROM ({sql}) m "
                    f"WHERE m.customer_id = {table}.customer_id) RETURNING customer_id",
                    [now, segment.pk, *params],
                    EXITED,
                )
                entered = _insert_members(cursor, table, segment, sql, list(params), now)
        # Planned normally: the moved ids' tables are analyzed, so a handful
        # of moves is a few index lookups, not a scan of every profile.
        if entered or exited:
            # the profiles' documents list their segments: their stamps move
            # (narrow rows; the wide profile rows are not rewritten)
            bump_stamps_selected(
                select=f"SELECT customer_id FROM {ENTERED} "  # noqa: S608
                f"UNION ALL SELECT customer_id FROM {EXITED}"
            )
            payload = transition_payload(segment, now)
            if entered:
                # chunks of 1,000 ids: a first compute writes hundreds of
                # entries, not one (and one foreign-key check) per member
                emit_chunks_for_selected(
                    topic=Topic.SEGMENT_ENTERED,
                    select=f"SELECT customer_id FROM {ENTERED}",  # noqa: S608
                    payload=payload,
                    created_at=now,
                )
            if exited:
                emit_for_selected(
                    topic=Topic.SEGMENT_EXITED,
                    select=f"SELECT customer_id FROM {EXITED}",  # noqa: S608
                    payload=payload,
                    created_at=now,
                )
        drop_tables(cursor, MATCH, ENTERED, EXITED)
    return entered, exited


def _move_in_one_statement(
    cursor, table: str, segment: Segment, sql: str, params: list, now
) -> tuple[int, int]:
    """Exits and entries in one statement over the rule's ids, held once in
    memory (PostgreSQL): returns (entered, exited), their ids kept in
    ``ENTERED`` / ``EXITED``. Both parts see the members as they were before
    it: the profiles that exit are the ones not matching, which the insert
    does not look at. The insert is plain, in a savepoint, as in
    ``_insert_members``."""

    def statement(conflict: str) -> str:
        return (
            f"WITH m AS MATERIALIZED ({sql}), "  # noqa: S608
            f"exited AS (UPDATE {table} SET exited_at = %s WHERE segment_id = %s "
            "AND exited_at IS NULL AND NOT EXISTS (SELECT 1 FROM m "
            f"WHERE m.customer_id = {table}.customer_id) RETURNING {table}.customer_id), "
            f"kept AS (INSERT INTO {EXITED} (customer_id) SELECT customer_id FROM exited), "
            f"entered AS (INSERT INTO {table} (segment_id, customer_id, entered_at) "
            "SELECT %s, m.customer_id, %s FROM m WHERE NOT EXISTS "
            f"(SELECT 1 FROM {table} s WHERE s.segment_id = %s "
            "AND s.customer_id = m.customer_id AND s.exited_at IS NULL) "
            f"ORDER BY m.customer_id{conflict} RETURNING customer_id) "
            f"INSERT INTO {ENTERED} (customer_id) SELECT customer_id FROM entered"
        )

    values = [*params, now, segment.pk, segment.pk, now, segment.pk]

    def run(conflict: str) -> int:
        cursor.execute(statement(conflict), values)
        return cursor.rowcount

    entered = _plain_then_on_conflict(run)
    cursor.execute(f"SELECT count(*) FROM {EXITED}")  # noqa: S608
    exited = cursor.fetchone()[0]
    cursor.execute(f"ANALYZE {ENTERED}")
    cursor.execute(f"ANALYZE {EXITED}")
    return entered, exited


def _insert_members(cursor, table: str, segment: Segment, sql: str, params: list, now) -> int:
    """Insert the matching non-members, in id order (each index takes its
    entries at its right edge), their ids kept in ``ENTERED``.

    A plain ``INSERT`` (``ON CONFLICT`` checks each of 400,000 rows
    speculatively), in a savepoint: when a live re-evaluation entered one of
    the profiles meanwhile, the unique constraint fails it and the insert runs
    again with ``ON CONFLICT DO NOTHING`` (that profile is not counted twice).
    """
    statement = (
        f"INSERT INTO {table} (segment_id, customer_id, entered_at) "  # noqa: S608
        f"SELECT %s, m.customer_id, %s FROM ({sql}) m WHERE NOT EXISTS "
        f"(SELECT 1 FROM {table} s WHERE s.segment_id = %s "
        "AND s.customer_id = m.customer_id AND s.exited_at IS NULL) "
        "ORDER BY m.customer_id"
    )
    values = [segment.pk, now, *params, segment.pk]
    return _plain_then_on_conflict(
        lambda conflict: keep_returned(
            cursor, f"{statement}{conflict} RETURNING customer_id", values, ENTERED
        )
    )


def _plain_then_on_conflict(run: Callable[[str], int]) -> int:
    """``run("")`` (a plain ``INSERT``) in a savepoint; on a unique violation,
    rolled back, ``run(" ON CONFLICT DO NOTHING")``."""
    try:
        with transaction.atomic(savepoint=True):
            return run("")
    except IntegrityError:
        return run(" ON CONFLICT DO NOTHING")


def transition_payload(segment: Segment, now: datetime) -> dict:
    """The outbox payload of a ``segment.entered`` / ``segment.exited`` entry
    (the writer adds ``customer_id``)."""
    return {"segment_id": segment.pk, "segment": segment.name, "at": now.isoformat()}
