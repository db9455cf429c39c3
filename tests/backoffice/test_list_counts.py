"""Big lists are not counted row by row (issue 26): on PostgreSQL the
planner's estimate from ``EXACT_BELOW`` rows up, exact below and on SQLite."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.db import estimate
from core.db.estimate import EstimatedCountPaginator, estimated_count
from customers.models import Customer


@pytest.fixture
def customers(db):
    Customer.objects.bulk_create(Customer(first_name=f"P{i}") for i in range(1203))


def test_small_results_are_counted_exactly(customers):
    paginator = EstimatedCountPaginator(Customer.objects.all(), 50)
    assert paginator.count == 1203
    assert paginator.estimated is False


def test_the_list_writes_the_count_with_separators(customers, admin_client):
    body = admin_client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "1,203" in body
    assert "about 1,203" not in body


@pytest.mark.parametrize("role", ["viewer", "marketer", "steward"])
def test_every_role_reads_the_counted_lists(customers, role_client, role):
    client = role_client(role)
    for name in ("customer", "identity", "event"):
        response = client.get(reverse(f"admin:customers_{name}_changelist"))
        assert response.status_code == 200


def test_sqlite_has_no_estimate(customers):
    if connection.vendor == "postgresql":
        pytest.skip("SQLite only")
    assert estimated_count(Customer.objects.all()) is None


def test_an_empty_in_list_is_counted_not_explained(customers):
    paginator = EstimatedCountPaginator(Customer.objects.filter(pk__in=[]), 50)
    assert paginator.count == 0


@pytest.mark.postgres_only
def test_big_results_are_the_planners_estimate_without_a_count(customers, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    monkeypatch.setattr(estimate, "EXACT_BELOW", 1000)
    paginator = EstimatedCountPaginator(Customer.objects.active().order_by("-last_seen"), 50)
    with CaptureQueriesContext(connection) as queries:
        count = paginator.count
    assert paginator.estimated is True
    assert 900 <= count <= 1500  # the statistics' figure, not necessarily 1,203
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["EXPLAIN"]


@pytest.mark.postgres_only
def test_the_list_says_about_for_an_estimate(customers, admin_client, monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE customers_customer")
    monkeypatch.setattr(estimate, "EXACT_BELOW", 1000)
    body = admin_client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "about 1," in body
