"""Custom-trait columns get one type per column; number rules then match them."""

from io import StringIO

import pytest
from django.core.management import call_command

from core.models import OutboxEntry
from customers.models import Customer
from customers.services.values import number_shape, read_number
from segments.compiler import compile_rule
from sources.imports.cells import ColumnSurvey
from tests.imports.conftest import csv_bytes, json_bytes, vendor_file
from tests.segments.conftest import NOW


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("512.10", 512.1),
        ("500", 500),
        ("$1,204.50", 1204.5),
        ("1 204,50", None),  # a decimal comma is not read
        ("1'204.50", 1204.5),
        ("€12", 12),
        ("12 €", 12),
        ("-$5.00", -5.0),
        ("0.5", 0.5),
        ("0", 0),
        ("02116", None),  # leading zero: a code
        ("1.234.567", None),
        ("12,34", None),
        ("1234567890123456", None),  # 16 digits: an id
        ("$€5", None),
        ("5%", None),
        ("", None),
    ],
)
def test_numbers_are_read_with_one_currency_symbol_and_thousands_separator(text, number):
    assert read_number(text) == number
    assert (number_shape(text) is None) is (number is None)


@pytest.mark.parametrize(
    ("cells", "column_type"),
    [
        (["512.10", "89.00", "", "1,204.50"], "number"),
        (["$512.10", "89.00"], "number"),
        (["$512.10", "€89.00"], "text"),  # two currencies
        (["1,204.50", "1'204.50"], "text"),  # two separators
        (["02116", "10115"], "text"),  # postcodes
        (["7", "n/a"], "text"),
        (["yes", "No", "TRUE", "false"], "boolean"),
        (["1", "0"], "number"),
        (["3/14/1985", "1985-03-15", "March 3, 1990"], "date"),
        (["gold", "silver"], "text"),
        (["", ""], "text"),
    ],
)
def test_a_column_type_holds_for_every_cell(cells, column_type):
    survey = ColumnSurvey(typed=True, dated=True)
    for cell in cells:
        survey.add(cell)
    assert survey.type == column_type


def _names(rule):
    query = Customer.objects.active().filter(compile_rule(rule, now=NOW))
    return sorted(query.values_list("email", flat=True))


def test_a_number_rule_over_an_imported_column_matches_exactly_the_rows_over_it(import_file):
    import_file("customers_export.csv", vendor_file("shopify_customers.csv"))
    rule = {"trait": "total_spent", "op": "gt", "value": 500}
    assert _names(rule) == ["jose.nunez@example.com", "zoe.mueller@example.com"]
    assert _names({"trait": "total_spent", "op": "lte", "value": 89}) == [
        "ann.oneil@example.com",
        "bob.lee@example.com",
    ]
    assert _names({"trait": "total_orders", "op": "between", "value": [1, 3]}) == [
        "ann.oneil@example.com",
        "jose.nunez@example.com",
    ]


def test_a_number_rule_matches_a_dirty_column_kept_as_text_exactly_where_it_reads(import_file):
    rows = [
        ["Email", "Total Spent"],
        ["a@example.com", "512.10"],
        ["b@example.com", "n/a"],
        ["c@example.com", "499.99"],
        ["d@example.com", "500.00"],
        ["e@example.com", "1,200.00"],  # text with a separator: not read by rules
    ]
    job = import_file("dirty.csv", csv_bytes(rows))
    assert "Total Spent" not in job.column_types
    assert Customer.objects.get(email="a@example.com").traits == {"total_spent": "512.10"}
    assert _names({"trait": "total_spent", "op": "gt", "value": 500}) == ["a@example.com"]
    assert _names({"trait": "total_spent", "op": "eq", "value": 500}) == ["d@example.com"]


def test_a_forced_type_overrides_the_column_survey(import_file):
    rows = [["Email", "Member No", "Birthday"], ["a@example.com", "1207", "3/9"]]
    job = import_file(
        "x.csv",
        csv_bytes(rows),
        mapping={"Member No": "trait.member_no:text", "Birthday": "trait.bday:month_day"},
    )
    assert Customer.objects.get().traits == {"member_no": "1207", "bday": "03/09"}
    assert job.issues.count() == 0


