from datetime import date

import pytest
from django.urls import reverse

from customers.models import Customer, Identity
from sources.demo.generate import seed_demo


@pytest.fixture
def demo(db):
    seed_demo(customers=120, seed=3, anchor=date(2026, 6, 1))


@pytest.mark.parametrize(
    "url_name",
    [
        "admin:customers_customer_changelist",
        "admin:customers_identity_changelist",
        "admin:customers_event_changelist",
        "admin:customers_identifiertype_changelist",
        "admin:customers_source_changelist",
    ],
)
def test_list_pages_render_with_bounded_queries(
    demo, admin_client, django_assert_max_num_queries, url_name
):
    with django_assert_max_num_queries(15):
        response = admin_client.get(reverse(url_name))
    assert response.status_code == 200


def test_customer_page_shows_identities_traits_and_events(demo, admin_client):
    customer = Customer.objects.filter(is_identified=True, events__isnull=False).distinct().first()
    response = admin_client.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert customer.email in body
    assert "loyalty_tier" in body
    event = customer.events.order_by("-timestamp").first()
    assert event.name in body


@pytest.mark.parametrize("type_name", ["email", "phone", "user_id", "external_id"])
def test_customer_search_finds_by_any_identifier(demo, admin_client, type_name):
    identity = Identity.objects.filter(type__name=type_name).select_related("customer").first()
    term = identity.value.upper() if type_name == "email" else identity.value
    response = admin_client.get(reverse("admin:customers_customer_changelist"), {"q": f"  {term} "})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [identity.customer]


def test_customer_list_filters_by_country_and_source(demo, admin_client):
    url = reverse("admin:customers_customer_changelist")
    response = admin_client.get(url, {"country": "DE"})
    shown = list(response.context["cl"].queryset)
    assert shown
    assert {c.country for c in shown} == {"DE"}


def test_customer_list_shows_countries_by_name(db, admin_client):
    Customer.objects.create(first_name="Lukas", country="DE")
    Customer.objects.create(first_name="Min-jun", country="KR")
    Customer.objects.create(first_name="Nowhere", country="XX")  # no such country: the code
    body = admin_client.get(reverse("admin:customers_customer_changelist")).content.decode()
    assert 'data-label="country">Germany</td>' in body
    assert 'data-label="country">South Korea</td>' in body
    assert 'data-label="country">XX</td>' in body


def test_source_filter_lists_each_profile_once_without_distinct(db, admin_client, source):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from customers.models import IdentifierType, Source

    other = Source.objects.create(name="Shop", kind="server")
    email, user_id = (IdentifierType.objects.get(name=n) for n in ("email", "user_id"))
    both = Customer.objects.create(first_name="Both")
    Identity.objects.create(type=email, value="both@example.com", customer=both, source=source)
    Identity.objects.create(type=user_id, value="both-1", customer=both, source=source)
    elsewhere = Customer.objects.create(first_name="Elsewhere")
    Identity.objects.create(type=email, value="e@example.com", customer=elsewhere, source=other)
    url = reverse("admin:customers_customer_changelist")
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url, {"source": source.pk})
    assert list(response.context["cl"].result_list) == [both]
    filtered = [q["sql"] for q in queries if '"customers_identity"' in q["sql"]]
    assert filtered
    assert all("EXISTS" in sql for sql in filtered)
    assert not any("DISTINCT" in sql or "JOIN" in sql for sql in filtered)


def test_history_page_renders_for_customer(demo, admin_client):
    customer = Customer.objects.first()
    response = admin_client.get(reverse("admin:customers_customer_history", args=[customer.pk]))
    assert response.status_code == 200


def test_admin_creates_source_and_shows_key_once(admin_client):
    from customers.models import Source
    from sources.services.keys import authenticate_write_key

    response = admin_client.post(
        reverse("admin:customers_source_add"),
        {"name": "Landing pages", "kind": "website", "enabled": "on", "description": ""},
        follow=True,
    )
    assert response.status_code == 200
    shown = [str(m) for m in response.context["messages"]]
    key = next(m.split(": ")[-1] for m in shown if "Write key" in m)
    assert authenticate_write_key(key) == Source.objects.get(name="Landing pages")
    again = admin_client.get(reverse("admin:customers_source_changelist"))
    assert key not in again.content.decode()


def test_the_events_list_never_counts_the_whole_events_table(admin_client, db):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from core.db.estimate import EXACT_UP_TO

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(reverse("admin:customers_event_changelist"))
    assert response.status_code == 200
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"] and "customers_event" in q["sql"]]
    # at most one count, that stops one row past the exact range (then an estimate)
    assert all(f"LIMIT {EXACT_UP_TO + 1}" in sql for sql in counts)
