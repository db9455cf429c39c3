"""The write layer for stored computed traits: values another app computes.

``insights`` (RFM, lifecycle, scores, predictions) sits above ``segments``
and cannot be imported from here; instead it declares its traits and writes
their values through these functions. Rules use them as
``{"computed_trait": name}`` (see ``segments.computed.stored_trait_q``), the
profile API and the 360° page read them with the on-read computed traits.

A write changes what rules answer, so it re-evaluates the segments that use
the trait: live for a few profiles, as a full recompute after a bulk
replacement (a task; inline without a broker).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction

from core.db.copy import insert_values
from core.db.sets import drop_tables
from core.errors import DomainError
from customers.services.versions import bump_stamps, bump_stamps_selected
from segments import evaluation, tasks
from segments.models import ComputedTrait, Segment, StoredTrait, StoredTraitValue
from segments.services import reevaluate_customers

MAX_TEXT = 200


class TraitNameTaken(DomainError, ValueError):
    """The name already belongs to an on-read computed trait or another producer."""

    kind = "conflict"

    def __init__(self, message: str) -> None:
        super().__init__("trait_name_taken", message, "name")


@dataclass(frozen=True)
class StoredValue:
    """One profile's value (a number, a text or None) and why it has it."""

    customer_id: int
    value: object
    explanation: dict = field(default_factory=dict)


@transaction.atomic
def declare_stored_trait(
    *, name: str, numeric: bool, producer: str, description: str = ""
) -> StoredTrait:
    """Create (or update) the definition of a stored trait; idempotent."""
    if ComputedTrait.objects.filter(name=name).exists():
        raise TraitNameTaken(f"{name!r} is an on-read computed trait")
    trait, created = StoredTrait.objects.get_or_create(
        name=name,
        defaults={"numeric": numeric, "producer": producer, "description": description},
    )
    if not created:
        if trait.producer != producer:
            raise TraitNameTaken(f"{name!r} is computed by {trait.producer}")
        if (trait.numeric, trait.description) != (numeric, description):
            trait.numeric, trait.description = numeric, description
            trait.save(update_fields=["numeric", "description"])
    evaluation.clear_cache()
    return trait


def _row(trait: StoredTrait, item: StoredValue, computed_at: datetime) -> tuple:
    value = item.value
    if trait.numeric:
        number = None if value is None else float(value)
        text = ""
    else:
        number = None
        text = "" if value is None else str(value)[:MAX_TEXT]
    return (trait.pk, item.customer_id, number, text, value, item.explanation, computed_at)


_COLUMNS = ("trait_id", "customer_id", "number", "text", "value", "explanation", "computed_at")


def _insert(rows: Iterable[tuple]) -> None:
    """Insert value rows (a few profiles: ``core.db.copy``)."""
    insert_values(StoredTraitValue, _COLUMNS, rows)


_ENCODER = json.JSONEncoder(separators=(",", ":"))  # one, not one per json.dumps call


def _json(data) -> str:
    return _ENCODER.encode(data)


def replace_stored_values(
    *, name: str, values: Iterable[StoredValue], computed_at: datetime
) -> int:
    """Replace every value of the trait (a daily recompute); profiles not in
    ``values`` lose theirs. Segments using the trait are recomputed after commit."""
    return replace_stored_rows(
        name=name,
        rows=((v.customer_id, v.value, _json(v.explanation)) for v in values),
        computed_at=computed_at,
    )


_INCOMING = "stored_trait_incoming"
_CHANGED = "stored_trait_changed"
_PLAN = "stored_trait_plan"


@transaction.atomic
def replace_stored_rows(
    *, name: str, rows: Iterable[tuple[int, object, str]], computed_at: datetime
) -> int:
    """``replace_stored_values`` for producers of many values: each row is
    ``(customer_id, value, explanation as JSON text)``, rendered by the
    producer without a dict per profile."""
    return replace_stored_traits(traits={name: rows}, computed_at=computed_at)[name]


