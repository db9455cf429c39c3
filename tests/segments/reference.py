"""A plain-Python evaluator of segment rules: slow, obvious, the compiler's yardstick.

It reads profiles into dictionaries and applies the documented semantics
(README "Segments") directly, with no SQL involved.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from customers.models import Customer
from segments.models import ComputedTrait, Segment, SegmentMembership
from segments.rules import FIELD_TYPES

DAY = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
# a custom trait's text that number conditions read as a number ("500.00")
NUMERIC_TEXT = re.compile(r"-?(0|[1-9][0-9]{0,14})(\.[0-9]{1,15})?")


@dataclass
class Profile:
    pk: int
    fields: dict
    traits: dict
    events: list[dict] = field(default_factory=list)
    identities: list[tuple[str, int | None]] = field(default_factory=list)
    static_segments: set[int] = field(default_factory=set)


def load_profiles() -> list[Profile]:
    profiles = []
    for customer in Customer.objects.active().prefetch_related("events", "identities__type"):
        profiles.append(
            Profile(
                pk=customer.pk,
                fields={name: getattr(customer, name) for name in FIELD_TYPES},
                traits=customer.traits,
                events=[
                    {
                        "pk": e.pk,
                        "name": e.name,
                        "timestamp": e.timestamp,
                        "properties": e.properties,
                        "source_id": e.source_id,
                    }
                    for e in customer.events.all()
                ],
                identities=[(i.type.name, i.source_id) for i in customer.identities.all()],
                static_segments=set(
                    SegmentMembership.objects.filter(
                        customer=customer, exited_at__isnull=True
                    ).values_list("segment_id", flat=True)
                ),
            )
        )
    return profiles


def matching_ids(rule: dict, now: datetime) -> set[int]:
    return {p.pk for p in load_profiles() if evaluate(rule, p, now)}


def evaluate(node: dict, p: Profile, now: datetime) -> bool:
    if "all" in node:
        return all(evaluate(child, p, now) for child in node["all"])
    if "any" in node:
        return any(evaluate(child, p, now) for child in node["any"])
    if "not" in node:
        return not evaluate(node["not"], p, now)
    if "field" in node:
        return _field(node, p, now)
    if "trait" in node:
        return compare_json(p.traits, node["trait"], node, now, numeric_text=True)
    if "computed_trait" in node:
        return _computed(node, p, now)
    if "event" in node:
        return _event(node, p, now)
    if "has_identifier" in node:
        return any(t == node["has_identifier"] for t, _ in p.identities)
    if "source" in node:
        s = node["source"]
        return any(src == s for _, src in p.identities) or any(
            e["source_id"] == s for e in p.events
        )
    if "consent" in node:
        from consent.selectors import is_allowed
        from consent.services.consent import UnknownPurpose

        try:
            return is_allowed(p.pk, node["consent"])
        except UnknownPurpose:
            return False
    if "segment" in node:
        segment = Segment.objects.get(pk=node["segment"])
        if segment.kind == "static":
            return segment.pk in p.static_segments
        return evaluate(segment.rule, p, now)
    raise AssertionError(node)


def _fold(text: str, node: dict) -> str:
    return text if node.get("case_sensitive") else text.lower()


def compare_text(actual: str, node: dict) -> bool:
    op, value = node["op"], node.get("value")
    if op == "neq":
        return not compare_text(actual, {**node, "op": "eq"})
    if op == "in":
        return any(compare_text(actual, {**node, "op": "eq", "value": str(v)}) for v in value)
    a, v = _fold(actual, node), _fold(str(value), node)
    return {"eq": a == v, "contains": v in a, "starts_with": a.startswith(v)}[op]


def compare_number(actual: float, op: str, value) -> bool:
    if op == "between":
        return float(value[0]) <= actual <= float(value[1])
    v = float(value)
    return {
        "eq": actual == v,
        "gt": actual > v,
        "gte": actual >= v,
        "lt": actual < v,
        "lte": actual <= v,
    }[op]


def compare_time(actual, op: str, value, now: datetime) -> bool:
    """``actual`` is a date (day semantics) or an aware datetime."""
    if isinstance(actual, datetime):
        if op == "within_last_days":
            return actual >= now - timedelta(days=value)
        if op == "more_than_days_ago":
            return actual < now - timedelta(days=value)
        actual = actual.astimezone(UTC).date()
    if op == "within_last_days":
        return actual >= (now - timedelta(days=value)).date()
    if op == "more_than_days_ago":
        return actual < (now - timedelta(days=value)).date()
    if op == "before":
        return actual < date.fromisoformat(value)
    if op == "after":
        return actual > date.fromisoformat(value)
    if op == "between":
        return date.fromisoformat(value[0]) <= actual <= date.fromisoformat(value[1])
    raise AssertionError(op)


def _kind(data: dict, key: str) -> str:
    if key not in data:
        return "missing"
    value = data[key]
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def compare_json(
    data: dict, key: str, node: dict, now: datetime, *, numeric_text: bool = False
) -> bool:
    op, value = node["op"], node.get("value")
    kind = _kind(data, key)
    actual = data.get(key)
    if op == "neq":
        return not compare_json(data, key, {**node, "op": "eq"}, now, numeric_text=numeric_text)
    if op == "is_set":
        return kind not in ("missing", "null") and actual != ""
    if op == "is_not_set":
        return not compare_json(data, key, {**node, "op": "is_set"}, now)
    if op == "in":
        return any(
            compare_json(
                data, key, {**node, "op": "eq", "value": v}, now, numeric_text=numeric_text
            )
            for v in value
        )
    if op == "eq" and isinstance(value, bool):
        return kind == "boolean" and actual is value
    if op in ("eq", "contains", "starts_with") and isinstance(value, str):
        return kind == "string" and compare_text(actual, node)
    if op in ("eq", "gt", "gte", "lt", "lte") or (
        op == "between" and not isinstance(value[0], str)
    ):
        if numeric_text and kind == "string" and NUMERIC_TEXT.fullmatch(actual):
            return compare_number(float(actual), op, value)
        return kind == "number" and compare_number(float(actual), op, value)
    if kind != "string" or not DAY.match(actual):
        return False
    day = actual[:10]
    if op in ("within_last_days", "more_than_days_ago"):
        cutoff = (now - timedelta(days=value)).date().isoformat()
        return day >= cutoff if op == "within_last_days" else day < cutoff
    if op == "before":
        return day < value
    if op == "after":
        return day > value
    return value[0] <= day <= value[1]


def _field(node: dict, p: Profile, now: datetime) -> bool:
    name, op = node["field"], node["op"]
    actual = p.fields[name]
    kind = FIELD_TYPES[name]
    if kind == "bool":
        return actual is node["value"]
    if kind in ("date", "datetime"):
        if op in ("is_set", "is_not_set"):
            return (actual is not None) == (op == "is_set")
        return actual is not None and compare_time(actual, op, node["value"], now)
    if op in ("is_set", "is_not_set"):
        return (actual != "") == (op == "is_set")
    if name == "country" and op in ("eq", "neq", "in") and not node.get("case_sensitive"):
        # a country's name means its code
        value = node["value"]
        node = {**node, "value": [_code(v) for v in value] if op == "in" else _code(value)}
    return compare_text(actual, node)


def _code(country: object) -> object:
    names = {"de": "DE", "deu": "DE", "germany": "DE", "fr": "FR", "fra": "FR", "france": "FR"}
    return names.get(str(country).lower(), country)


def matching_events(node: dict, p: Profile, now: datetime) -> list[dict]:
    found = []
    for event in p.events:
        if event["name"] != node["event"]:
            continue
        if "within_days" in node and event["timestamp"] < now - timedelta(days=node["within_days"]):
            continue
        if "between" in node and not compare_time(
            event["timestamp"], "between", node["between"], now
        ):
            continue
        if all(
            compare_json(event["properties"], c["property"], c, now) for c in node.get("where", [])
        ):
            found.append(event)
    return found


def _event(node: dict, p: Profile, now: datetime) -> bool:
    events = matching_events(node, p, now)
    if not node.get("performed", True):
        return not events
    ok = bool(events)
    if "count" in node:
        ((key, n),) = node["count"].items()
        ok = {
            "at_least": len(events) >= n,
            "at_most": len(events) <= n,
            "exactly": len(events) == n,
        }[key]
    for key, pick in (("first", min), ("last", max)):
        if key in node:
            when = pick(e["timestamp"] for e in events) if events else None
            ok = (
                ok
                and when is not None
                and compare_time(when, node[key]["op"], node[key]["value"], now)
            )
    return ok


def computed_value(trait: ComputedTrait, p: Profile, now: datetime):
    events = [
        e
        for e in p.events
        if e["name"] == trait.event
        and (not trait.window_days or e["timestamp"] >= now - timedelta(days=trait.window_days))
    ]
    if trait.kind == "count":
        return len(events)
    props = [e["properties"].get(trait.property) for e in events]
    if trait.kind in ("sum", "avg", "min", "max"):
        numbers = [
            float(v) for v in props if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        if trait.kind == "sum":
            return sum(numbers)
        if not numbers:
            return None
        return {"avg": sum(numbers) / len(numbers), "min": min(numbers), "max": max(numbers)}[
            trait.kind
        ]
    texts = [
        (e["timestamp"], e["pk"], e["properties"][trait.property])
        for e in events
        if isinstance(e["properties"].get(trait.property), str)
    ]
    if trait.kind == "unique_count":
        return len({t for _, _, t in texts})
    if trait.kind == "unique_list":
        return sorted({t for _, _, t in texts})
    if not texts:
        return None
    if trait.kind == "most_frequent":
        counts = Counter(t for _, _, t in texts)
        return min(counts, key=lambda t: (-counts[t], t))
    ordered = sorted(texts)
    return ordered[0][2] if trait.kind == "first" else ordered[-1][2]


def _computed(node: dict, p: Profile, now: datetime) -> bool:
    trait = ComputedTrait.objects.get(name=node["computed_trait"])
    value = computed_value(trait, p, now)
    op = node["op"]
    if op == "neq":
        return not _computed({**node, "op": "eq"}, p, now)
    if op == "in":
        return any(_computed({**node, "op": "eq", "value": v}, p, now) for v in node["value"])
    if trait.kind == "unique_list":
        if op == "is_set":
            return any(v != "" for v in value)
        if op == "is_not_set":
            return not any(v != "" for v in value)
        return any(compare_text(v, node) for v in value)
    present = value is not None and value != ""
    if op in ("is_set", "is_not_set"):
        return present == (op == "is_set")
    if not present:
        return False
    if trait.is_numeric:
        return compare_number(float(value), op, node["value"])
    return compare_text(value, node)
