"""Answer "which of these profiles are in which of these segments" fast enough for live use.

Building the SQL for 50 rules through the ORM costs far more Python time than
the database needs to answer it, yet that SQL only changes when a segment
does. So each process keeps the compiled statement of a bundle of segments
for a few seconds, built for placeholder customer ids that are swapped for
the real ones at each call (batch sizes round up to a power of two). On
PostgreSQL it is executed as a prepared statement, so its plan is reused
as well.

Without an explicit ``now``, time windows ("within the last 30 days") are
measured from the start of the current ``BUCKET_SECONDS`` slot, so they may
lag by up to a minute; the scheduled recompute uses the exact time.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import BooleanField, ExpressionWrapper
from django.utils import timezone

from customers.models import Customer, Event
from segments.compiler import CompileError, Context, compile_rule
from segments.models import Segment

log = logging.getLogger(__name__)
BUCKET_SECONDS = 60
CACHE_SIZE = 64
# Placeholder ids: far below anything a validated rule can contain (|n| < 10**15).
_PLACEHOLDER = -(10**17)
_cache: OrderedDict[tuple, tuple[str, list, list[tuple[int, int]], list[int]]] = OrderedDict()


def clear_cache() -> None:
    _cache.clear()


def evaluate(
    *,
    segment_ids: Sequence[int],
    customer_ids: Sequence[int],
    version: object,
    now: datetime | None,
) -> tuple[set[tuple[int, int]], list[int]]:
    """Matching (segment id, customer id) pairs among active profiles, and the segments
    actually evaluated (a rule whose referenced segment vanished is skipped).

    ``version`` must change whenever any segment changes.
    """
    if now is None:
        current = timezone.now()
        now = current - timedelta(seconds=current.timestamp() % BUCKET_SECONDS, microseconds=0)
    # Batches of any size share the statements of the next power of two
    # (the last id repeated), so a stream of varying batches compiles a few.
    slots = 1 << (len(customer_ids) - 1).bit_length()
    customer_ids = [*customer_ids, *[customer_ids[-1]] * (slots - len(customer_ids))]
    key = (version, tuple(segment_ids), slots, now)
    if key not in _cache:
        _cache[key] = _compile(segment_ids, slots, now)
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    _cache.move_to_end(key)
    sql, template, positions, evaluated = _cache[key]
    params = list(template)
    for index, slot in positions:
        params[index] = customer_ids[slot]
    matches = {
        (segment_id, row[0])
        for row in _execute(sql, params)
        for segment_id, matched in zip(evaluated, row[1:], strict=True)
        if matched
    }
    return matches, evaluated


def _compile(segment_ids: Sequence[int], count: int, now: datetime):
    rules = dict(Segment.objects.filter(pk__in=segment_ids).values_list("pk", "rule"))
    placeholders = [_PLACEHOLDER - slot for slot in range(count)]
    context = Context(now=now, scope=placeholders)
    columns = {}
    for segment_id in segment_ids:
        try:
            condition = compile_rule(rules[segment_id], now=now, context=context)
        except (CompileError, KeyError):
            log.exception("segment %s cannot be compiled; skipped", segment_id)
            continue
        columns[f"s{segment_id}"] = ExpressionWrapper(condition, output_field=BooleanField())
    query = Customer.objects.active().filter(pk__in=placeholders).order_by().values("pk", **columns)
    sql, params = query.query.sql_with_params()
    sql, params = _read_events_once(sql, list(params), placeholders)
    slots = {value: slot for slot, value in enumerate(placeholders)}
    positions = [
        (index, slots[value])
        for index, value in enumerate(params)
        if type(value) is int and value in slots
    ]
    return sql, list(params), positions, [int(name[1:]) for name in columns]


def _read_events_once(sql: str, params: list, placeholders: list[int]) -> tuple[str, list]:
    """PostgreSQL: read these profiles' events once, and let every rule read that.

    Each event subquery of each rule would otherwise expand into one scan per
    monthly partition, and initialising thousands of scans costs more than
    running them. The rewrite only renames the table the subqueries read.
    """
    table = connection.ops.quote_name(Event._meta.db_table)
    marker = f"FROM {table} "
    if connection.vendor != "postgresql" or marker not in sql:
        return sql, params
    marks = ", ".join(["%s"] * len(placeholders))
    prefix = (
        f"WITH scoped_events AS MATERIALIZED (SELECT * FROM {table} "  # noqa: S608
        f"WHERE customer_id IN ({marks})) "
    )
    return prefix + sql.replace(marker, "FROM scoped_events "), [*placeholders, *params]


def _execute(sql: str, params: list) -> list[tuple]:
    if connection.vendor == "postgresql":
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            # Planning 50 rules over a partitioned events table costs more than
            # running them: plan once per connection, prune partitions at run time.
            cursor.execute("SET plan_cache_mode = force_generic_plan")
            try:
                cursor.execute(sql, params, prepare=True)
                return cursor.fetchall()
            finally:
                cursor.execute("RESET plan_cache_mode")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
