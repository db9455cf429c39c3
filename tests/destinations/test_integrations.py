"""A call's ``integrations`` decides which destinations receive it (issue 20)."""

from datetime import UTC, datetime

import pytest

from destinations.models import Delivery
from destinations.services.dispatch import dispatch_outbox, receives_call
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message

from .conftest import make_destination


def _call(source, *, message_id, integrations, type="track"):
    at = datetime(2026, 11, 2, tzinfo=UTC)
    return process_message(
        NormalizedMessage(
            source_id=source.pk,
            message_id=message_id,
            type=type,
            timestamp=at,
            received_at=at,
            user_id="u1",
            event="Order Completed" if type == "track" else "",
            traits={"plan": "pro"} if type == "identify" else {},
            integrations=integrations,
        )
    )


@pytest.mark.parametrize(
    ("integrations", "expected"),
    [
        ({}, True),
        (None, True),
        ({"All": False}, False),
        ({"All": False, "CRM hook": True}, True),
        ({"All": False, "crm HOOK ": True}, True),
        ({"All": False, "CRM hook": {"listId": 4}}, True),
        ({"CRM hook": False}, False),
        ({"All": True, "CRM hook": False}, False),
        ({"All": False, "Other": True}, False),
        ({"Other": False}, True),
        ({"All": "false"}, True),
        ({"All": False, "CRM hook": "yes"}, False),
    ],
)
def test_receives_call(integrations, expected):
    assert receives_call("CRM hook", integrations) is expected


def test_all_false_with_a_named_destination_reaches_only_that_one(receiver, run_on_commit, source):
    make_destination(receiver.url, name="Webhook X", track_events=["Order Completed"])
    make_destination(receiver.url, name="Webhook Y", track_events=["Order Completed"])
    _call(source, message_id="m1", integrations={"All": False, "Webhook X": True})
    _call(source, message_id="m2", integrations={"Webhook X": False})
    _call(source, message_id="m3", integrations={})

    run_on_commit(dispatch_outbox)

    sent = sorted(
        (d.destination.name, d.payload["data"]["message_id"])
        for d in Delivery.objects.select_related("destination")
    )
    assert sent == [
        ("Webhook X", "m1"),
        ("Webhook X", "m3"),
        ("Webhook Y", "m2"),
        ("Webhook Y", "m3"),
    ]
    assert all("integrations" not in request.json["data"] for request in receiver.requests)


def test_identify_calls_honour_integrations_too(receiver, run_on_commit, source):
    make_destination(receiver.url, name="CRM hook", on_identify=True)
    _call(source, message_id="i1", type="identify", integrations={"CRM hook": False})
    _call(source, message_id="i2", type="identify", integrations={"All": True})

    run_on_commit(dispatch_outbox)

    assert [r.json["data"]["message_id"] for r in receiver.requests] == ["i2"]
