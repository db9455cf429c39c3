"""@rudderstack/rudder-sdk-node 3.x, unmodified, against a live server (issue 20)."""

from datetime import UTC, datetime, timedelta

import pytest

from consent.models import ConsentState
from customers.models import Customer, Event
from destinations.models import Delivery, Destination
from destinations.services.dispatch import dispatch_outbox
from destinations.services.operations import save_destination

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_an_explicit_past_timestamp_is_stored_as_sent(run_node):
    # the library adds originalTimestamp (its clock) next to the caller's timestamp
    calls = [
        (
            "track",
            {
                "userId": "u-1",
                "event": "Order Completed",
                "properties": {"revenue": 42.5},
                "timestamp": "2024-03-01T09:30:00.000Z",
            },
        ),
        ("track", {"userId": "u-1", "event": "Viewed"}),
    ]
    assert run_node("rudderstack", calls) == []
    past = Event.objects.get(name="Order Completed")
    assert past.timestamp == datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    assert abs(past.original_timestamp - past.received_at) < timedelta(minutes=1)
    assert past.sent_at is not None
    now = Event.objects.get(name="Viewed")
    assert abs(now.timestamp - now.received_at) < timedelta(seconds=5)


def test_rudderstack_data_sharing_spelling_maps_to_a_purpose(run_node):
    context = {"consent": {"categoryPreferences": {"Data Sharing": True, "Analytics": False}}}
    calls = [("identify", {"userId": "u-2", "traits": {"plan": "pro"}, "context": context})]
    assert run_node("rudderstack", calls) == []
    states = dict(ConsentState.objects.values_list("purpose__code", "state"))
    assert states == {"third_party_sharing": "granted", "analytics": "denied"}


def test_integrations_choose_the_destinations(run_node, settings):
    settings.TRIBUTARY_WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    for name in ("Webhook X", "Webhook Y"):
        destination = Destination(
            name=name,
            url=f"http://127.0.0.1:9/{name[-1]}",
            track_events=["Order Completed"],
            purpose_id=None,
        )
        save_destination(destination=destination)
    calls = [
        (
            "track",
            {
                "userId": "u-3",
                "event": "Order Completed",
                "messageId": "only-x",
                "integrations": {"All": False, "Webhook X": True},
            },
        ),
        (
            "track",
            {
                "userId": "u-3",
                "event": "Order Completed",
                "messageId": "not-y",
                "integrations": {"Webhook Y": False},
            },
        ),
    ]
    assert run_node("rudderstack", calls) == []
    dispatch_outbox()
    routed = sorted(
        (d.destination.name, d.outbox_entry.payload["message_id"])
        for d in Delivery.objects.select_related("destination", "outbox_entry")
    )
    assert routed == [("Webhook X", "not-y"), ("Webhook X", "only-x")]
    assert Customer.objects.active().count() == 1
