"""``AnyOf``: one array parameter on PostgreSQL, an ``IN`` list elsewhere, the same rows."""

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext

from core.db.lookups import AnyOf
from customers.models import Customer


@pytest.fixture
def people(db):
    return [
        Customer.objects.create(first_name=name, country=country)
        for name, country in (("Zoé", "FR"), ("Jürgen", "DE"), ("Ann", "DE"), ("Åsa", "SE"))
    ]


def test_any_of_keeps_the_rows_holding_one_of_the_values(people):
    rows = Customer.objects.filter(AnyOf("first_name", ["Zoé", "Åsa", "Nobody"]))

    assert sorted(rows.values_list("first_name", flat=True)) == ["Zoé", "Åsa"]


def test_any_of_combines_with_other_conditions_in_q(people):
    zoe, _jurgen, ann, _asa = people
    query = (Q(country="DE") & AnyOf("pk", [zoe.pk, ann.pk])) | (
        Q(country="FR") & AnyOf("pk", [zoe.pk])
    )

    assert sorted(Customer.objects.filter(query).values_list("pk", flat=True)) == [zoe.pk, ann.pk]


def test_any_of_no_values_keeps_nothing(people):
    assert list(Customer.objects.filter(AnyOf("first_name", []))) == []
    assert Customer.objects.filter(Q(country="SE") | AnyOf("pk", [])).count() == 1


@pytest.mark.postgres_only
def test_any_of_sends_the_values_as_one_parameter_on_postgresql(people):
    names = [f"name {n}" for n in range(1000)]
    with CaptureQueriesContext(connection) as queries:
        list(Customer.objects.filter(AnyOf("first_name", names)))

    (sql,) = [q["sql"] for q in queries]
    assert '"first_name" = ANY(' in sql
    assert "IN (" not in sql
