"""Random profiles, events and rules: the compiled SQL must agree with the reference."""

from datetime import timedelta

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customers.models import Customer, Event
from segments.compiler import compile_rule
from segments.rules import validate_rule
from tests.segments.conftest import NOW
from tests.segments.reference import matching_ids

TEXTS = ["DE", "de", "FR", "", "Berlin", "ber", "pro", "Pro", "free", "2026-11-20"]
JSON_VALUES = [
    "pro",
    "Pro",
    "free",
    "",
    None,
    0,
    5,
    10.5,
    "5",
    "5.00",
    "05",
    "-10.50",
    True,
    False,
    "2026-11-20",
    "2026-10-01T10:00Z",
    "nope",
    ["a"],
]
DAYS_AGO = [0.5, 2, 5, 29, 31, 100]

text_fields = st.fixed_dictionaries(
    {"country": st.sampled_from(["DE", "de", "FR", ""]), "city": st.sampled_from(TEXTS)}
)
traits = st.dictionaries(st.sampled_from(["plan", "ltv", "d"]), st.sampled_from(JSON_VALUES))
events = st.lists(
    st.tuples(
        st.sampled_from(["A", "B"]),
        st.sampled_from(DAYS_AGO),
        st.dictionaries(st.just("x"), st.sampled_from([1, 5, "5", "a", True])),
    ),
    max_size=5,
)
profiles = st.lists(
    st.tuples(text_fields, traits, st.booleans(), st.sampled_from(DAYS_AGO), events),
    min_size=1,
    max_size=6,
)


def _json_condition(key_name: str, keys: list[str]):
    text_op = st.tuples(
        st.sampled_from(["eq", "neq", "contains", "starts_with"]),
        st.sampled_from([*TEXTS[:-1], "r"]),
    ).filter(lambda t: t[1] != "" or t[0] in ("eq", "neq"))
    number_op = st.tuples(
        st.sampled_from(["eq", "neq", "gt", "gte", "lt", "lte"]), st.sampled_from([0, 5, 10.5])
    )
    other = st.sampled_from(
        [
            ("is_set", None),
            ("is_not_set", None),
            ("eq", True),
            ("in", ["pro", 5]),
            ("between", [1, 10.5]),
            ("within_last_days", 10),
            ("more_than_days_ago", 30),
            ("before", "2026-11-01"),
            ("after", "2026-10-01"),
            ("between", ["2026-10-01", "2026-11-20"]),
        ]
    )

    def build(pair, key, case):
        op, value = pair
        node = {key_name: key, "op": op}
        if value is not None:
            node["value"] = value
        if case and op in ("eq", "neq", "contains", "starts_with", "in"):
            node["case_sensitive"] = True
        return node

    return st.builds(
        build, st.one_of(text_op, number_op, other), st.sampled_from(keys), st.booleans()
    )


field_leaf = (
    st.builds(
        lambda field, op, value: {"field": field, "op": op, "value": value},
        st.sampled_from(["country", "city"]),
        st.sampled_from(["eq", "neq", "contains", "starts_with"]),
        st.sampled_from(["de", "Ber", "r", "FR", "Germany", "france"]),
    )
    | st.builds(
        lambda op, value: {"field": "last_seen", "op": op, "value": value},
        st.sampled_from(["within_last_days", "more_than_days_ago"]),
        st.sampled_from([1, 7, 30]),
    )
    | st.builds(lambda v: {"field": "is_identified", "op": "eq", "value": v}, st.booleans())
)


@st.composite
def event_leaf(draw):
    node = {"event": draw(st.sampled_from(["A", "B"]))}
    if draw(st.booleans()):
        node["within_days"] = draw(st.sampled_from([1, 7, 30]))
    if draw(st.booleans()):
        node["where"] = [draw(_json_condition("property", ["x"]))]
    shape = draw(st.sampled_from(["plain", "not_performed", "count", "first", "last"]))
    if shape == "not_performed":
        node["performed"] = False
    elif shape == "count":
        node["count"] = {
            draw(st.sampled_from(["at_least", "at_most", "exactly"])): draw(st.integers(0, 3))
        }
    elif shape in ("first", "last"):
        node[shape] = {
            "op": draw(st.sampled_from(["within_last_days", "more_than_days_ago"])),
            "value": draw(st.sampled_from([3, 30])),
        }
    return node


leaves = field_leaf | _json_condition("trait", ["plan", "ltv", "d"]) | event_leaf()
rules = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.builds(lambda c: {"all": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"any": c}, st.lists(children, min_size=1, max_size=3)),
        st.builds(lambda c: {"not": c}, children),
    ),
    max_leaves=6,
)


def _store(source, data) -> None:
    for n, (fields, trait_values, identified, seen_ago, event_rows) in enumerate(data):
        customer = Customer.objects.create(
            **fields,
            traits=trait_values,
            is_identified=identified,
            last_seen=NOW - timedelta(days=seen_ago),
        )
        Event.objects.bulk_create(
            Event(
                customer=customer,
                source=source,
                type="track",
                name=name,
                properties=properties,
                timestamp=NOW - timedelta(days=ago),
                message_id=f"p{n}-{i}",
            )
            for i, (name, ago, properties) in enumerate(event_rows)
        )


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=profiles, rule_list=st.lists(rules, min_size=1, max_size=4))
def test_compiled_rules_agree_with_the_reference_evaluator(source, data, rule_list):
    with transaction.atomic():
        _store(source, data)
        for rule in rule_list:
            validate_rule(rule)
            compiled = Customer.objects.active().filter(compile_rule(rule, now=NOW))
            assert set(compiled.values_list("pk", flat=True)) == matching_ids(rule, NOW), rule
        transaction.set_rollback(True)
