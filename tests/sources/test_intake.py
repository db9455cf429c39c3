"""Durable intake: partial batches, idempotency, time, failures and replay."""

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from customers.models import Customer, Event
from sources import tasks
from sources.models import IntakeMessage, RejectedMessage
from sources.services.keys import create_source
from sources.services.parsing import corrected_timestamp
from sources.services.processing import process_batch


def test_partial_batch_stores_valid_calls_and_reports_invalid_ones(send):
    response = send(
        "/v1/batch",
        {
            "batch": [
                {"type": "track", "userId": "u", "event": "Good 1"},
                {"type": "track", "userId": "u"},
                "not an object",
                {"type": "teleport", "userId": "u"},
                {"type": "track", "userId": "u", "event": "Good 2"},
            ]
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [(r["index"], r["code"]) for r in body["rejected"]] == [
        (1, "missing_event"),
        (2, "invalid_message"),
        (3, "invalid_type"),
    ]
    assert sorted(Event.objects.values_list("name", flat=True)) == ["Good 1", "Good 2"]
    assert sorted(RejectedMessage.objects.values_list("code", flat=True)) == [
        "invalid_message",
        "invalid_type",
        "missing_event",
    ]
    assert RejectedMessage.objects.get(code="invalid_message").payload == {"raw": "not an object"}


def test_batch_with_no_valid_call_is_a_400_listing_them(send):
    response = send("/v1/batch", {"batch": [{"type": "track", "userId": "u"}]})
    assert response.status_code == 400
    assert response.json()["code"] == "no_valid_calls"
    assert response.json()["rejected"][0]["code"] == "missing_event"


def test_duplicate_message_id_is_acknowledged_but_applied_once(send):
    call = {"userId": "u", "messageId": "same", "traits": {"visits": 1}}
    first = send("/v1/identify", call)
    second = send("/v1/identify", {**call, "traits": {"visits": 2}})
    batch = send(
        "/v1/batch", {"batch": [{**call, "type": "identify"}, {**call, "type": "identify"}]}
    )
    assert first.status_code == second.status_code == 200
    assert batch.json()["duplicates"] == 2
    assert IntakeMessage.objects.count() == 1
    assert Event.objects.count() == 1
    assert Customer.objects.get().traits == {"visits": 1}


def test_same_message_id_from_two_sources_is_two_messages(send, client, db):
    from sources.services.keys import create_source

    _, other_key = create_source(name="App", kind="mobile")
    send("/v1/track", {"userId": "u", "event": "A", "messageId": "m"})
    client.post(
        "/v1/track",
        {"userId": "u", "event": "A", "messageId": "m", "writeKey": other_key},
        content_type="application/json",
    )
    assert IntakeMessage.objects.count() == 2


@pytest.mark.parametrize(
    ("original", "sent", "received", "expected"),
    [
        # client clock 1 hour slow: event 5 s before sending
        ("10:00:00", "10:00:05", "11:00:05", "11:00:00"),
        # client clock 10 minutes fast
        ("12:10:00", "12:10:30", "12:00:30", "12:00:00"),
        # no sentAt: the client's timestamp is kept as is
        ("09:00:00", None, "12:00:00", "09:00:00"),
        # no timestamp: when we received it
        (None, "09:00:00", "12:00:00", "12:00:00"),
    ],
)
def test_clock_skew_correction(original, sent, received, expected):
    def at(clock):
        return None if clock is None else datetime.fromisoformat(f"2026-11-28T{clock}+00:00")

    assert corrected_timestamp(
        original=at(original), sent_at=at(sent), received_at=at(received)
    ) == at(expected)


def test_event_keeps_client_times_and_corrected_timestamp(send):
    send(
        "/v1/track",
        {
            "userId": "u",
            "event": "A",
            "timestamp": "2020-01-01T00:00:00Z",
            "sentAt": "2020-01-01T00:00:10Z",
        },
    )
    event = Event.objects.get()
    assert event.original_timestamp == datetime(2020, 1, 1, tzinfo=UTC)
    assert event.sent_at == datetime(2020, 1, 1, 0, 0, 10, tzinfo=UTC)
    assert event.timestamp == event.received_at - timedelta(seconds=10)
    assert abs(event.received_at - timezone.now()) < timedelta(minutes=1)


def _stored_but_unprocessable(source):
    """A stored call the pipeline cannot read (as if stored under older rules)."""
    return IntakeMessage.objects.create(
        source=source, message_id="broken", type="track", payload={"userId": "u"}
    )


def test_failing_call_is_retried_then_marked_failed_without_blocking_others(keyed_source):
    source, _ = keyed_source
    broken = _stored_but_unprocessable(source)
    good = IntakeMessage.objects.create(
        source=source,
        message_id="good",
        type="track",
        payload={"type": "track", "messageId": "good", "userId": "u", "event": "A"},
    )
    tasks.process_intake.delay([broken.pk, good.pk])
    broken.refresh_from_db()
    good.refresh_from_db()
    assert good.status == "processed"
    assert broken.status == "failed"
    assert broken.attempts == 1 + tasks.MAX_RETRIES
    assert broken.error.startswith("KeyError")
    assert Event.objects.get().message_id == "good"


def _stored_track_call(source, message_id, *, status="pending"):
    return IntakeMessage.objects.create(
        source=source,
        message_id=message_id,
        type="track",
        status=status,
        payload={"type": "track", "messageId": message_id, "userId": "u", "event": "A"},
    )


def test_worker_batch_is_filled_with_the_sources_waiting_calls_oldest_first(keyed_source, settings):
    source, _ = keyed_source
    other_source, _ = create_source(name="App", kind="mobile")
    other = _stored_track_call(other_source, "other-source")
    failed = _stored_track_call(source, "failed-earlier", status="failed")
    waiting = [_stored_track_call(source, f"m{n}") for n in range(5)]

    outcome = process_batch(intake_ids=[waiting[4].pk], fill_to=3)

    assert outcome.processed == [waiting[0].pk, waiting[1].pk, waiting[4].pk]
    statuses = dict(IntakeMessage.objects.values_list("message_id", "status"))
    assert statuses == {
        "other-source": "pending",  # another source's calls wait for their own task
        "failed-earlier": "failed",  # retried on its own schedule, never picked up
        "m0": "processed",
        "m1": "processed",
        "m2": "pending",
        "m3": "pending",
        "m4": "processed",
    }
    # the task of a later request takes the rest (a batch of up to 500)
    settings.TRIBUTARY_INTAKE_BATCH_SIZE = 500
    tasks.process_intake.delay([waiting[2].pk])
    assert not IntakeMessage.objects.filter(status="pending", source=source).exists()
    # the task of a call already taken by another batch finds nothing to do
    assert process_batch(intake_ids=[waiting[3].pk], fill_to=500).processed == []
    assert sorted(Event.objects.values_list("message_id", flat=True)) == [
        "m0",
        "m1",
        "m2",
        "m3",
        "m4",
    ]
    failed.refresh_from_db()
    other.refresh_from_db()
    assert (failed.status, other.status) == ("failed", "pending")
    # the batch acted for its one source
    actors = set(Customer.history.values_list("history_actor", flat=True))
    assert actors == {f"source:{source.pk}"}


def test_a_failing_call_taken_into_another_tasks_batch_is_marked_failed(keyed_source):
    source, _ = keyed_source
    own = _stored_track_call(source, "own")
    broken = _stored_but_unprocessable(source)
    later = _stored_track_call(source, "later")

    outcome = process_batch(intake_ids=[own.pk], fill_to=10)

    assert sorted(outcome.processed) == [own.pk, later.pk]
    assert outcome.failed == [broken.pk]
    broken.refresh_from_db()
    assert (broken.status, broken.attempts) == ("failed", 1)


def test_admin_replay_processes_a_repaired_call(keyed_source, admin_client):
    source, _ = keyed_source
    broken = _stored_but_unprocessable(source)
    tasks.process_intake.delay([broken.pk])
    IntakeMessage.objects.filter(pk=broken.pk).update(
        payload={"type": "track", "messageId": "broken", "userId": "u", "event": "Fixed"}
    )
    response = admin_client.post(
        reverse("admin:sources_intakemessage_changelist"),
        {"action": "replay", "_selected_action": [broken.pk]},
        follow=True,
    )
    assert response.status_code == 200
    broken.refresh_from_db()
    assert broken.status == "processed"
    assert Event.objects.get().name == "Fixed"


def test_failed_calls_are_listed_with_their_error(keyed_source, admin_client):
    source, _ = keyed_source
    tasks.process_intake.delay([_stored_but_unprocessable(source).pk])
    response = admin_client.get(
        reverse("admin:sources_intakemessage_changelist") + "?status__exact=failed"
    )
    assert response.status_code == 200
    assert "KeyError" in response.content.decode()


def test_source_admin_shows_intake_figures(
    send, keyed_source, admin_client, django_assert_max_num_queries
):
    source, key = keyed_source
    send("/v1/track", {"userId": "u", "event": "A"})
    send("/v1/track", {"userId": "u"})
    old = IntakeMessage.objects.create(
        source=source,
        message_id="old",
        type="track",
        payload={"type": "track", "messageId": "old", "userId": "u", "event": "Old"},
        received_at=timezone.now() - timedelta(hours=3),
    )
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:customers_source_changelist"))
    assert response.status_code == 200
    annotated = response.context["cl"].result_list[0]
    assert (annotated.messages_last_hour, annotated.messages_last_day) == (1, 2)
    assert annotated.rejections_last_day == 1
    assert annotated.last_message_at > old.received_at
    body = response.content.decode()
    assert key[:8] in body
    change = admin_client.get(reverse("admin:customers_source_change", args=[source.pk]))
    assert change.status_code == 200


def test_cors_preflight_allows_browser_libraries(client, db):
    response = client.options(
        "/v1/batch",
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "authorization" in response["Access-Control-Allow-Headers"]
    assert "POST" in response["Access-Control-Allow-Methods"]


def test_cors_is_not_opened_outside_the_tracking_api(client, db):
    response = client.options(
        "/api/v1/auth/login/",
        HTTP_ORIGIN="https://shop.example.com",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
    )
    assert "Access-Control-Allow-Origin" not in response
