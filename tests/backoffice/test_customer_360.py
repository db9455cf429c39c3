from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from accounts.masking import mask_email
from customers.models import Customer, Event
from customers.services.normalize import Issue
from customers.services.quality import record_issues
from tests.calls import call


@pytest.fixture
def person(source):
    customer = call(
        source,
        at=datetime(2026, 5, 1, 9, 30, tzinfo=UTC),
        traits={"firstName": "Ann", "email": "ann@example.com", "plan": "pro"},
        user_id="ann-1",
    ).customer
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
    assert events.paginator.count == 31  # the 30 steps and the identify call that made Ann
    assert [e.name for e in events.object_list][:2] == ["Step 29", "Step 28"]
    second = _page(admin_client, person, events_page=2).context["bo"]["events"]
    assert [e.name for e in second.object_list] == [
        "Step 4",
        "Step 3",
        "Step 2",
        "Step 1",
        "Step 0",
        "",  # the identify call
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


def test_segments_show_entry_and_exit_times(person, admin_client):
    from segments.models import Segment, SegmentMembership

    vip = Segment.objects.create(name="VIP", kind="static")
    entered = datetime(2026, 5, 3, 8, 0, tzinfo=UTC)
    SegmentMembership.objects.create(segment=vip, customer=person, entered_at=entered)
    rows = _page(admin_client, person).context["bo"]["segments"]
    assert [(m.segment.name, m.entered_at, m.exited_at) for m in rows] == [("VIP", entered, None)]


def test_consent_state_and_history(person, admin_client):
    from consent.services.consent import record_consent

    record_consent(customer=person, purpose="email_marketing", state="granted", method="admin")
    record_consent(customer=person, purpose="email_marketing", state="withdrawn", method="api")
    bo = _page(admin_client, person).context["bo"]
    email = next(c for c in bo["consent"] if c.code == "email_marketing")
    assert (email.state, email.allowed) == ("withdrawn", False)
    assert [r.state for r in bo["consent_history"]] == ["withdrawn", "granted"]


@pytest.fixture
def merged(person, steward):
    from customers.services.merging import merge_manually

    other = Customer.objects.create(first_name="Annie", first_seen=person.first_seen + timedelta(1))
    (merge,) = merge_manually(customer_ids=[person.pk, other.pk], actor=steward)
    return merge


def test_steward_undoes_a_merge_from_the_360_page(merged, role_client):
    client = role_client("steward")
    page = _page(client, merged.survivor)
    assert [m.pk for m in page.context["bo"]["merges"]] == [merged.pk]
    url = reverse("admin:customers_customer_undo_merge", args=[merged.survivor_id, merged.pk])
    assert client.post(url).status_code == 302
    assert Customer.objects.get(pk=merged.absorbed_id).merged_into_id is None


def test_marketer_cannot_undo_a_merge(merged, role_client):
    client = role_client("marketer")
    assert b"Undo merge" not in _page(client, merged.survivor).content
    url = reverse("admin:customers_customer_undo_merge", args=[merged.survivor_id, merged.pk])
    assert client.post(url).status_code == 403
    assert Customer.objects.get(pk=merged.absorbed_id).merged_into_id == merged.survivor_id
