import pytest

from customers.models import Customer
from segments.compiler import compile_rule
from segments.computed import values_for_customer
from segments.models import ComputedTrait
from tests.segments.conftest import NOW
from tests.segments.reference import matching_ids


@pytest.fixture
def shopper(make_customer, make_event):
    ann = make_customer(first_name="Ann")
    orders = [
        (1, {"total": 20, "category": "shoes"}),
        (2, {"total": 40.5, "category": "books"}),
        (3, {"total": "n/a", "category": "shoes"}),
        (50, {"total": 100, "category": "garden"}),
        (4, {"category": 7}),
    ]
    for days_ago, properties in orders:
        make_event(ann, "Order Completed", days_ago=days_ago, properties=properties)
    make_event(ann, "Page Viewed", days_ago=1, properties={"total": 999})
    bob = make_customer(first_name="Bob")
    make_event(bob, "Order Completed", days_ago=1, properties={"total": 5, "category": "books"})
    make_customer(first_name="Cem")
    return ann


def trait(kind, prop="", window=30) -> ComputedTrait:
    return ComputedTrait.objects.create(
        name=f"{kind}_t", kind=kind, event="Order Completed", property=prop, window_days=window
    )


@pytest.mark.parametrize(
    ("kind", "prop", "window", "expected"),
    [
        ("count", "", 30, 4),
        ("count", "", None, 5),
        ("sum", "total", 30, 60.5),
        ("sum", "total", None, 160.5),
        ("avg", "total", 30, 30.25),
        ("min", "total", None, 20.0),
        ("max", "total", 30, 40.5),
        ("most_frequent", "category", 30, "shoes"),
        ("first", "category", 30, "shoes"),
        ("first", "category", None, "garden"),
        ("last", "category", 30, "shoes"),
        ("unique_list", "category", None, ["books", "garden", "shoes"]),
        ("unique_count", "category", 30, 2),
    ],
)
def test_computed_trait_value_on_the_profile(shopper, kind, prop, window, expected):
    computed = trait(kind, prop, window)
    values = values_for_customer(customer_id=shopper.pk, traits=[computed], now=NOW)
    assert values == {computed.name: expected}


def test_computed_traits_of_a_profile_without_events(make_customer):
    cem = make_customer()
    traits = [trait("count"), trait("sum", "total"), trait("avg", "total"), trait("last", "c")]
    traits.append(trait("unique_list", "c"))
    values = values_for_customer(customer_id=cem.pk, traits=traits, now=NOW)
    assert values == {
        "count_t": 0,
        "sum_t": 0.0,
        "avg_t": None,
        "last_t": None,
        "unique_list_t": [],
    }


@pytest.mark.parametrize(
    ("kind", "prop", "condition", "expected"),
    [
        ("count", "", {"op": "gte", "value": 4}, ["Ann"]),
        ("count", "", {"op": "lt", "value": 1}, ["Cem"]),
        ("sum", "total", {"op": "between", "value": [5, 60.5]}, ["Ann", "Bob"]),
        ("avg", "total", {"op": "is_not_set"}, ["Cem"]),
        ("max", "total", {"op": "gt", "value": 10}, ["Ann"]),
        ("min", "total", {"op": "eq", "value": 5}, ["Bob"]),
        ("most_frequent", "category", {"op": "eq", "value": "SHOES"}, ["Ann"]),
        ("first", "category", {"op": "in", "value": ["books", "garden"]}, ["Bob"]),
        ("last", "category", {"op": "neq", "value": "shoes"}, ["Bob", "Cem"]),
        ("unique_list", "category", {"op": "eq", "value": "books"}, ["Ann", "Bob"]),
        ("unique_list", "category", {"op": "starts_with", "value": "sh"}, ["Ann"]),
        ("unique_list", "category", {"op": "is_not_set"}, ["Cem"]),
        ("unique_count", "category", {"op": "gte", "value": 2}, ["Ann"]),
    ],
)
def test_computed_trait_in_a_rule(shopper, kind, prop, condition, expected):
    computed = trait(kind, prop, 30)
    rule = {"computed_trait": computed.name, **condition}
    query = Customer.objects.active().filter(compile_rule(rule, now=NOW))
    assert sorted(query.values_list("first_name", flat=True)) == expected
    assert set(query.values_list("pk", flat=True)) == matching_ids(rule, NOW)
