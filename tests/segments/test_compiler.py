from datetime import date, timedelta

import pytest

from customers.models import Customer
from segments.compiler import compile_rule
from segments.models import Segment
from segments.services import add_to_static_segment, save_segment
from tests.segments.conftest import NOW
from tests.segments.reference import matching_ids


@pytest.fixture
def people(make_customer, make_event, make_identity, source):
    from sources.services.keys import create_source

    shop, _ = create_source(name="Shop", kind="shop")
    ann = make_customer(
        first_name="Ann",
        email="ann@example.com",
        country="DE",
        city="Berlin",
        birthday=date(1990, 5, 1),
        is_identified=True,
        traits={
            "plan": "Pro",
            "ltv": 600,
            "newsletter": True,
            "signup": "2026-11-20",
            "tags": ["a"],
        },
    )
    bob = make_customer(
        first_name="Bob",
        country="FR",
        city="Paris",
        last_seen=NOW - timedelta(days=40),
        traits={"plan": "free", "ltv": "700", "newsletter": False, "signup": "2025-01-01T10:00Z"},
    )
    cem = make_customer(
        first_name="Cem",
        city="berlin-mitte",
        first_seen=NOW - timedelta(days=5),
        is_identified=True,
        traits={"ltv": 150.5, "plan": None, "nick": ""},
    )
    dana = make_customer(first_name="Dana", traits={})
    make_customer(first_name="Merged", country="DE", merged_into=ann)
    make_identity(ann, "email", "ann@example.com")
    make_identity(bob, "anonymous_id", "dev-1", identity_source=shop)
    make_event(ann, "Order Completed", days_ago=2, properties={"total": 60, "coupon": "XMAS"})
    make_event(ann, "Order Completed", days_ago=40, properties={"total": 30})
    make_event(ann, "Page Viewed", days_ago=1)
    for days in (5, 6, 7):
        make_event(bob, "Order Completed", days_ago=days, properties={"total": 10})
    make_event(cem, "Signed Up", days_ago=10, event_source=shop)
    return {"Ann": ann, "Bob": bob, "Cem": cem, "Dana": dana}


def names(rule) -> list[str]:
    query = Customer.objects.active().filter(compile_rule(rule, now=NOW))
    return sorted(query.values_list("first_name", flat=True))