@transaction.atomic
def replace_stored_traits(
    *, traits: Mapping[str, Iterable[tuple[int, object, str]]], computed_at: datetime
) -> dict[str, int]:
    """Replace every value of several traits in one transaction (rows as in
    ``replace_stored_rows``, consumed one trait after the other); returns the
    number of values of each.

    Each trait's rows go to a temporary table (``COPY`` on PostgreSQL); one
    join with the stored rows plans what to write (``_plan``); then, in
    set-based statements, values of profiles not in it are deleted, changed
    ones updated and new ones inserted. A value whose number, text and
    explanation did not change is left alone: its ``computed_at`` is when it
    last changed. Updating in place also spares the foreign-key checks an
    insert pays on every row, and the table's half-empty pages (migration
    ``0005``) let most updates stay on their page without new index
    entries. Only profiles whose values changed (gained,
    lost, or a new value; not a new explanation alone) get a new version —
    their documents list the values — once for all the traits. Their ids
    stay in the database (a temporary table; no id travels to Python and
    back), and one statement moves their versions.
    """
    with connection.cursor() as cursor:
        # no key: a profile may change in several traits
        cursor.execute(f"DROP TABLE IF EXISTS {_CHANGED}")
        cursor.execute(f"CREATE TEMPORARY TABLE {_CHANGED} (customer_id bigint)")
    counts = {name: _replace(name, rows, computed_at) for name, rows in traits.items()}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {_CHANGED}")
        bump_stamps_selected(select=f"SELECT customer_id FROM {_CHANGED}")  # noqa: S608
        drop_tables(cursor, _CHANGED)
    for name in traits:
        _recompute_dependents(name)
    return counts


# What a row of the plan does to the table (``_plan``).
_EXPLAINED, _MOVED, _NEW, _GONE = range(4)


def _replace(name: str, rows, computed_at: datetime) -> int:
    trait = StoredTrait.objects.select_for_update().get(name=name)
    table = connection.ops.quote_name(StoredTraitValue._meta.db_table)
    postgres = connection.vendor == "postgresql"
    json_type = "jsonb" if postgres else "text"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_INCOMING}")
        cursor.execute(
            # no key to maintain: the statements below are hash joins
            f"CREATE TEMPORARY TABLE {_INCOMING} (customer_id bigint NOT NULL, "
            f"number double precision, text varchar({MAX_TEXT}), value {json_type}, "
            f"explanation {json_type})"
        )
        count = _load_incoming(cursor, trait, rows)
        if postgres:  # the joins need the key's statistics, not the JSON's
            cursor.execute(f"ANALYZE {_INCOMING} (customer_id)")
        ops = _plan(cursor, table, trait.pk, postgres)
        # Profile documents show values, not explanations: a value gained,
        # lost or changed moves the profile's version, a new explanation does not.
        cursor.execute(
            f"INSERT INTO {_CHANGED} (customer_id) "  # noqa: S608
            f"SELECT customer_id FROM {_PLAN} WHERE op > {_EXPLAINED}"
        )
        if ops.get(_GONE):
            cursor.execute(
                f"DELETE FROM {table} WHERE trait_id = %s AND customer_id IN "  # noqa: S608
                f"(SELECT customer_id FROM {_PLAN} WHERE op = {_GONE})",
                [trait.pk],
            )
        if ops.get(_EXPLAINED) or ops.get(_MOVED):
            cursor.execute(
                f"UPDATE {table} SET number = p.number, text = p.text, value = p.value, "  # noqa: S608
                f"explanation = p.explanation, computed_at = %s FROM {_PLAN} p "
                f"WHERE {table}.trait_id = %s AND {table}.customer_id = p.customer_id "
                f"AND p.op <= {_MOVED}",
                [computed_at, trait.pk],
            )
        if ops.get(_NEW):
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(_COLUMNS)}) "  # noqa: S608
                f"SELECT %s, customer_id, number, text, value, explanation, %s FROM {_PLAN} "
                f"WHERE op = {_NEW}",
                [trait.pk, computed_at],
            )
        drop_tables(cursor, _INCOMING, _PLAN)
    return count


