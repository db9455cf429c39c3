import uuid

import pytest

from core.models import OutboxEntry
from destinations import tasks
from destinations.models import Delivery, DeliveryAttempt
from destinations.services.dispatch import dispatch_outbox
from destinations.services.operations import rotate_secret

from .conftest import make_destination, new_profile, track, verify_signature


def test_profile_created_is_posted_signed_with_a_delivery_id(receiver, run_on_commit):
    _, secret = make_destination(receiver.url, on_profile_created=True)
    ann = new_profile("ann@example.com")

    report = run_on_commit(dispatch_outbox)

    assert (report.entries, report.deliveries, report.skipped_no_consent) == (1, 1, 0)
    [request] = receiver.requests
    delivery = Delivery.objects.get()
    assert request.path == "/hooks/tributary"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Tributary-Delivery-Id"] == str(delivery.delivery_id)
    assert verify_signature(request.headers["Tributary-Signature"], request.body, secret)
    assert not verify_signature(request.headers["Tributary-Signature"], request.body, "whsec_x")
    body = request.json
    assert body["id"] == str(delivery.delivery_id)
    assert (body["type"], body["version"], body["data"]) == ("profile.created", 1, {})
    assert body["profile"]["id"] == ann.pk
    assert body["profile"]["identifiers"] == [{"type": "email", "value": "ann@example.com"}]
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.last_latency_ms is not None
    assert delivery.last_response_excerpt == '{"status": 200}'
    assert DeliveryAttempt.objects.get().outcome == "succeeded"
    assert OutboxEntry.objects.get().dispatched_at is not None


def test_dispatch_task_sends_each_entry_once(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_created=True)
    new_profile("ann@example.com")

    assert run_on_commit(tasks.dispatch_outbox) == 1
    assert run_on_commit(tasks.dispatch_outbox) == 0

    assert len(receiver.requests) == 1


def test_track_events_are_delivered_by_name_only(receiver, run_on_commit, source):
    make_destination(receiver.url, track_events=["Order Completed"])
    track(source, user_id="u1", event="Order Completed", message_id="m1", properties={"total": 9})
    track(source, user_id="u1", event="Page Scrolled", message_id="m2")
    track(source, user_id="u1", event="Order Completed", message_id="m1")  # duplicate message

    run_on_commit(dispatch_outbox)

    [request] = receiver.requests
    body = request.json
    assert body["type"] == "track"
    assert body["data"]["event"] == "Order Completed"
    assert body["data"]["properties"] == {"total": 9}
    assert body["profile"]["identifiers"] == [{"type": "user_id", "value": "u1"}]


def test_destination_without_matching_subscription_gets_nothing(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_updated=True)
    new_profile()

    report = run_on_commit(dispatch_outbox)

    assert report.deliveries == 0
    assert receiver.requests == []
    assert OutboxEntry.objects.get().dispatched_at is not None


def test_disabled_destination_receives_nothing(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_created=True, enabled=False)
    new_profile()

    run_on_commit(dispatch_outbox)

    assert receiver.requests == []
    assert Delivery.objects.count() == 0


def test_rotation_signs_with_both_secrets_during_the_overlap(receiver, run_on_commit):
    destination, old_secret = make_destination(receiver.url, on_profile_created=True)
    new_secret = rotate_secret(destination=destination)
    new_profile()

    run_on_commit(dispatch_outbox)

    [request] = receiver.requests
    header = request.headers["Tributary-Signature"]
    assert header.count("v1=") == 2
    assert verify_signature(header, request.body, new_secret)
    assert verify_signature(header, request.body, old_secret)


def test_retries_keep_the_same_delivery_id(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_created=True)
    receiver.answer(500)
    new_profile()
    run_on_commit(dispatch_outbox)
    delivery = Delivery.objects.get()

    run_on_commit(tasks.retry_due, now=delivery.next_attempt_at.isoformat())

    ids = {r.headers["Tributary-Delivery-Id"] for r in receiver.requests}
    assert len(receiver.requests) == 2
    assert ids == {str(delivery.delivery_id)}
    assert uuid.UUID(ids.pop()) == delivery.delivery_id


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_send_webhooks_command_dispatches_everything_pending(receiver):
    from io import StringIO

    from django.core.management import call_command

    make_destination(receiver.url, on_profile_created=True)
    new_profile("a@example.com")
    new_profile("b@example.com")
    out = StringIO()

    call_command("send_webhooks", stdout=out)

    assert out.getvalue().strip() == "dispatched 2 outbox entries, sent 0 due retries"
    assert len(receiver.requests) == 2


def test_identify_calls_are_delivered_with_the_updated_profile(receiver, run_on_commit, source):
    from datetime import UTC, datetime

    from sources.contracts import NormalizedMessage
    from sources.pipeline import process_message

    make_destination(receiver.url, on_identify=True)
    at = datetime(2026, 11, 3, tzinfo=UTC)
    process_message(
        NormalizedMessage(
            source_id=source.pk,
            message_id="id-1",
            type="identify",
            timestamp=at,
            received_at=at,
            user_id="u7",
            traits={"email": "zoe@example.com", "plan": "pro"},
        )
    )

    run_on_commit(dispatch_outbox)

    [request] = receiver.requests
    body = request.json
    assert (body["type"], body["data"]["message_id"]) == ("identify", "id-1")
    assert body["profile"]["email"] == "zoe@example.com"
    assert body["profile"]["traits"] == {"plan": "pro"}


def test_merges_and_undone_merges_go_to_merge_subscribers(receiver, run_on_commit, steward):
    from customers.services.merging import merge_manually, unmerge

    make_destination(receiver.url, on_profile_merged=True)
    ann, bob = new_profile("ann@example.com"), new_profile("bob@example.com")
    [merge] = merge_manually(customer_ids=[ann.pk, bob.pk], actor=steward)
    unmerge(merge=merge)

    run_on_commit(dispatch_outbox)

    types = [(r.json["type"], r.json["profile"]["id"]) for r in receiver.requests]
    assert types == [("profile.merged", merge.survivor_id), ("profile.unmerged", merge.absorbed_id)]
    assert receiver.requests[0].json["data"]["absorbed_id"] == merge.absorbed_id