def test_a_value_that_does_not_read_as_the_forced_type_is_a_warning(import_file):
    rows = [["Email", "Visits"], ["a@example.com", "many"]]
    job = import_file("x.csv", csv_bytes(rows), mapping={"Visits": "trait.visits:number"})
    assert Customer.objects.get().traits == {}
    assert list(job.issues.values_list("column", "value", "code")) == [
        ("Visits", "many", "invalid_number")
    ]


def test_json_values_keep_their_types_in_text_columns(import_file):
    objects = [
        {"email": "a@example.com", "prefs": {"news": True}, "score": 5},
        {"email": "b@example.com", "prefs": "none", "score": 7.5},
    ]
    import_file("people.json", json_bytes(objects))
    assert Customer.objects.get(email="a@example.com").traits == {
        "prefs": {"news": True},
        "score": 5,
    }
    assert Customer.objects.get(email="b@example.com").traits == {"prefs": "none", "score": 7.5}


def _retype(*args):
    out = StringIO()
    call_command("retype_traits", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def stored(make_customer):
    return {
        value: make_customer(email=f"p{i}@example.com", traits={"spent": value, "plan": "pro"})
        for i, value in enumerate(["512.10", "$1,200.00", 89, "n/a", "0500"])
    }


@pytest.fixture
def make_customer(db):
    from django.utils import timezone

    def make(**fields):
        return Customer.objects.create(
            first_seen=timezone.now(), last_seen=timezone.now(), **fields
        )

    return make


def test_retype_traits_converts_stored_text_and_lists_what_it_cannot(stored):
    out = _retype("spent", "--as", "number")
    assert out.splitlines() == [
        "trait spent as number: converted 2, already number 1, cannot convert 2",
        f"  customer {stored['n/a'].pk}: 'n/a'",
        f"  customer {stored['0500'].pk}: '0500'",
    ]
    values = {c.email: c.traits["spent"] for c in Customer.objects.all()}
    assert values == {
        "p0@example.com": 512.1,
        "p1@example.com": 1200.0,
        "p2@example.com": 89,
        "p3@example.com": "n/a",
        "p4@example.com": "0500",
    }
    assert Customer.objects.get(email="p0@example.com").traits["plan"] == "pro"
    changed = OutboxEntry.objects.filter(topic="profile.updated")
    assert sorted(e.payload["customer_id"] for e in changed) == [
        stored["512.10"].pk,
        stored["$1,200.00"].pk,
    ]
    assert Customer.history.filter(history_type="~", id=stored["512.10"].pk).count() == 1


def test_retype_traits_dry_run_writes_nothing(stored):
    out = _retype("spent", "--as", "number", "--dry-run")
    assert out.startswith("trait spent as number: would convert 2, already number 1")
    assert Customer.objects.get(email="p0@example.com").traits["spent"] == "512.10"
    assert not OutboxEntry.objects.filter(topic="profile.updated").exists()


@pytest.mark.parametrize(
    ("as_type", "values", "converted", "failed"),
    [
        ("boolean", ["yes", "FALSE", True, "maybe"], ["yes", "FALSE"], ["maybe"]),
        ("date", ["3/14/1985", "1985-03-15", "01/02/1985", "soon"], ["3/14", "01/02"], ["soon"]),
    ],
)
def test_retype_traits_to_boolean_and_date(make_customer, as_type, values, converted, failed):
    for i, value in enumerate(values):
        make_customer(email=f"p{i}@example.com", traits={"t": value})
    out = _retype("t", "--as", as_type, "--date-order", "MDY")
    assert f"converted {len(converted)}" in out
    assert f"cannot convert {len(failed)}" in out
    stored = [c.traits["t"] for c in Customer.objects.order_by("pk")]
    expected = {
        "boolean": [True, False, True, "maybe"],
        "date": ["1985-03-14", "1985-03-15", "1985-01-02", "soon"],
    }[as_type]
    assert stored == expected
