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
from core.errors import DomainError
from customers.services.versions import bump_versions
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
_NULL = "\\N"
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


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

    Each trait's rows go to a temporary table (``COPY`` on PostgreSQL); then,
    in set-based statements, values of profiles not in it are deleted,
    changed ones updated and new ones inserted. A value whose number, text
    and explanation did not change is left alone: its ``computed_at`` is when
    it last changed. Updating in place also spares the foreign-key checks an
    insert pays on every row. Only profiles whose values changed (gained,
    lost, or a new value; not a new explanation alone) get a new version —
    their documents list the values — once for all the traits.
    """
    changed: set[int] = set()
    counts = {name: _replace(name, rows, computed_at, changed) for name, rows in traits.items()}
    bump_versions(changed)
    for name in traits:
        _recompute_dependents(name)
    return counts


def _replace(name: str, rows, computed_at: datetime, changed: set[int]) -> int:
    trait = StoredTrait.objects.select_for_update().get(name=name)
    table = connection.ops.quote_name(StoredTraitValue._meta.db_table)
    postgres = connection.vendor == "postgresql"
    json_type = "jsonb" if postgres else "text"
    differs = "IS DISTINCT FROM" if postgres else "IS NOT"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_INCOMING}")
        cursor.execute(
            f"CREATE TEMPORARY TABLE {_INCOMING} (customer_id bigint PRIMARY KEY, "
            f"number double precision, text varchar({MAX_TEXT}), value {json_type}, "
            f"explanation {json_type})"
        )
        count = _load_incoming(cursor, trait, rows)
        if postgres:  # the joins need the key's statistics, not the JSON's
            cursor.execute(f"ANALYZE {_INCOMING} (customer_id)")
        cursor.execute(
            f"DELETE FROM {table} WHERE trait_id = %s AND NOT EXISTS "  # noqa: S608
            f"(SELECT 1 FROM {_INCOMING} i WHERE i.customer_id = {table}.customer_id) "
            "RETURNING customer_id",
            [trait.pk],
        )
        changed.update(row[0] for row in cursor.fetchall())
        # Profile documents show values, not explanations: a new value moves
        # the profile's version, a new explanation alone does not.
        assign = (
            f"UPDATE {table} SET number = i.number, text = i.text, value = i.value, "  # noqa: S608
            f"explanation = i.explanation, computed_at = %s FROM {_INCOMING} i "
            f"WHERE {table}.trait_id = %s AND {table}.customer_id = i.customer_id AND "
        )
        cursor.execute(
            f"{assign} ({table}.number {differs} i.number OR {table}.text <> i.text OR "
            f"{table}.value {differs} i.value) RETURNING {table}.customer_id",
            [computed_at, trait.pk],
        )
        changed.update(row[0] for row in cursor.fetchall())
        cursor.execute(f"{assign} {table}.explanation <> i.explanation", [computed_at, trait.pk])
        # What is left to insert is what the table does not hold yet. (An
        # INSERT that anti-joins the table it fills scans its own new rows
        # once per row: quadratic.)
        cursor.execute(
            f"DELETE FROM {_INCOMING} WHERE customer_id IN "  # noqa: S608
            f"(SELECT customer_id FROM {table} WHERE trait_id = %s)",
            [trait.pk],
        )
        cursor.execute(
            f"INSERT INTO {table} ({', '.join(_COLUMNS)}) "  # noqa: S608
            f"SELECT %s, customer_id, number, text, value, explanation, %s FROM {_INCOMING} "
            "RETURNING customer_id",
            [trait.pk, computed_at],
        )
        changed.update(row[0] for row in cursor.fetchall())
        cursor.execute(f"DROP TABLE {_INCOMING}")
    return count


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
    sql = f"COPY {_INCOMING} FROM STDIN"
    texts: dict[object, tuple] = {}  # text traits repeat few values
    with cursor.cursor.copy(sql) as copy:
        lines: list[str] = []
        for customer_id, value, explanation in rows:
            count += 1
            if trait.numeric or value is None:
                number, text, data = _columns(trait.numeric, value)
            else:
                if value not in texts:
                    texts[value] = _columns(False, value)
                number, text, data = texts[value]
            shown = _NULL if number is None else repr(number)
            data = _NULL if data is None else _escape(data)
            lines.append(
                f"{customer_id}\t{shown}\t{_escape(text)}\t{data}\t{_escape(explanation)}\n"
            )
            if len(lines) >= 10_000:
                copy.write("".join(lines))
                lines.clear()
        copy.write("".join(lines))
    return count


def _escape(text: str) -> str:
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.translate(_COPY_ESCAPES)
    return text


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
    bump_versions(ids)
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
    bump_versions(customer_ids)
    return query.delete()[0]


def _recompute_dependents(name: str) -> None:
    marker = f"computed_trait:{name}"
    for segment in Segment.objects.filter(kind=Segment.Kind.DYNAMIC, is_active=True):
        if marker in segment.dependencies:
            segment_id = segment.pk
            transaction.on_commit(lambda pk=segment_id: tasks.recompute_segment.delay(pk))