CASES = [
    # core text fields
    ({"field": "country", "op": "eq", "value": "de"}, ["Ann"]),
    ({"field": "country", "op": "eq", "value": "de", "case_sensitive": True}, []),
    ({"field": "country", "op": "neq", "value": "DE"}, ["Bob", "Cem", "Dana"]),
    ({"field": "city", "op": "contains", "value": "ERL"}, ["Ann", "Cem"]),
    ({"field": "city", "op": "starts_with", "value": "berlin"}, ["Ann", "Cem"]),
    ({"field": "city", "op": "starts_with", "value": "erlin"}, []),
    ({"field": "country", "op": "in", "value": ["fr", "de"]}, ["Ann", "Bob"]),
    ({"field": "email", "op": "is_set"}, ["Ann"]),
    ({"field": "email", "op": "is_not_set"}, ["Bob", "Cem", "Dana"]),
    ({"field": "is_identified", "op": "eq", "value": True}, ["Ann", "Cem"]),
    # dates
    ({"field": "birthday", "op": "before", "value": "1990-05-01"}, []),
    ({"field": "birthday", "op": "after", "value": "1990-04-30"}, ["Ann"]),
    ({"field": "birthday", "op": "between", "value": ["1990-05-01", "1990-05-01"]}, ["Ann"]),
    ({"field": "birthday", "op": "is_not_set"}, ["Bob", "Cem", "Dana"]),
    ({"field": "last_seen", "op": "within_last_days", "value": 7}, ["Ann", "Cem", "Dana"]),
    ({"field": "last_seen", "op": "more_than_days_ago", "value": 30}, ["Bob"]),
    ({"field": "first_seen", "op": "after", "value": "2026-11-22"}, ["Cem"]),
    ({"field": "first_seen", "op": "before", "value": "2026-11-23"}, ["Ann", "Bob", "Dana"]),
    # traits: typed by the rule's value (a number also reads numeric text: Bob's "700")
    ({"trait": "plan", "op": "eq", "value": "PRO"}, ["Ann"]),
    ({"trait": "plan", "op": "neq", "value": "pro"}, ["Bob", "Cem", "Dana"]),
    ({"trait": "plan", "op": "in", "value": ["free", "team"]}, ["Bob"]),
    ({"trait": "plan", "op": "contains", "value": "R"}, ["Ann", "Bob"]),
    ({"trait": "plan", "op": "is_set"}, ["Ann", "Bob"]),
    ({"trait": "nick", "op": "is_not_set"}, ["Ann", "Bob", "Cem", "Dana"]),
    ({"trait": "ltv", "op": "gt", "value": 500}, ["Ann", "Bob"]),
    ({"trait": "ltv", "op": "gte", "value": 600}, ["Ann", "Bob"]),
    ({"trait": "ltv", "op": "eq", "value": 700}, ["Bob"]),
    ({"trait": "ltv", "op": "lt", "value": 600}, ["Cem"]),
    ({"trait": "ltv", "op": "lte", "value": 600}, ["Ann", "Cem"]),
    ({"trait": "ltv", "op": "between", "value": [150, 151]}, ["Cem"]),
    ({"trait": "ltv", "op": "eq", "value": 150.5}, ["Cem"]),
    ({"trait": "ltv", "op": "eq", "value": "700"}, ["Bob"]),
    ({"trait": "ltv", "op": "in", "value": [600, "700"]}, ["Ann", "Bob"]),
    ({"trait": "newsletter", "op": "eq", "value": True}, ["Ann"]),
    ({"trait": "newsletter", "op": "eq", "value": False}, ["Bob"]),
    ({"trait": "tags", "op": "is_set"}, ["Ann"]),
    ({"trait": "signup", "op": "within_last_days", "value": 10}, ["Ann"]),
    ({"trait": "signup", "op": "more_than_days_ago", "value": 10}, ["Bob"]),
    ({"trait": "signup", "op": "before", "value": "2025-01-02"}, ["Bob"]),
    ({"trait": "signup", "op": "after", "value": "2025-01-01"}, ["Ann"]),
    ({"trait": "signup", "op": "between", "value": ["2025-01-01", "2026-11-20"]}, ["Ann", "Bob"]),
    # events
    ({"event": "Order Completed"}, ["Ann", "Bob"]),
    ({"event": "Order Completed", "performed": False}, ["Cem", "Dana"]),
    ({"event": "Order Completed", "within_days": 3}, ["Ann"]),
    ({"event": "Order Completed", "count": {"at_least": 3}}, ["Bob"]),
    ({"event": "Order Completed", "count": {"at_least": 0}}, ["Ann", "Bob", "Cem", "Dana"]),
    ({"event": "Order Completed", "count": {"at_most": 2}}, ["Ann", "Cem", "Dana"]),
    ({"event": "Order Completed", "count": {"exactly": 2}}, ["Ann"]),
    ({"event": "Order Completed", "count": {"exactly": 0}}, ["Cem", "Dana"]),
    (
        {"event": "Order Completed", "within_days": 30, "count": {"exactly": 1}},
        ["Ann"],
    ),
    (
        {"event": "Order Completed", "between": ["2026-10-01", "2026-10-31"]},
        ["Ann"],
    ),
    (
        {"event": "Order Completed", "where": [{"property": "total", "op": "gte", "value": 30}]},
        ["Ann"],
    ),
    (
        {
            "event": "Order Completed",
            "where": [{"property": "coupon", "op": "eq", "value": "xmas"}],
            "count": {"at_least": 1},
        },
        ["Ann"],
    ),
    (
        {"event": "Order Completed", "first": {"op": "more_than_days_ago", "value": 30}},
        ["Ann"],
    ),
    ({"event": "Order Completed", "last": {"op": "within_last_days", "value": 3}}, ["Ann"]),
    ({"event": "Order Completed", "last": {"op": "before", "value": "2026-11-24"}}, ["Bob"]),
    # identity and source
    ({"has_identifier": "email"}, ["Ann"]),
    ({"has_identifier": "phone"}, []),
    # nesting
    (
        {"all": [{"field": "city", "op": "contains", "value": "berlin"}, {"event": "Signed Up"}]},
        ["Cem"],
    ),
    (
        {"any": [{"trait": "ltv", "op": "gt", "value": 500}, {"event": "Signed Up"}]},
        ["Ann", "Bob", "Cem"],
    ),
    ({"not": {"any": [{"field": "country", "op": "is_set"}, {"event": "Signed Up"}]}}, ["Dana"]),
    (
        {
            "all": [
                {"not": {"field": "country", "op": "eq", "value": "FR"}},
                {
                    "any": [
                        {"not": {"event": "Order Completed"}},
                        {"trait": "newsletter", "op": "eq", "value": True},
                    ]
                },
            ]
        },
        ["Ann", "Cem", "Dana"],
    ),
]


