from datetime import UTC, datetime

from django.urls import reverse

from destinations.models import Delivery
from destinations.services.dispatch import dispatch_outbox
from segments.models import Segment
from segments.services import (
    add_to_static_segment,
    recompute_segment,
    remove_from_static_segment,
    save_segment,
)
from sources.contracts import NormalizedMessage
from sources.pipeline import process_message

from .conftest import make_destination


def identify(source, *, user_id: str, message_id: str, **traits):
    at = datetime(2026, 11, 5, tzinfo=UTC)
    return process_message(
        NormalizedMessage(
            source_id=source.pk,
            message_id=message_id,
            type="identify",
            timestamp=at,
            received_at=at,
            user_id=user_id,
            traits=traits,
        )
    ).customer


def segment_destination(receiver, *segments):
    destination, _ = make_destination(receiver.url, on_segment_entered=True, on_segment_exited=True)
    destination.segments.set(segments)
    return destination


def sent(receiver):
    return [
        (r.json["type"], r.json["data"]["segment"], r.json["profile"]["id"])
        for r in receiver.requests
    ]


def test_dynamic_segment_entry_and_exit_are_each_delivered_once(receiver, run_on_commit, source):
    germans = run_on_commit(
        save_segment, name="Germans", rule={"field": "country", "op": "eq", "value": "DE"}
    )
    segment_destination(receiver, germans)
    ann = identify(source, user_id="u1", message_id="m1", address={"country": "DE"})
    identify(source, user_id="u1", message_id="m2", plan="pro")  # still German
    run_on_commit(recompute_segment, segment_id=germans.pk)  # nothing changes
    run_on_commit(dispatch_outbox)

    identify(source, user_id="u1", message_id="m3", address={"country": "FR"})
    run_on_commit(recompute_segment, segment_id=germans.pk)
    run_on_commit(dispatch_outbox)
    run_on_commit(dispatch_outbox)

    assert sent(receiver) == [
        ("segment.entered", "Germans", ann.pk),
        ("segment.exited", "Germans", ann.pk),
    ]
    assert receiver.requests[0].json["data"]["segment_id"] == germans.pk


def test_static_segment_add_and_remove_twice_deliver_one_each(receiver, run_on_commit, source):
    vips = save_segment(name="VIPs", kind=Segment.Kind.STATIC)
    segment_destination(receiver, vips)
    ann = identify(source, user_id="u1", message_id="m1")

    for _ in range(2):
        add_to_static_segment(segment=vips, customer_ids=[ann.pk])
    for _ in range(2):
        remove_from_static_segment(segment=vips, customer_ids=[ann.pk])
    run_on_commit(dispatch_outbox)

    assert sent(receiver) == [
        ("segment.entered", "VIPs", ann.pk),
        ("segment.exited", "VIPs", ann.pk),
    ]
    assert Delivery.objects.count() == 2


def test_only_chosen_segments_are_delivered(receiver, run_on_commit, source):
    vips = save_segment(name="VIPs", kind=Segment.Kind.STATIC)
    others = save_segment(name="Others", kind=Segment.Kind.STATIC)
    segment_destination(receiver, vips)
    ann = identify(source, user_id="u1", message_id="m1")

    add_to_static_segment(segment=others, customer_ids=[ann.pk])
    add_to_static_segment(segment=vips, customer_ids=[ann.pk])
    run_on_commit(dispatch_outbox)

    assert sent(receiver) == [("segment.entered", "VIPs", ann.pk)]


def test_admin_asks_for_segments_when_segment_events_are_wanted(receiver, admin_client):
    from consent.models import Purpose

    response = admin_client.post(
        reverse("admin:destinations_destination_add"),
        {
            "name": "Churn tool",
            "url": receiver.url,
            "purpose": Purpose.objects.get(code="analytics").pk,
            "on_segment_entered": "on",
            "track_events": "[]",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["segments"] == [
        "Choose the segments whose entries and exits to send."
    ]
