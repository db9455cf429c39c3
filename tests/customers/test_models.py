from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from customers.models import Customer, Event, IdentifierType, Identity


@pytest.fixture
def email_type(db):
    return IdentifierType.objects.get(name="email")


def test_seeded_identifier_types_follow_segment_limits(db):
    types = {t.name: t for t in IdentifierType.objects.all()}
    assert set(types) >= {"user_id", "anonymous_id", "email", "phone", "external_id"}
    assert types["user_id"].max_per_profile == 1
    assert types["user_id"].priority < types["email"].priority < types["anonymous_id"].priority
    assert types["anonymous_id"].max_per_profile > 1


def test_one_identity_value_belongs_to_one_customer(email_type):
    ann, bob = Customer.objects.create(), Customer.objects.create()
    Identity.objects.create(type=email_type, value="ann@example.com", customer=ann)
    with pytest.raises(IntegrityError), transaction.atomic():
        Identity.objects.create(type=email_type, value="ann@example.com", customer=bob)
    assert Identity.objects.get(value="ann@example.com").customer == ann


def test_same_value_may_exist_under_different_types(email_type):
    ann = Customer.objects.create()
    external = IdentifierType.objects.get(name="external_id")
    Identity.objects.create(type=email_type, value="x-1", customer=ann)
    Identity.objects.create(type=external, value="x-1", customer=ann)
    assert Identity.objects.filter(value="x-1").count() == 2


def test_one_event_per_source_and_message_id(source):
    ann = Customer.objects.create()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    fields = {"customer": ann, "type": "track", "name": "Order Completed", "timestamp": at}
    Event.objects.create(source=source, message_id="m-1", **fields)
    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(source=source, message_id="m-1", **fields)
    assert Event.objects.count() == 1


def test_same_message_id_from_two_sources_is_two_events(source):
    from sources.services.keys import create_source

    other, _ = create_source(name="App", kind="mobile")
    ann = Customer.objects.create()
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for src in (source, other):
        Event.objects.create(
            source=src, message_id="m-1", customer=ann, type="track", name="x", timestamp=at
        )
    assert Event.objects.count() == 2


def test_customer_cannot_be_merged_into_itself(db):
    ann = Customer.objects.create()
    ann.merged_into_id = ann.pk
    with pytest.raises(IntegrityError), transaction.atomic():
        ann.save()


def test_identifier_limit_must_be_positive(db):
    with pytest.raises(IntegrityError), transaction.atomic():
        IdentifierType.objects.create(name="loyalty_card", max_per_profile=0)


def test_customer_edits_are_recorded_in_history(db):
    ann = Customer.objects.create(first_name="Ann")
    ann.first_name = "Anne"
    ann.save()
    assert [h.first_name for h in ann.history.order_by("history_id")] == ["Ann", "Anne"]
