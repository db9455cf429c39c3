"""The segment rule language: its schema, validation and dependencies.

A rule is JSON. Groups: ``{"all": [...]}``, ``{"any": [...]}``, ``{"not": {...}}``.
Conditions (one per node, told apart by their first key):

- ``{"field": "country", "op": "eq", "value": "DE"}`` — core profile field
- ``{"trait": "plan", "op": "in", "value": ["pro", "team"]}`` — custom trait
- ``{"computed_trait": "orders_90d", "op": "gte", "value": 3}``
- ``{"event": "Order Completed", "where": [...], "within_days": 30,
  "count": {"at_least": 2}}`` — also ``"performed": false``, ``"between"``,
  ``"first"`` / ``"last"`` (a date condition on the first/last occurrence)
- ``{"has_identifier": "email"}``, ``{"source": 3}``, ``{"segment": 7}``,
  ``{"consent": "email_marketing"}`` (the purpose allows using the profile)

Validation reports every problem with the path of the offending node
(``$.all[1].where[0].value``), so the builder can point at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from accounts.masking import is_contact_key, looks_like_contact
from consent.models import Purpose
from core.errors import DomainError
from customers.models import IdentifierType, Identity
from segments.models import ComputedTrait, Segment, StoredTrait

FIELD_TYPES: dict[str, str] = {
    "email": "text",
    "phone": "text",
    "first_name": "text",
    "last_name": "text",
    "address_line1": "text",
    "address_line2": "text",
    "city": "text",
    "region": "text",
    "postal_code": "text",
    "country": "text",
    "company": "text",
    "birthday": "date",
    "first_seen": "datetime",
    "last_seen": "datetime",
    "is_identified": "bool",
}

TEXT_OPS = frozenset({"eq", "neq", "contains", "starts_with", "in", "is_set", "is_not_set"})
NUMBER_OPS = frozenset(
    {"eq", "neq", "gt", "gte", "lt", "lte", "between", "in", "is_set", "is_not_set"}
)
DATE_OPS = frozenset(
    {"before", "after", "between", "within_last_days", "more_than_days_ago", "is_set", "is_not_set"}
)
BOOL_OPS = frozenset({"eq"})
ALL_OPS = TEXT_OPS | NUMBER_OPS | DATE_OPS
OPS_BY_TYPE = {"text": TEXT_OPS, "date": DATE_OPS, "datetime": DATE_OPS, "bool": BOOL_OPS}
CASE_OPS = frozenset({"eq", "neq", "contains", "starts_with", "in"})
NO_VALUE_OPS = frozenset({"is_set", "is_not_set"})
COUNT_KEYS = ("at_least", "at_most", "exactly")
LEAF_KEYS = (
    "field",
    "trait",
    "computed_trait",
    "event",
    "has_identifier",
    "source",
    "segment",
    "consent",
)
# Trait and property names become JSON paths: keep them to a safe alphabet.
KEY_NAME = re.compile(r"^[A-Za-z0-9_\-$@ :/.]{1,100}$")
MAX_NUMBER = 10**15
MAX_DAYS = 99_999  # about 273 years: "within the last N days" stays a real date
MAX_DEPTH = 12


@dataclass(frozen=True)
class RuleError:
    path: str
    code: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "message": self.message}


class InvalidRule(DomainError):
    def __init__(self, errors: list[RuleError]):
        self.errors = errors
        message = "; ".join(f"{e.path}: {e.message}" for e in errors)
        super().__init__("invalid_rule", message, "rule")


def is_number(value: object) -> bool:
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and (abs(value) < MAX_NUMBER)
    )


def parse_day(value: object) -> date | None:
    """A ``YYYY-MM-DD`` string as a date, else None."""
    if not isinstance(value, str) or len(value) != 10:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


class References:
    """What validation needs from the database; tests may pass fixed sets."""

    def segment_rule(self, segment_id: int) -> tuple[str, dict] | None:
        found = Segment.objects.filter(pk=segment_id).values_list("kind", "rule").first()
        return tuple(found) if found else None

    def computed_trait_numeric(self, name: str) -> bool | None:
        kind = ComputedTrait.objects.filter(name=name).values_list("kind", flat=True).first()
        if kind is not None:
            return kind in ComputedTrait.NUMERIC_KINDS
        return StoredTrait.objects.filter(name=name).values_list("numeric", flat=True).first()

    def identifier_type_exists(self, name: str) -> bool:
        return IdentifierType.objects.filter(name=name).exists()

    def purpose_exists(self, code: str) -> bool:
        return Purpose.objects.filter(code=code).exists()

    def source_exists(self, source_id: int) -> bool:
        source_model = Identity._meta.get_field("source").related_model
        return source_model.objects.filter(pk=source_id).exists()


def validate_rule(
    rule: object, *, segment_id: int | None = None, refs: References | None = None
) -> None:
    """Raise ``InvalidRule`` listing every problem in ``rule``."""
    errors: list[RuleError] = []
    _Validator(errors, refs or References(), segment_id).node(rule, "$", 0, ())
    if errors:
        raise InvalidRule(errors)


class _Validator:
    def __init__(self, errors: list[RuleError], refs: References, segment_id: int | None):
        self.errors = errors
        self.refs = refs
        self.segment_id = segment_id

    def fail(self, path: str, code: str, message: str) -> None:
        self.errors.append(RuleError(path, code, message))

    def node(self, node: object, path: str, depth: int, chain: tuple[int, ...]) -> None:
        if depth > MAX_DEPTH:
            self.fail(path, "too_deep", f"rules nest at most {MAX_DEPTH} levels")
            return
        if not isinstance(node, dict) or not node:
            self.fail(path, "not_a_node", "expected a group or a condition (a JSON object)")
            return
        if "all" in node or "any" in node:
            key = "all" if "all" in node else "any"
            self.keys(node, path, {key})
            children = node[key]
            if not isinstance(children, list) or not children:
                self.fail(f"{path}.{key}", "empty_group", f"'{key}' needs a non-empty list")
                return
            for index, child in enumerate(children):
                self.node(child, f"{path}.{key}[{index}]", depth + 1, chain)
            return
        if "not" in node:
            self.keys(node, path, {"not"})
            self.node(node["not"], f"{path}.not", depth + 1, chain)
            return
        kinds = [key for key in LEAF_KEYS if key in node]
        if len(kinds) != 1:
            self.fail(
                path,
                "unknown_node",
                "expected one of all/any/not/" + "/".join(LEAF_KEYS) + f", got {sorted(node)}",
            )
            return
        getattr(self, f"leaf_{kinds[0]}")(node, path, chain)

    def keys(self, node: dict, path: str, allowed: set[str]) -> None:
        for key in sorted(set(node) - allowed):
            self.fail(f"{path}.{key}", "unknown_key", f"unexpected key {key!r}")

    # --- profile ------------------------------------------------------------

    def leaf_field(self, node: dict, path: str, chain) -> None:
        self.keys(node, path, {"field", "op", "value", "case_sensitive"})
        name = node["field"]
        if name not in FIELD_TYPES:
            self.fail(f"{path}.field", "unknown_field", f"{name!r} is not a profile field")
            return
        self.comparison(node, path, FIELD_TYPES[name])

    def leaf_trait(self, node: dict, path: str, chain) -> None:
        self.keys(node, path, {"trait", "op", "value", "case_sensitive"})
        if self.key_name(node["trait"], f"{path}.trait"):
            self.comparison(node, path, "json")

    def leaf_computed_trait(self, node: dict, path: str, chain) -> None:
        self.keys(node, path, {"computed_trait", "op", "value", "case_sensitive"})
        numeric = self.refs.computed_trait_numeric(str(node["computed_trait"]))
        if numeric is None:
            self.fail(
                f"{path}.computed_trait",
                "unknown_computed_trait",
                f"no computed trait named {node['computed_trait']!r}",
            )
            return
        self.comparison(node, path, "number" if numeric else "text")

    def key_name(self, name: object, path: str) -> bool:
        if not isinstance(name, str) or not KEY_NAME.match(name):
            self.fail(path, "bad_name", "names are 1-100 letters, digits, spaces or _-$@:/.")
            return False
        return True

    def comparison(self, node: dict, path: str, value_type: str) -> None:
        op = node.get("op")
        allowed = ALL_OPS if value_type == "json" else OPS_BY_TYPE.get(value_type, NUMBER_OPS)
        if op not in allowed:
            self.fail(f"{path}.op", "bad_operator", f"operator must be one of {sorted(allowed)}")
            return
        if "case_sensitive" in node and (
            op not in CASE_OPS or not isinstance(node["case_sensitive"], bool)
        ):
            self.fail(f"{path}.case_sensitive", "bad_value", "true/false, for text operators")
        if op in NO_VALUE_OPS:
            if "value" in node:
                self.fail(f"{path}.value", "unexpected_value", f"{op} takes no value")
            return
        if "value" not in node:
            self.fail(f"{path}.value", "missing_value", f"{op} needs a value")
            return
        problem = value_problem(op, node["value"], value_type)
        if problem:
            self.fail(f"{path}.value", "bad_value", problem)

    # --- events -------------------------------------------------------------

    def leaf_event(self, node: dict, path: str, chain) -> None:
        self.keys(
            node,
            path,
            {"event", "performed", "where", "within_days", "between", "count", "first", "last"},
        )
        name = node["event"]
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            self.fail(f"{path}.event", "bad_event", "event needs a name (up to 200 characters)")
        performed = node.get("performed", True)
        if not isinstance(performed, bool):
            self.fail(f"{path}.performed", "bad_value", "performed is true or false")
        where = node.get("where", [])
        if not isinstance(where, list):
            self.fail(f"{path}.where", "bad_value", "where is a list of property conditions")
            where = []
        for index, condition in enumerate(where):
            self.property_condition(condition, f"{path}.where[{index}]")
        if "within_days" in node and "between" in node:
            self.fail(f"{path}.between", "conflict", "use within_days or between, not both")
        if "within_days" in node and not _day_count(node["within_days"], minimum=1):
            self.fail(
                f"{path}.within_days", "bad_value", f"within_days is a whole number 1 to {MAX_DAYS}"
            )
        if "between" in node and value_problem("between", node["between"], "date"):
            self.fail(f"{path}.between", "bad_value", "between is [from-day, to-day]")
        if "count" in node:
            self.count(node["count"], f"{path}.count")
        for key in ("first", "last"):
            if key in node:
                self.occurrence(node[key], f"{path}.{key}")
        if performed is False:
            for key in ("count", "first", "last"):
                if key in node:
                    self.fail(f"{path}.{key}", "conflict", f"{key} needs performed: true")

    def property_condition(self, condition: object, path: str) -> None:
        if not isinstance(condition, dict) or "property" not in condition:
            self.fail(path, "not_a_node", 'expected {"property": ..., "op": ..., "value": ...}')
            return
        self.keys(condition, path, {"property", "op", "value", "case_sensitive"})
        if self.key_name(condition["property"], f"{path}.property"):
            self.comparison(condition, path, "json")

    def count(self, count: object, path: str) -> None:
        if not isinstance(count, dict) or len(count) != 1 or next(iter(count)) not in COUNT_KEYS:
            self.fail(path, "bad_count", 'count is {"at_least"|"at_most"|"exactly": N}')
            return
        key, value = next(iter(count.items()))
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < MAX_NUMBER:
            self.fail(f"{path}.{key}", "bad_value", "a whole number ≥ 0")

    def occurrence(self, occurrence: object, path: str) -> None:
        if not isinstance(occurrence, dict):
            self.fail(path, "not_a_node", 'expected {"op": ..., "value": ...}')
            return
        self.keys(occurrence, path, {"op", "value"})
        if occurrence.get("op") in NO_VALUE_OPS:
            self.fail(f"{path}.op", "bad_operator", "first/last take a date operator")
            return
        self.comparison(occurrence, path, "datetime")

    # --- identity, source, membership ---------------------------------------

    def leaf_has_identifier(self, node: dict, path: str, chain) -> None:
        self.keys(node, path, {"has_identifier"})
        name = node["has_identifier"]
        if not isinstance(name, str) or not self.refs.identifier_type_exists(name):
            self.fail(
                f"{path}.has_identifier", "unknown_identifier", f"no identifier type {name!r}"
            )

    def leaf_source(self, node: dict, path: str, chain) -> None:
        self.keys(node, path, {"source"})
        value = node["source"]
        if not _positive_int(value) or not self.refs.source_exists(value):
            self.fail(f"{path}.source", "unknown_source", f"no source with id {value!r}")

    def leaf_consent(self, node: dict, path: str, chain) -> None:
        self.keys(node, path, {"consent"})
        code = node["consent"]
        if not isinstance(code, str) or not self.refs.purpose_exists(code):
            self.fail(f"{path}.consent", "unknown_purpose", f"no purpose with code {code!r}")

    def leaf_segment(self, node: dict, path: str, chain: tuple[int, ...]) -> None:
        self.keys(node, path, {"segment"})
        target = node["segment"]
        if not _positive_int(target):
            self.fail(f"{path}.segment", "unknown_segment", "segment is a segment id")
            return
        if target == self.segment_id or target in chain:
            self.fail(
                f"{path}.segment",
                "cycle",
                f"segment {target} refers back to itself through its rules",
            )
            return
        found = self.refs.segment_rule(target)
        if found is None:
            self.fail(f"{path}.segment", "unknown_segment", f"no segment with id {target}")
            return
        kind, rule = found
        if kind == "dynamic":
            # Walk the referenced rule for cycles only; its own problems are its own.
            probe = _Validator([], self.refs, self.segment_id)
            probe.node(rule, "$", 0, (*chain, target))
            if any(e.code == "cycle" for e in probe.errors):
                self.fail(
                    f"{path}.segment",
                    "cycle",
                    f"segment {target} refers back to this segment through its rules",
                )


def _day_count(value: object, *, minimum: int) -> bool:
    """A number of days that date arithmetic from today cannot overflow."""
    return isinstance(value, int) and not isinstance(value, bool) and minimum <= value <= MAX_DAYS


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < MAX_NUMBER


def value_problem(op: str, value: object, value_type: str) -> str | None:
    """Why ``value`` does not fit ``op`` on a value of ``value_type``; None if it does.

    ``value_type`` "json" (traits, properties) takes its type from the value.
    """
    if op in ("within_last_days", "more_than_days_ago"):
        return None if _day_count(value, minimum=0) else f"a whole number of days up to {MAX_DAYS}"
    if op in ("before", "after"):
        return None if parse_day(value) else "a day as YYYY-MM-DD"
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            return "a list of two bounds [from, to]"
        low, high = value
        if value_type != "number" and parse_day(low) and parse_day(high):
            return None if low <= high else "the first bound must not be after the second"
        if value_type in ("json", "number") and is_number(low) and is_number(high):
            return None if low <= high else "the first bound must not be above the second"
        return "two numbers" if value_type == "number" else "two days (YYYY-MM-DD) or numbers"
    if op in ("gt", "gte", "lt", "lte"):
        return None if is_number(value) else "a number"
    if op in ("contains", "starts_with"):
        return None if isinstance(value, str) and value else "a non-empty text"
    if op == "in":
        if not isinstance(value, list) or not value or len(value) > 1000:
            return "a non-empty list (up to 1000 values)"
        for item in value:
            problem = value_problem("eq", item, value_type)
            if problem or isinstance(item, bool):
                return f"every item must be {problem or 'a text or a number'}"
        return None
    if op in ("eq", "neq"):
        if value_type == "bool":
            return None if isinstance(value, bool) else "true or false"
        if value_type == "text":
            return None if isinstance(value, str) else "a text"
        if value_type == "number":
            return None if is_number(value) else "a number"
        if isinstance(value, str) and len(value) > 1000:
            return "texts are up to 1000 characters"
        return None if isinstance(value, str | bool) or is_number(value) else "text/number/bool"
    return f"unknown operator {op}"


def dependencies(rule: dict, *, refs: References | None = None) -> list[str]:
    """What a change must touch to possibly change this rule's answer.

    ``field:X``, ``trait:X``, ``event:NAME`` (``event:*`` any event),
    ``identity:TYPE`` (``identity:*``), ``source:ID``, ``segment:ID`` (static
    lists), ``computed_trait:NAME`` (stored traits, see ``segments.stored``).
    Time passing is not a change: scheduled recomputes cover it.
    """
    refs = refs or References()
    found: set[str] = set()
    _collect(rule, found, refs, ())
    return sorted(found)


def _collect(node: dict, found: set[str], refs: References, seen: tuple[int, ...]) -> None:
    for key in ("all", "any"):
        if key in node:
            for child in node[key]:
                _collect(child, found, refs, seen)
            return
    if "not" in node:
        _collect(node["not"], found, refs, seen)
    elif "field" in node:
        name = node["field"]
        if name == "last_seen":
            found.add("event:*")
        elif name == "is_identified":
            found.add("identity:*")
        elif name != "first_seen":
            found.add(f"field:{name}")
    elif "trait" in node:
        found.add(f"trait:{node['trait']}")
    elif "computed_trait" in node:
        event = (
            ComputedTrait.objects.filter(name=node["computed_trait"])
            .values_list("event", flat=True)
            .first()
        )
        # A stored trait changes when its producer writes it, not with an event.
        found.add(f"event:{event}" if event else f"computed_trait:{node['computed_trait']}")
    elif "event" in node:
        found.add(f"event:{node['event']}")
    elif "has_identifier" in node:
        found.add(f"identity:{node['has_identifier']}")
    elif "source" in node:
        found.add(f"source:{node['source']}")
    elif "consent" in node:
        found.add(f"consent:{node['consent']}")
    elif "segment" in node:
        target = node["segment"]
        found.add(f"segment:{target}")
        referenced = refs.segment_rule(target)
        if referenced and referenced[0] == "dynamic" and target not in seen:
            _collect(referenced[1], found, refs, (*seen, target))


def contact_conditions(rule: object, path: str = "$") -> list[str]:
    """Paths of the conditions that compare emails or phone numbers: the
    ``email``/``phone`` fields, traits and event properties named like them,
    or any value that looks like one (``accounts.masking``). People who may
    not see contact details may not use them: guessing with ``starts_with``
    would recover what the mask hides."""
    if not isinstance(rule, dict):
        return []
    found: list[str] = []
    for key in ("all", "any"):
        if isinstance(rule.get(key), list):
            for index, child in enumerate(rule[key]):
                found += contact_conditions(child, f"{path}.{key}[{index}]")
            return found
    if "not" in rule:
        return contact_conditions(rule["not"], f"{path}.not")
    names = [rule.get("field"), rule.get("trait"), rule.get("property")]
    if any(isinstance(n, str) and is_contact_key(n) for n in names) or _contact_value(
        rule.get("value")
    ):
        found.append(path)
    for index, condition in enumerate(rule.get("where") or []):
        found += contact_conditions(condition, f"{path}.where[{index}]")
    return found


def _contact_value(value: object) -> bool:
    values = value if isinstance(value, list) else [value]
    return any(isinstance(v, str) and looks_like_contact(v) for v in values)
