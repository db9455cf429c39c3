"""A segment rule in words, for people reading it rather than the JSON:

    Customers: in Germany and did Order Completed at least 2 times in the
    last 30 days and may be used for Email marketing (consent)

The wording follows the rule language (README, "The rule language"); names
of sources, segments and purposes are looked up once per rule.
"""

from __future__ import annotations

from typing import Any

import pycountry

from consent.models import Purpose
from customers.models import Identity
from segments.models import Segment

OPS = {
    "eq": "is",
    "neq": "is not",
    "contains": "contains",
    "starts_with": "starts with",
    "in": "is one of",
    "gt": "is more than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "before": "is before",
    "after": "is after",
    "between": "is between",
    "is_set": "is set",
    "is_not_set": "is not set",
    "within_last_days": "is within the last",
    "more_than_days_ago": "is more than",
}
COUNTS = {"at_least": "at least", "at_most": "at most", "exactly": "exactly"}


def country_name(code: object) -> str:
    country = pycountry.countries.get(alpha_2=str(code).upper()) if code else None
    return country.name if country else str(code)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"“{value}”" if isinstance(value, str) else str(value)


def _comparison(subject: str, node: dict) -> str:
    op, value = node.get("op", "eq"), node.get("value")
    words = OPS.get(op, op)
    if op in ("is_set", "is_not_set"):
        return f"{subject} {words}"
    if op == "within_last_days":
        return f"{subject} {words} {value} days"
    if op == "more_than_days_ago":
        return f"{subject} {words} {value} days ago"
    if op == "between" and isinstance(value, list) and len(value) == 2:
        return f"{subject} {words} {_value(value[0])} and {_value(value[1])}"
    return f"{subject} {words} {_value(value)}"


class _Names:
    def __init__(self, rule: object):
        leaves = list(_leaves(rule))
        ids = {key: {n[key] for n in leaves if key in n} for key in ("source", "segment")}
        codes = {n["consent"] for n in leaves if "consent" in n}
        # the Source model, reached from customers (segments may not import sources)
        source_model = Identity._meta.get_field("source").related_model
        sources = source_model.objects.filter(pk__in=ids["source"])
        self.sources = dict(sources.values_list("pk", "name"))
        segments = Segment.objects.filter(pk__in=ids["segment"])
        self.segments = dict(segments.values_list("pk", "name"))
        self.purposes = dict(Purpose.objects.filter(code__in=codes).values_list("code", "name"))


def _leaves(node: object):
    if isinstance(node, dict):
        for key in ("all", "any"):
            if isinstance(node.get(key), list):
                for child in node[key]:
                    yield from _leaves(child)
                return
        if "not" in node:
            yield from _leaves(node["not"])
            return
        yield node


def _event(node: dict) -> str:
    did = "never did" if node.get("performed") is False else "did"
    parts = [f"{did} {node.get('event', '?')}"]
    parts.extend(
        "with " + _comparison(str(where.get("property", "?")), where)
        for where in node.get("where") or []
        if isinstance(where, dict)
    )
    count = node.get("count")
    if isinstance(count, dict) and count:
        kind, times = next(iter(count.items()))
        parts.append(f"{COUNTS.get(kind, kind)} {times} time{'' if times == 1 else 's'}")
    if "within_days" in node:
        parts.append(f"in the last {node['within_days']} days")
    elif isinstance(node.get("between"), list) and len(node["between"]) == 2:
        parts.append(f"between {node['between'][0]} and {node['between'][1]}")
    parts.extend(
        _comparison(f"the {which} time", node[which])
        for which in ("first", "last")
        if isinstance(node.get(which), dict)
    )
    return " ".join(parts)


def _leaf(node: dict, names: _Names) -> str:
    if "field" in node:
        if node["field"] == "country" and node.get("op", "eq") in ("eq", "in"):
            values = node.get("value")
            values = values if isinstance(values, list) else [values]
            return "in " + " or ".join(country_name(v) for v in values)
        return _comparison(str(node["field"]).replace("_", " "), node)
    if "trait" in node:
        return _comparison(f"trait {node['trait']}", node)
    if "computed_trait" in node:
        return _comparison(str(node["computed_trait"]), node)
    if "event" in node:
        return _event(node)
    if "has_identifier" in node:
        return f"has an identifier of type {node['has_identifier']}"
    if "source" in node:
        source = node["source"]
        return f"came from {names.sources.get(source, f'source #{source}')}"
    if "segment" in node:
        segment = node["segment"]
        return f"in segment {names.segments.get(segment, f'#{segment}')}"
    if "consent" in node:
        purpose = names.purposes.get(node["consent"], node["consent"])
        return f"may be used for {purpose} (consent)"
    return "an unknown condition"


def _describe(node: object, names: _Names) -> str:
    if not isinstance(node, dict):
        return "an unknown condition"
    for key, joiner in (("all", " and "), ("any", " or ")):
        if isinstance(node.get(key), list):
            parts = [_describe(child, names) for child in node[key]]
            if not parts:
                return "everyone" if key == "all" else "no one"
            text = joiner.join(parts)
            return f"({text})" if len(parts) > 1 and key == "any" else text
    if "not" in node:
        return f"not ({_describe(node['not'], names)})"
    return _leaf(node, names)


def describe_rule(rule: object) -> str:
    """The rule as one line of English."""
    if not rule:
        return "Customers: everyone (no condition yet)"
    return f"Customers: {_describe(rule, _Names(rule))}"
