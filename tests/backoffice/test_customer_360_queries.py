"""The customer 360° page runs as many queries for a person with a long
history as for one with a short one (issue 26): every section is one bounded
query, none a query per event, identity, segment or consent record."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from consent.services.consent import record_consent
from customers.models import Customer, DataQualityIssue, Event, IdentifierType, Identity
from customers.services.merging import merge_manually
from segments.models import Segment, SegmentMembership
from sources.services.keys import create_source

PURPOSES = ("email_marketing", "sms_marketing", "analytics")
IDENTIFIER_TYPES = ("email", "user_id", "external_id", "phone")


def _person(size: int, *, tag: str, steward) -> Customer:
    """A profile with ``size`` of everything the page lists, each from its own source."""
    sources = [create_source(name=f"{tag} source {i}", kind="server")[0] for i in range(size)]
    person = Customer.objects.create(
        first_name="Ann",
        last_name=tag,
        email=f"{tag}@example.com",
        is_identified=True,
        traits={f"trait_{i}": i for i in range(size)},
        trait_provenance={
            f"traits.trait_{i}": {"source": s.pk, "at": "2026-05-01T09:30:00+00:00"}
            for i, s in enumerate(sources)
        },
    )
    for i, source in enumerate(sources):
        Identity.objects.create(
            type=IdentifierType.objects.get(name=IDENTIFIER_TYPES[i % len(IDENTIFIER_TYPES)]),
            value=f"{tag}-{i}@example.com" if i % 4 == 0 else f"{tag}-{i}",
            customer=person,
            source=source,
        )
    start = datetime(2026, 5, 2, tzinfo=UTC)
    Event.objects.bulk_create(
        Event(
            customer=person,
            source=sources[i % size],
            type="track" if i % 3 else "page",
            name="Order Completed" if i % 5 == 0 else f"Step {i % 7}",
            properties={"revenue": 10 + i, "contact": f"{tag}@example.com"},
            timestamp=start + timedelta(hours=i),
            message_id=f"{tag}-m-{i}",
        )
        for i in range(size * 5)  # the large one fills more than a page of the timeline
    )
    for i in range(size):
        segment = Segment.objects.create(name=f"{tag} segment {i}", kind="static")
        exited = start + timedelta(days=2) if i % 2 else None
        SegmentMembership.objects.create(
            segment=segment, customer=person, entered_at=start, exited_at=exited
        )
        record_consent(
            customer=person,
            purpose=PURPOSES[i % len(PURPOSES)],
            state="granted" if i % 2 else "denied",
            method="admin",
            source_id=sources[i].pk,
        )
        DataQualityIssue.objects.create(
            customer=person,
            source=sources[i],
            field="phone",
            value="12",
            code="too_short",
            message="12 is too short",
        )
        person.city = f"City {i}"
        person.save()  # a history row
        other = Customer.objects.create(first_name=f"Copy {i}", last_name=tag)
        merge_manually(customer_ids=[person.pk, other.pk], actor=steward, survivor_id=person.pk)
    return person


def _queries(client, person: Customer) -> list[str]:
    url = reverse("admin:customers_customer_change", args=[person.pk])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("role", ["steward", "viewer"])
def test_the_360_page_runs_as_many_queries_for_a_long_history_as_for_a_short_one(
    db, steward, role_client, role
):
    small = _person(1, tag="small", steward=steward)
    large = _person(6, tag="large", steward=steward)
    client = role_client(role)
    _queries(client, small)  # warm: session, permissions, purposes
    assert len(_queries(client, large)) == len(_queries(client, small))


def test_the_360_page_stays_within_its_query_budget(db, steward, admin_client):
    large = _person(6, tag="large", steward=steward)
    _queries(admin_client, large)
    assert len(_queries(admin_client, large)) <= 25
