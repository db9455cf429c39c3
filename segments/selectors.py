"""Read-side queries for segments: builder choices, previews, members, sizes.

Choices offered by the builder come from the data itself, read from a
sample of recent rows so that they stay cheap on large tables.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta

from django.db.models import QuerySet
from django.utils import timezone

from consent.models import Purpose
from customers.models import Customer, Event, IdentifierType, Identity
from segments.computed import values_for_customer
from segments.models import (
    ComputedTrait,
    Segment,
    SegmentMembership,
    SegmentSize,
    StoredTrait,
    StoredTraitValue,
)
from segments.purchases import purchase_event
from segments.rules import (
    ALL_OPS,
    FIELD_TYPES,
    NUMBER_OPS,
    OPS_BY_TYPE,
)

SAMPLE = 2000


def builder_options() -> dict:
    """Everything the rule builder offers to pick from."""
    source_model = Identity._meta.get_field("source").related_model
    used_events = {t.event for t in ComputedTrait.objects.only("event")} | set(
        _recent_event_names()
    )
    return {
        "fields": FIELD_TYPES,
        "operators": {
            kind: sorted(ops)
            for kind, ops in {**OPS_BY_TYPE, "number": NUMBER_OPS, "json": ALL_OPS}.items()
        },
        "traits": trait_names(),
        "events": sorted(used_events),
        # a new event condition starts on the purchase (DESIGN.md's one definition)
        "purchase_event": purchase_event(),
        "identifier_types": list(IdentifierType.objects.values_list("name", flat=True)),
        "sources": [{"id": s.pk, "name": s.name} for s in source_model.objects.order_by("name")],
        "segments": [
            {"id": s.pk, "name": s.name} for s in Segment.objects.order_by("name").only("name")
        ],
        "purposes": [
            {"code": p.code, "name": p.name} for p in Purpose.objects.filter(is_active=True)
        ],
        "computed_traits": sorted(
            [{"name": t.name, "numeric": t.is_numeric} for t in ComputedTrait.objects.all()]
            + [{"name": t.name, "numeric": t.numeric} for t in StoredTrait.objects.all()],
            key=lambda t: t["name"],
        ),
    }


def _recent_event_names() -> list[str]:
    names = Event.objects.order_by("-timestamp").values_list("name", flat=True)[:SAMPLE]
    return [name for name in set(names) if name]


def trait_names() -> list[str]:
    keys: set[str] = set()
    for traits in Customer.objects.order_by("-pk").values_list("traits", flat=True)[:SAMPLE]:
        if isinstance(traits, dict):
            keys.update(traits)
    return sorted(keys)


def event_properties(event: str) -> list[str]:
    keys: set[str] = set()
    recent = Event.objects.filter(name=event).order_by("-timestamp")
    for properties in recent.values_list("properties", flat=True)[:SAMPLE]:
        if isinstance(properties, dict):
            keys.update(properties)
    return sorted(keys)


def top_values(
    *, field: str = "", trait: str = "", event: str = "", prop: str = ""
) -> list[object]:
    """The most common values of a field, trait or event property (up to 20)."""
    counts: Counter = Counter()
    if field in FIELD_TYPES and FIELD_TYPES[field] == "text":
        rows = Customer.objects.order_by("-pk").values_list(field, flat=True)[:SAMPLE]
        counts.update(value for value in rows if value)
    elif trait:
        rows = Customer.objects.order_by("-pk").values_list("traits", flat=True)[:SAMPLE]
        counts.update(_scalar(row, trait) for row in rows if _scalar(row, trait) is not None)
    elif event and prop:
        recent = Event.objects.filter(name=event).order_by("-timestamp")
        rows = recent.values_list("properties", flat=True)[:SAMPLE]
        counts.update(_scalar(row, prop) for row in rows if _scalar(row, prop) is not None)
    return [value for value, _ in counts.most_common(20)]


def _scalar(data: object, key: str):
    if not isinstance(data, dict):
        return None
    value = data.get(key)
    return value if isinstance(value, str | int | float) and value != "" else None


def current_members(segment: Segment) -> QuerySet[SegmentMembership]:
    return (
        SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
        .select_related("customer")
        .order_by("-entered_at", "pk")
    )


def overlap(segment: Segment, other: Segment) -> dict[str, int]:
    """Current members of ``segment`` and ``other``: how many are in both, and
    how many in one only (two counts on the one-active-membership index)."""
    mine = SegmentMembership.objects.filter(segment=segment, exited_at__isnull=True)
    theirs = SegmentMembership.objects.filter(segment=other, exited_at__isnull=True)
    size, other_size = mine.count(), theirs.count()
    both = theirs.filter(customer_id__in=mine.values("customer_id")).count()
    return {
        "size": size,
        "other_size": other_size,
        "both": both,
        "only_this": size - both,
        "only_other": other_size - both,
        "percent_of_this": round(100 * both / size) if size else 0,
    }


def daily_sizes(segment: Segment, *, days: int = 90, today: date | None = None):
    """(day, size) for the last ``days`` days that have a recorded size."""
    today = today or timezone.localdate()
    return list(
        SegmentSize.objects.filter(segment=segment, day__gt=today - timedelta(days=days))
        .order_by("day")
        .values_list("day", "size")
    )


def profile_computed_traits(customer_id: int) -> list[tuple[str, object]]:
    """Every computed trait's current value for one profile, by name: the
    on-read ones and the stored ones (``segments.stored``) it has a value of."""

    traits = list(ComputedTrait.objects.order_by("name"))
    values = values_for_customer(customer_id=customer_id, traits=traits, now=timezone.now())
    rows = [(trait.name, values[trait.name]) for trait in traits]
    rows += [(row.trait.name, row.value) for row in stored_trait_values(customer_id)]
    return sorted(rows, key=lambda row: row[0])


def stored_trait_values(
    customer_id: int, *, names: list[str] | None = None
) -> list[StoredTraitValue]:
    """One profile's stored trait values, with their explanation and time."""
    rows = StoredTraitValue.objects.filter(customer_id=customer_id).select_related("trait")
    if names is not None:
        rows = rows.filter(trait__name__in=names)
    return list(rows.order_by("trait__name"))