@pytest.mark.parametrize(("rule", "expected"), CASES)
def test_operator_selects_exactly_the_expected_profiles(people, rule, expected):
    assert names(rule) == expected


@pytest.mark.parametrize(("rule", "expected"), CASES)
def test_compiled_rule_agrees_with_reference_in_full_and_scoped_evaluation(people, rule, expected):
    full = Customer.objects.active().filter(compile_rule(rule, now=NOW))
    assert set(full.values_list("pk", flat=True)) == matching_ids(rule, NOW)
    scope = [people["Ann"].pk, people["Dana"].pk]
    scoped = Customer.objects.filter(pk__in=scope).filter(compile_rule(rule, now=NOW, scope=scope))
    assert sorted(scoped.values_list("first_name", flat=True)) == [
        name for name in expected if name in ("Ann", "Dana")
    ]


def test_source_condition_matches_identities_and_events_from_that_source(people):
    shop = Customer.objects.get(pk=people["Bob"].pk).identities.get().source
    assert names({"source": shop.pk}) == ["Bob", "Cem"]


def test_segment_condition_inlines_dynamic_rules(people):
    germans = save_segment(name="Germans", rule={"field": "country", "op": "eq", "value": "DE"})
    assert names({"not": {"segment": germans.pk}}) == ["Bob", "Cem", "Dana"]


def test_segment_condition_reads_static_membership(people):
    vip = save_segment(name="VIP", kind=Segment.Kind.STATIC)
    add_to_static_segment(segment=vip, customer_ids=[people["Dana"].pk])
    assert names({"segment": vip.pk}) == ["Dana"]


@pytest.mark.parametrize(
    ("legal_basis", "expected"),
    [("consent", ["Ann"]), ("legitimate_interest", ["Ann", "Cem", "Dana"])],
)
def test_consent_condition_follows_the_purpose_legal_basis(people, legal_basis, expected):
    from consent.models import Purpose
    from consent.services.consent import record_consent

    Purpose.objects.create(code="newsletter_x", name="Newsletter", legal_basis=legal_basis)
    record_consent(customer=people["Ann"], purpose="newsletter_x", state="granted", method="admin")
    record_consent(
        customer=people["Bob"], purpose="newsletter_x", state="withdrawn", method="admin"
    )
    rule = {"consent": "newsletter_x"}

    assert names(rule) == expected
    assert set(
        Customer.objects.active().filter(compile_rule(rule, now=NOW)).values_list("pk", flat=True)
    ) == matching_ids(rule, NOW)


def test_consent_condition_on_an_inactive_purpose_matches_no_one(people):
    from consent.models import Purpose

    Purpose.objects.create(
        code="old_x", name="Old", legal_basis="legitimate_interest", is_active=False
    )
    assert names({"consent": "old_x"}) == []


@pytest.mark.parametrize(
    ("stored", "matches"),
    [
        ("500", True),
        ("500.00", True),
        ("-0", False),
        ("0500", False),  # a leading zero: a code, not a number
        ("500.", False),
        (" 500", False),
        ("500\n", False),
        ("5e2", False),
        ("$500", False),
        ("1" * 16, False),  # more than 15 digits: an id
        (500, True),
        (500.0, True),
    ],
)
def test_a_number_condition_on_a_trait_reads_plain_numeric_text(make_customer, stored, matches):
    make_customer(first_name="Ann", traits={"ltv": stored})
    assert (names({"trait": "ltv", "op": "eq", "value": 500}) == ["Ann"]) is matches
    assert (names({"trait": "ltv", "op": "neq", "value": 500}) == ["Ann"]) is not matches


def test_a_number_condition_on_an_event_property_reads_json_numbers_only(make_customer, make_event):
    ann = make_customer(first_name="Ann")
    make_event(ann, "Order Completed", properties={"total": "600.00"})
    rule = {"event": "Order Completed", "where": [{"property": "total", "op": "gt", "value": 500}]}
    assert names(rule) == []


@pytest.mark.parametrize("value", ["DE", "de", "Germany", "germany", "DEU", "Deutschland"])
def test_a_country_matches_by_name_or_code(people, value):
    assert names({"field": "country", "op": "eq", "value": value}) == ["Ann"]


def test_countries_by_name_in_a_list(people):
    assert names({"field": "country", "op": "in", "value": ["Germany", "France"]}) == ["Ann", "Bob"]
