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
from collections.abc import Iterable, Sequence
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
    """Insert value rows: a text ``COPY`` written by hand on PostgreSQL (a
    million rows of JSON in seconds, where per-column encoding took minutes),
    ``core.db.copy`` elsewhere."""
    if connection.vendor != "postgresql":
        insert_values(StoredTraitValue, _COLUMNS, rows)
        return
    table = connection.ops.quote_name(StoredTraitValue._meta.db_table)
    sql = f"COPY {table} ({', '.join(_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        lines: list[str] = []
        for trait_id, customer_id, number, text, value, explanation, at in rows:
            shown = _NULL if number is None else repr(number)
            data = _NULL if value is None else _json(value)
            lines.append(
                f"{trait_id}\t{customer_id}\t{shown}\t{text.translate(_COPY_ESCAPES)}\t"
                f"{data}\t{_json(explanation)}\t{at.isoformat()}\n"
            )
            if len(lines) >= 10_000:
                copy.write("".join(lines))
                lines.clear()
        copy.write("".join(lines))


def _json(data) -> str:
    return json.dumps(data, separators=(",", ":")).translate(_COPY_ESCAPES)


@transaction.atomic
def replace_stored_values(
    *, name: str, values: Iterable[StoredValue], computed_at: datetime
) -> int:
    """Replace every value of the trait (a daily recompute); profiles not in
    ``values`` lose theirs. Segments using the trait are recomputed after commit."""
    trait = StoredTrait.objects.select_for_update().get(name=name)
    held = StoredTraitValue.objects.filter(trait=trait)
    touched = set(held.values_list("customer_id", flat=True))
    held.delete()
    count = 0

    def rows():
        nonlocal count
        for item in values:
            count += 1
            touched.add(item.customer_id)
            yield _row(trait, item, computed_at)

    _insert(rows())
    bump_versions(touched)
    _recompute_dependents(name)
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
