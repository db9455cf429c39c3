from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from accounts.masking import mask_email
from customers.models import Customer, Event
from customers.services.normalize import Issue
from customers.services.profiles import apply_traits
from customers.services.quality import record_issues


@pytest.fixture
def person(source):
    customer = Customer.objects.create(first_name="Ann", is_identified=True)
    apply_traits(
        customer=customer,
        core={"email": "ann@example.com"},
        traits={"plan": "pro"},
        source_id=source.pk,
        observed_at=datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
    )
    start = datetime(2026, 5, 2, tzinfo=UTC)
    Event.objects.bulk_create(
        Event(
            customer=customer,
            source=source,
            type="track" if i % 3 else "page",
            name=f"Step {i}",
            timestamp=start + timedelta(hours=i),
            message_id=f"m-{i}",
        )
        for i in range(30)
    )
    return customer


def _page(client, customer, **params):
    url = reverse("admin:customers_customer_change", args=[customer.pk])
    return client.get(url, params)


def test_trait_shows_the_source_and_time_that_set_it(person, admin_client, source):
    rows = {r.name: r for r in _page(admin_client, person).context["bo"]["traits"]}
    assert (rows["plan"].value, rows["plan"].source) == ("pro", source.name)
    assert rows["plan"].at == datetime(2026, 5, 1, 9, 30, tzinfo=UTC)


def test_timeline_is_paginated_newest_first(person, admin_client):
    events = _page(admin_client, person).context["bo"]["events"]
    assert events.paginator.count == 30
    assert [e.name for e in events.object_list][:2] == ["Step 29", "Step 28"]
    second = _page(admin_client, person, events_page=2).context["bo"]["events"]
    assert [e.name for e in second.object_list] == [
        "Step 4",
        "Step 3",
        "Step 2",
        "Step 1",
        "Step 0",
    ]


def test_timeline_filters_by_event_type(person, admin_client):
    events = _page(admin_client, person, event_type="page").context["bo"]["events"]
    assert events.paginator.count == 10
    assert {e.type for e in events.object_list} == {"page"}


def test_data_quality_issues_are_listed(person, admin_client, source):
    record_issues(
        issues=[
            Issue(field="birthday", value="31/02/1990", code="invalid_date", message="no such date")
        ],
        customer=person,
        source_id=source.pk,
    )
    body = _page(admin_client, person).content.decode()
    assert "31/02/1990" in body
    assert "no such date" in body


def test_change_history_says_who_changed_what(person, admin_client):
    url = reverse("admin:customers_customer_change", args=[person.pk])
    data = {
        "first_name": "Anna",
        "last_name": "",
        "email": "ann@example.com",
        "phone": "",
        "birthday": "",
        "company": "",
        "address_line1": "",
        "address_line2": "",
        "postal_code": "",
        "city": "",
        "region": "",
        "country": "",
        "identities-TOTAL_FORMS": "0",
        "identities-INITIAL_FORMS": "0",
    }
    assert admin_client.post(url, data).status_code == 302
    latest = _page(admin_client, person).context["bo"]["history"][0]
    assert (latest.who, latest.kind) == ("boss", "changed")
    assert ("first_name", "Ann", "Anna") in latest.changes


def test_viewer_sees_masked_emails_in_change_history(person, role_client):
    Customer.objects.get(pk=person.pk).save()  # a history row holding the email
    body = _page(role_client("viewer"), person).content.decode()
    assert "ann@example.com" not in body
    assert mask_email("ann@example.com") in body


def test_360_page_runs_a_bounded_number_of_queries(
    person, admin_client, django_assert_max_num_queries
):
    with django_assert_max_num_queries(30):
        _page(admin_client, person)
