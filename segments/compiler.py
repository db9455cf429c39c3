"""Compile a (validated) rule into one ``Q`` over ``Customer``.

Every condition becomes a column comparison, an ``IN`` subquery over events
or identities (grouped, with ``HAVING`` for counts and first/last times) or a
correlated aggregate (computed traits), so a whole segment is one SQL query
and no profile is looked at in Python. Every piece is two-valued (never
NULL), so ``not`` and ``neq`` mean exactly "the opposite" on both databases.

Semantics (mirrored by the reference evaluator in the tests):

- Text comparisons ignore case unless ``"case_sensitive": true`` (on SQLite
  case folding covers ASCII letters only).
- ``neq`` is ``not eq``: profiles without the value match it.
- Traits and event properties are typed by the rule's value: a number only
  matches JSON numbers, a text only JSON strings, ``true`` only JSON true;
  except that a number also matches a custom trait's plain numeric text
  (``eq 500`` matches ``"500.00"``; see ``jsonsql.JsonNumber``).
- Dates are UTC days: ``before D`` is earlier than D, ``after D`` later than
  D, ``between [A, B]`` includes both days; ``within_last_days N`` means at or
  after now - N days, ``more_than_days_ago N`` before it. Text traits hold
  dates as ``YYYY-MM-DD…`` strings and are compared by day.
- ``is_set``: core text not empty, date present, JSON value neither missing,
  null nor "".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q
from django.db.models.functions import Substr
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    IsNull,
    LessThan,
    LessThanOrEqual,
    Regex,
)

from consent.selectors import allowed_q
from consent.services.consent import UnknownPurpose
from customers.models import Customer, Event, Identity
from customers.services.normalize import InvalidValue, normalize_country
from segments import computed
from segments.comparisons import FALSE, NUMBER_LOOKUPS, TRUE, CompileError, text_q
from segments.jsonsql import JsonIsBool, JsonKind, JsonNumber, JsonText
from segments.models import ComputedTrait, Segment, SegmentMembership, StoredTrait
from segments.rules import FIELD_TYPES, is_number, parse_day

DAY_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"


@dataclass
class Context:
    now: datetime
    # Restrict event/identity subqueries to these customers (live re-evaluation).
    scope: Sequence[int] | None = None
    stack: tuple[int, ...] = ()
    _segments: dict[int, tuple[str, dict] | None] = field(default_factory=dict)
    _traits: dict[str, object] = field(default_factory=dict)

    def segment(self, segment_id: int) -> tuple[str, dict] | None:
        if segment_id not in self._segments:
            found = Segment.objects.filter(pk=segment_id).values_list("kind", "rule").first()
            self._segments[segment_id] = tuple(found) if found else None
        return self._segments[segment_id]

    def computed_trait(self, name: str):
        if name not in self._traits:
            self._traits[name] = (
                ComputedTrait.objects.filter(name=name).first()
                or StoredTrait.objects.filter(name=name).first()
            )
        return self._traits[name]


def compile_rule(
    rule: dict, *, now: datetime, scope: Sequence[int] | None = None, context: Context | None = None
) -> Q:
    """The rule as a filter on ``Customer``.

    With ``scope``, subqueries only read those customers' rows: the answer is
    right for customers in ``scope`` only (the caller filters to them too).
    """
    return _node(rule, context or Context(now=now, scope=scope))


def _node(node: dict, ctx: Context) -> Q:
    if "all" in node:
        result = TRUE
        for child in node["all"]:
            result &= _node(child, ctx)
        return result
    if "any" in node:
        result = FALSE
        for child in node["any"]:
            result |= _node(child, ctx)
        return result
    if "not" in node:
        return ~_node(node["not"], ctx)
    for key, build in _LEAVES.items():
        if key in node:
            return build(node, ctx)
    raise CompileError(f"not a rule node: {node!r}")


# --- profile fields and traits ---------------------------------------------


def _field(node: dict, ctx: Context) -> Q:
    name, op, value = node["field"], node["op"], node.get("value")
    kind = FIELD_TYPES[name]
    if kind == "bool":
        return Q(**{name: value})
    if kind in ("date", "datetime"):
        present = Q(**{f"{name}__isnull": False})
        if op == "is_set":
            return present
        if op == "is_not_set":
            return ~present
        return present & time_q(name, op, value, ctx.now, datetimes=kind == "datetime")
    present = ~Q(**{name: ""})
    if op == "is_set":
        return present
    if op == "is_not_set":
        return ~present
    if name == "country" and op in ("eq", "neq", "in") and not node.get("case_sensitive"):
        value = [_country(v) for v in value] if op == "in" else _country(value)
    return text_q(F(name), op, value, node.get("case_sensitive", False))


def _country(value: object) -> object:
    """Profiles store ISO codes (``DE``): "Germany", "deu" and "de" all mean DE
    (unless the condition is case-sensitive: then the text as written); a
    value that is no known country is compared as written."""
    try:
        return normalize_country(value)
    except InvalidValue:
        return value


def time_q(name: str, op: str, value, now: datetime, *, datetimes: bool) -> Q:
    """Date operators on a date/datetime column or annotation ``name``."""
    if op in ("within_last_days", "more_than_days_ago"):
        cutoff = now - timedelta(days=value)
        bound = cutoff if datetimes else cutoff.astimezone(UTC).date()
        lookup = "gte" if op == "within_last_days" else "lt"
        return Q(**{f"{name}__{lookup}": bound})
    if op == "between":
        low, high = parse_day(value[0]), parse_day(value[1])
        return Q(**{f"{name}__gte": _start(low, datetimes)}) & _before_end(name, high, datetimes)
    day = parse_day(value)
    if op == "before":
        return Q(**{f"{name}__lt": _start(day, datetimes)})
    if op == "after":
        return ~_before_end(name, day, datetimes)
    raise CompileError(f"{op} is not a date operator")


def _start(day: date, datetimes: bool):
    return datetime.combine(day, time.min, tzinfo=UTC) if datetimes else day


def _before_end(name: str, day: date, datetimes: bool) -> Q:
    if datetimes and day == date.max:  # the next day would overflow
        return Q(**{f"{name}__lte": datetime.max.replace(tzinfo=UTC)})
    if datetimes:
        return Q(**{f"{name}__lt": _start(day + timedelta(days=1), True)})
    return Q(**{f"{name}__lte": day})


def json_q(
    column: str,
    key: str,
    op: str,
    value,
    case_sensitive: bool,
    now: datetime,
    *,
    numeric_text: bool = False,
) -> Q:
    """A comparison on one key of a JSON column (traits, event properties).

    With ``numeric_text`` (custom traits), number conditions also match
    numbers stored as text (``"500.00"``, see ``JsonNumber``).
    """
    kind = JsonKind(column, key)
    if op == "neq":
        return ~json_q(column, key, "eq", value, case_sensitive, now, numeric_text=numeric_text)
    if op == "is_set":
        is_text = Q(Exact(kind, "string"))
        empty = is_text & Q(Exact(JsonText(column, key), ""))
        return ~_in(kind, ("missing", "null")) & ~empty
    if op == "is_not_set":
        return ~json_q(column, key, "is_set", None, case_sensitive, now)
    if op == "in":
        result = FALSE
        for item in value:
            result |= json_q(
                column, key, "eq", item, case_sensitive, now, numeric_text=numeric_text
            )
        return result
    if op == "eq" and isinstance(value, bool):
        return Q(JsonIsBool(column, key, value))
    is_string = Q(Exact(kind, "string"))
    if op in ("eq", "contains", "starts_with") and isinstance(value, str):
        return is_string & text_q(JsonText(column, key), op, value, case_sensitive)
    number = JsonNumber(column, key, text=numeric_text)
    is_num = Q(IsNull(number, False))
    if op == "eq":
        return is_num & Q(Exact(number, float(value)))
    if op in NUMBER_LOOKUPS:
        return is_num & Q(NUMBER_LOOKUPS[op](number, float(value)))
    if op == "between" and is_number(value[0]):
        return (
            is_num
            & Q(GreaterThanOrEqual(number, float(value[0])))
            & Q(LessThanOrEqual(number, float(value[1])))
        )
    day = Substr(JsonText(column, key), 1, 10)
    is_day = is_string & Q(Regex(JsonText(column, key), DAY_PATTERN))
    return is_day & _day_text_q(day, op, value, now)


def _in(expr, values: tuple[str, ...]) -> Q:
    result = FALSE
    for item in values:
        result |= Q(Exact(expr, item))
    return result


def _day_text_q(day, op: str, value, now: datetime) -> Q:
    if op in ("within_last_days", "more_than_days_ago"):
        cutoff = (now - timedelta(days=value)).astimezone(UTC).date().isoformat()
        if op == "within_last_days":
            return Q(GreaterThanOrEqual(day, cutoff))
        return Q(LessThan(day, cutoff))
    if op == "before":
        return Q(LessThan(day, value))
    if op == "after":
        return Q(GreaterThan(day, value))
    if op == "between":
        return Q(GreaterThanOrEqual(day, value[0])) & Q(LessThanOrEqual(day, value[1]))
    raise CompileError(f"{op} does not apply to trait values")


def _trait(node: dict, ctx: Context) -> Q:
    return json_q(
        "traits",
        node["trait"],
        node["op"],
        node.get("value"),
        node.get("case_sensitive", False),
        ctx.now,
        numeric_text=True,
    )


def _computed_trait(node: dict, ctx: Context) -> Q:
    trait = ctx.computed_trait(node["computed_trait"])
    if trait is None:
        raise CompileError(f"no computed trait {node['computed_trait']!r}")
    if isinstance(trait, StoredTrait):
        return computed.stored_trait_q(
            trait, node["op"], node.get("value"), node.get("case_sensitive", False), ctx.scope
        )
    return computed.trait_q(
        trait, node["op"], node.get("value"), node.get("case_sensitive", False), ctx.now
    )


# --- events ------------------------------------------------------------------


def _events(node: dict, ctx: Context):
    events = Event.objects.order_by().filter(name=node["event"])
    if ctx.scope is not None:
        events = events.filter(customer_id__in=ctx.scope)
    if "within_days" in node:
        events = events.filter(timestamp__gte=ctx.now - timedelta(days=node["within_days"]))
    if "between" in node:
        events = events.filter(
            time_q("timestamp", "between", node["between"], ctx.now, datetimes=True)
        )
    for condition in node.get("where", []):
        events = events.filter(
            json_q(
                "properties",
                condition["property"],
                condition["op"],
                condition.get("value"),
                condition.get("case_sensitive", False),
                ctx.now,
            )
        )
    return events


def _event(node: dict, ctx: Context) -> Q:
    events = _events(node, ctx)
    ids = events.values("customer_id")
    if not node.get("performed", True):
        return ~Q(pk__in=ids)
    parts = []
    if "count" in node:
        parts.append(_count_q(events, *next(iter(node["count"].items()))))
    parts.extend(Q(pk__in=grouped) for grouped in _occurrences(node, events, ctx))
    if not parts:  # a count decides alone; a first or last occurrence implies the event
        parts.append(Q(pk__in=ids))
    result = parts[0]
    for part in parts[1:]:
        result &= part
    return result


def _occurrences(node: dict, events, ctx: Context):
    """Per ``first`` / ``last`` in the condition, the ids (one ``customer_id``
    column, each once) whose first / last such event meets its time."""
    for key, aggregate in (("first", Min), ("last", Max)):
        if key in node:
            when = node[key]
            yield (
                events.values("customer_id")
                .annotate(at=aggregate("timestamp"))
                .filter(time_q("at", when["op"], when["value"], ctx.now, datetimes=True))
                .values("customer_id")
            )


def matching_from_events(rule: dict, *, now: datetime):
    """The active profiles matching ``rule``, read from events alone, when the
    rule is one event condition that only profiles with such events meet
    (performed, with at most one of ``count`` (at least N), ``first``,
    ``last``): a query of one ``customer_id`` column, each id once. No profile
    row is read except the few merged-away ones (a segment such as "last
    order more than 90 days ago" is an aggregate over order events, not also
    a join with a million profiles). None for any other rule.
    """
    if "event" not in rule or not rule.get("performed", True):
        return None
    events = _events(rule, Context(now=now))
    parts = list(_occurrences(rule, events, Context(now=now)))
    if "count" in rule:
        key, n = next(iter(rule["count"].items()))
        if key != "at_least" or n < 1:
            return None
        if n > 1:
            counted = events.values("customer_id").annotate(n=Count("*"))
            parts.append(counted.filter(n__gte=n).values("customer_id"))
    if not parts:
        parts.append(events.values("customer_id").distinct())
    if len(parts) != 1:
        return None
    merged = Customer.objects.filter(merged_into__isnull=False).order_by().values("pk")
    return parts[0].exclude(customer_id__in=merged)


def _count_q(events, key: str, n: int) -> Q:
    counted = events.values("customer_id").annotate(n=Count("*"))
    if key == "at_least":
        if n <= 1:  # "at least once" is "performed": a plain semi-join, nothing to count
            return TRUE if n == 0 else Q(pk__in=events.values("customer_id"))
        return Q(pk__in=counted.filter(n__gte=n).values("customer_id"))
    if key == "at_most":
        return ~Q(pk__in=counted.filter(n__gt=n).values("customer_id"))
    if n == 0:
        return ~Q(pk__in=events.values("customer_id"))
    return Q(pk__in=counted.filter(n=n).values("customer_id"))


# --- identity, source, membership ---------------------------------------------


def _has_identifier(node: dict, ctx: Context) -> Q:
    identities = Identity.objects.order_by().filter(type__name=node["has_identifier"])
    if ctx.scope is not None:
        identities = identities.filter(customer_id__in=ctx.scope)
    return Q(pk__in=identities.values("customer_id"))


def _source(node: dict, ctx: Context) -> Q:
    identities = Identity.objects.order_by().filter(source_id=node["source"])
    events = Event.objects.order_by().filter(source_id=node["source"])
    if ctx.scope is not None:
        identities = identities.filter(customer_id__in=ctx.scope)
        events = events.filter(customer_id__in=ctx.scope)
    return Q(Exists(identities.filter(customer_id=OuterRef("pk")))) | Q(
        Exists(events.filter(customer_id=OuterRef("pk")))
    )


def _segment(node: dict, ctx: Context) -> Q:
    target = node["segment"]
    if target in ctx.stack:
        raise CompileError(f"segment {target} refers to itself")
    found = ctx.segment(target)
    if found is None:
        raise CompileError(f"segment {target} does not exist")
    kind, rule = found
    if kind == "dynamic":
        ctx.stack = (*ctx.stack, target)
        try:
            return _node(rule, ctx)
        finally:
            ctx.stack = ctx.stack[:-1]
    members = SegmentMembership.objects.filter(segment_id=target, exited_at__isnull=True)
    if ctx.scope is not None:
        members = members.filter(customer_id__in=ctx.scope)
    return Q(pk__in=members.values("customer_id"))


def _consent(node: dict, ctx: Context) -> Q:
    """The purpose may use the profile (``consent.selectors.allowed_q``)."""
    try:
        return allowed_q(node["consent"], scope=ctx.scope)
    except UnknownPurpose:
        return FALSE  # an inactive (or removed) purpose allows no one


_LEAVES = {
    "field": _field,
    "trait": _trait,
    "computed_trait": _computed_trait,
    "event": _event,
    "has_identifier": _has_identifier,
    "source": _source,
    "segment": _segment,
    "consent": _consent,
}
