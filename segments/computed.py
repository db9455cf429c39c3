"""Computed traits: values aggregated from a profile's events, as SQL expressions.

They are computed when read (in a rule, on the profile page, in the API),
so a windowed value such as "orders in the last 90 days" is never stale.
Numeric kinds read JSON number properties; value kinds (most frequent,
first, last, unique list/count) read text properties.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import (
    Avg,
    Count,
    Exists,
    F,
    FloatField,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThanOrEqual,
    IsNull,
    LessThanOrEqual,
)

from customers.models import Customer, Event
from segments.comparisons import FALSE, NUMBER_LOOKUPS, text_q
from segments.jsonsql import JsonKind, JsonNumber, JsonText
from segments.models import StoredTraitValue

_AGGREGATES = {"sum": Sum, "avg": Avg, "min": Min, "max": Max}


class BinaryText(Func):
    """Order text by code point on both databases (PostgreSQL's default is locale)."""

    template = "%(expressions)s"

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f'({sql}) COLLATE "C"', params


def events_for(trait, *, now: datetime, customer=None):
    customer = OuterRef("pk") if customer is None else customer
    events = Event.objects.order_by().filter(customer_id=customer, name=trait.event)
    if trait.window_days:
        events = events.filter(timestamp__gte=now - timedelta(days=trait.window_days))
    return events


def _text_events(trait, events):
    return events.filter(Exact(JsonKind("properties", trait.property), "string"))


def value_expression(trait, *, now: datetime, customer=None):
    """The trait's value for the customer ``customer`` (default: the outer row)."""
    events = events_for(trait, now=now, customer=customer)
    grouped = events.values("customer_id")
    if trait.kind == "count":
        return Coalesce(Subquery(grouped.annotate(v=Count("pk")).values("v")), 0)
    if trait.kind in _AGGREGATES:
        number = JsonNumber("properties", trait.property)
        value = Subquery(
            grouped.annotate(v=_AGGREGATES[trait.kind](number, output_field=FloatField())).values(
                "v"
            )
        )
        return Coalesce(value, 0.0) if trait.kind == "sum" else value
    texts = _text_events(trait, events)
    text = JsonText("properties", trait.property)
    if trait.kind == "unique_count":
        counted = texts.values("customer_id").annotate(v=Count(text, distinct=True)).values("v")
        return Coalesce(Subquery(counted), 0)
    if trait.kind == "most_frequent":
        ranked = (
            texts.annotate(v=text)
            .values("v")
            .annotate(c=Count("pk"))
            .order_by("-c", BinaryText(F("v")))
            .values("v")[:1]
        )
        return Subquery(ranked)
    if trait.kind in ("first", "last"):
        order = ("timestamp", "pk") if trait.kind == "first" else ("-timestamp", "-pk")
        return Subquery(texts.order_by(*order).annotate(v=text).values("v")[:1])
    raise ValueError(f"{trait.kind} has no single value")


def trait_q(trait, op: str, value, case_sensitive: bool, now: datetime) -> Q:
    """A rule comparison on a computed trait, as a filter on ``Customer``."""
    if op == "neq":
        return ~trait_q(trait, "eq", value, case_sensitive, now)
    if op == "is_not_set":
        return ~trait_q(trait, "is_set", None, case_sensitive, now)
    if op == "in":
        result = FALSE
        for item in value:
            result |= trait_q(trait, "eq", item, case_sensitive, now)
        return result
    if trait.kind == "unique_list":
        texts = _text_events(trait, events_for(trait, now=now))
        text = JsonText("properties", trait.property)
        if op == "is_set":
            return Q(Exists(texts.exclude(Exact(text, ""))))
        return Q(Exists(texts.filter(text_q(text, op, value, case_sensitive))))
    expr = value_expression(trait, now=now)
    present = Q(IsNull(expr, False))
    if trait.is_numeric:
        if op == "is_set":
            return present
        if op == "eq":
            return present & Q(Exact(expr, float(value)))
        if op == "between":
            low, high = float(value[0]), float(value[1])
            return present & Q(GreaterThanOrEqual(expr, low)) & Q(LessThanOrEqual(expr, high))
        return present & Q(NUMBER_LOOKUPS[op](expr, float(value)))
    if op == "is_set":
        return present & ~Q(Exact(expr, Value("")))
    return present & text_q(expr, op, value, case_sensitive)


def values_for_customer(*, customer_id: int, traits, now: datetime) -> dict[str, object]:
    """Every given computed trait's value for one profile (a few queries)."""
    values: dict[str, object] = {}
    single = [t for t in traits if t.kind != "unique_list"]
    if single:
        row = (
            Customer.objects.filter(pk=customer_id)
            .values(**{f"t{t.pk}": value_expression(t, now=now) for t in single})
            .first()
        ) or {}
        for trait in single:
            values[trait.name] = row.get(f"t{trait.pk}")
    for trait in traits:
        if trait.kind == "unique_list":
            texts = _text_events(trait, events_for(trait, now=now, customer=customer_id))
            values[trait.name] = sorted(
                set(
                    texts.annotate(v=JsonText("properties", trait.property)).values_list(
                        "v", flat=True
                    )
                )
            )
    return values


def stored_trait_q(trait, op: str, value, case_sensitive: bool, scope=None) -> Q:
    """A rule comparison on a stored trait (``segments.stored``), as a filter on
    ``Customer``; same semantics as an on-read trait of the same type."""

    if op == "neq":
        return ~stored_trait_q(trait, "eq", value, case_sensitive, scope)
    if op == "is_not_set":
        return ~stored_trait_q(trait, "is_set", None, case_sensitive, scope)
    if op == "in":
        result = FALSE
        for item in value:
            result |= stored_trait_q(trait, "eq", item, case_sensitive, scope)
        return result
    rows = StoredTraitValue.objects.order_by().filter(trait_id=trait.pk)
    if scope is not None:
        rows = rows.filter(customer_id__in=scope)
    if trait.numeric:
        rows = rows.filter(number__isnull=False)
        if op == "eq":
            rows = rows.filter(number=float(value))
        elif op == "between":
            rows = rows.filter(number__gte=float(value[0]), number__lte=float(value[1]))
        elif op in NUMBER_LOOKUPS:
            rows = rows.filter(**{f"number__{op}": float(value)})
    else:
        rows = rows.exclude(text="")
        if op != "is_set":
            rows = rows.filter(text_q(F("text"), op, value, case_sensitive))
    return Q(pk__in=rows.values("customer_id"))
