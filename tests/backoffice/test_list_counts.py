"""Big lists are not counted row by row (issue 26): up to ``EXACT_UP_TO``
rows an exact count that stops one row later, beyond it the planner's
estimate on PostgreSQL ("about N") and previous/next pages elsewhere."""

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


@pytest.fixture
def small_exact(monkeypatch):
    """Counted exactly up to 1,000 rows only, so that 1,203 profiles are "big"."""
    monkeypatch.setattr(estimate, "EXACT_UP_TO", 1000)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")


def test_small_results_are_counted_exactly(customers):
    paginator = EstimatedCountPaginator(Customer.objects.all(), 50)
    assert paginator.count == 1203
    assert (paginator.estimated, paginator.unknown) == (False, False)


def test_the_exact_count_stops_one_row_past_the_limit(customers, small_exact):
    paginator = EstimatedCountPaginator(Customer.objects.all(), 50)
    with CaptureQueriesContext(connection) as queries:
        paginator.count  # noqa: B018 - the property runs the queries
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"]]
    assert len(counts) == 1
    assert "LIMIT 1001" in counts[0]


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


def test_an_empty_in_list_is_counted_not_explained(customers):
    paginator = EstimatedCountPaginator(Customer.objects.filter(pk__in=[]), 50)
    assert paginator.count == 0


def test_without_an_estimate_a_big_list_pages_by_next_and_previous(
    customers, small_exact, admin_client
):
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL estimates")
    assert estimated_count(Customer.objects.all()) is None
    url = reverse("admin:customers_customer_changelist")
    body = admin_client.get(url).content.decode()
    assert "more than 1,000 customers" in body
    last = admin_client.get(url, {"p": "25"})  # 1,203 rows: page 25 holds the last three
    assert last.status_code == 200
    assert len(last.context["cl"].result_list) == 3
    past = admin_client.get(url, {"p": "99"})
    assert past.status_code == 200
    assert len(past.context["cl"].result_list) == 0


@pytest.mark.postgres_only
def test_big_results_are_the_planners_estimate(customers, small_exact):
    paginator = EstimatedCountPaginator(Customer.objects.active().order_by("-last_seen"), 50)
    count = paginator.count
    assert paginator.estimated is True
    assert 1001 <= count <= 1500  # the statistics' figure, not necessarily 1,203


@pytest.mark.postgres_only
def test_the_list_says_about_for_an_estimate(customers, small_exact, admin_client):
    body = admin_client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert "about 1," in body