def _plan(cursor, table: str, trait_id: int, postgres: bool) -> dict[int, int]:
    """Compare the incoming rows with the trait's stored ones in one join and
    keep what has to be written (``_PLAN``: the incoming columns and an
    ``op``); unchanged values are left out. Returns how many rows of each op.

    The writes then read only the plan: an insert needs no join, a delete
    runs only when someone lost the value. (On SQLite, which may lack
    ``FULL JOIN``, the lost values are found by a second statement.)
    """
    differs = "IS DISTINCT FROM" if postgres else "IS NOT"
    moved = f"s.number {differs} i.number OR s.text <> i.text OR s.value {differs} i.value"
    stored = (
        f"(SELECT customer_id, number, text, value, explanation FROM {table} "  # noqa: S608
        "WHERE trait_id = %s) s"
    )
    join = "FULL JOIN" if postgres else "LEFT JOIN"
    cursor.execute(f"DROP TABLE IF EXISTS {_PLAN}")
    cursor.execute(
        f"CREATE TEMPORARY TABLE {_PLAN} AS "  # noqa: S608
        "SELECT COALESCE(i.customer_id, s.customer_id) AS customer_id, i.number, i.text, "
        "i.value, i.explanation, "
        f"CASE WHEN i.customer_id IS NULL THEN {_GONE} WHEN s.customer_id IS NULL THEN {_NEW} "
        f"WHEN {moved} THEN {_MOVED} ELSE {_EXPLAINED} END AS op "
        f"FROM {_INCOMING} i {join} {stored} ON s.customer_id = i.customer_id "
        f"WHERE i.customer_id IS NULL OR s.customer_id IS NULL OR {moved} "
        "OR s.explanation <> i.explanation",
        [trait_id],
    )
    if not postgres:
        cursor.execute(
            f"INSERT INTO {_PLAN} (customer_id, op) SELECT customer_id, {_GONE} "  # noqa: S608
            f"FROM {table} WHERE trait_id = %s AND customer_id NOT IN "
            f"(SELECT customer_id FROM {_INCOMING})",
            [trait_id],
        )
    cursor.execute(f"SELECT op, COUNT(*) FROM {_PLAN} GROUP BY op")  # noqa: S608
    ops = dict(cursor.fetchall())
    if postgres and ops:
        cursor.execute(f"ANALYZE {_PLAN} (customer_id, op)")
    return ops


def _columns(numeric: bool, value) -> tuple[float | None, str, str | None]:
    """(number, text, value as JSON) of a value of a numeric or text trait."""
    if value is None:
        return None, "", None
    if numeric:
        number = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return number, "", _json(number)
        return number, "", repr(value)  # as json.dumps writes a finite number
    text = str(value)[:MAX_TEXT]
    return None, text, _json(value)


def _load_incoming(cursor, trait: StoredTrait, rows: Iterable[tuple[int, object, str]]) -> int:
    count = 0
    if connection.vendor != "postgresql":
        batch = []
        for customer_id, value, explanation in rows:
            batch.append((customer_id, *_columns(trait.numeric, value), explanation))
        sql = f"INSERT INTO {_INCOMING} VALUES (%s, %s, %s, %s, %s)"  # noqa: S608
        cursor.executemany(sql, batch)
        return len(batch)
    # psycopg formats and escapes each row in C (``write_row``); an int or a
    # float (most rows) is written as its repr, as ``_columns`` would.
    numeric = trait.numeric
    plain = (int, float)
    known: dict[object, tuple] = {}  # text traits repeat few values
    with cursor.cursor.copy(f"COPY {_INCOMING} FROM STDIN") as copy:
        write = copy.write_row
        for customer_id, value, explanation in rows:
            count += 1
            if numeric and value.__class__ in plain:
                write((customer_id, value, "", repr(value), explanation))
                continue
            if numeric or value is None:
                columns = _columns(numeric, value)
            elif value in known:
                columns = known[value]
            else:
                columns = known[value] = _columns(False, value)
            write((customer_id, *columns, explanation))
    return count


@transaction.atomic
def write_stored_values(
    *, name: str, values: Sequence[StoredValue], computed_at: datetime, reevaluate: bool = True
) -> int:
    """Set the trait for the given profiles only (e.g. one profile after a
    purchase); their segments are re-evaluated at once."""
    trait = StoredTrait.objects.get(name=name)
    ids = sorted({item.customer_id for item in values})
    StoredTraitValue.objects.filter(trait=trait, customer_id__in=ids).delete()
    _insert([_row(trait, v, computed_at) for v in values])
    bump_stamps(ids)
    if reevaluate and ids:
        reevaluate_customers(customer_ids=ids, changes=[f"computed_trait:{name}"])
    return len(values)


@transaction.atomic
def delete_stored_values(*, customer_ids: Iterable[int], names: Iterable[str] | None = None) -> int:
    """Remove stored values of these profiles (all traits, or the named ones)."""
    customer_ids = list(customer_ids)
    query = StoredTraitValue.objects.filter(customer_id__in=customer_ids)
    if names is not None:
        query = query.filter(trait__name__in=list(names))
    bump_stamps(customer_ids)
    return query.delete()[0]


def _recompute_dependents(name: str) -> None:
    marker = f"computed_trait:{name}"
    for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC, is_active=True):
        if marker in segment.dependencies:
            segment_id = segment.pk
            transaction.on_commit(lambda pk=segment_id: tasks.recompute_segment.delay(pk))
