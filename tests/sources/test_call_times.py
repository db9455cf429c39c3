"""When a call happened: the caller's timestamp, the client clock, the batch's sentAt."""

from datetime import UTC, datetime, timedelta

from customers.models import Event


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def test_batch_sent_at_corrects_a_fast_client_clock(send):
    # Segment's Node library: `timestamp` from its clock, `sentAt` on the batch only
    fast = datetime.now(UTC) + timedelta(hours=1)
    send(
        "/v1/batch",
        {
            "batch": [{"type": "track", "userId": "u", "event": "A", "timestamp": _iso(fast)}],
            "sentAt": _iso(fast + timedelta(seconds=2)),
        },
    )
    event = Event.objects.get()
    assert event.sent_at == fast + timedelta(seconds=2)
    assert event.original_timestamp == fast
    assert event.timestamp == event.received_at - timedelta(seconds=2)


def test_a_call_sent_at_wins_over_the_batch_one(send):
    send(
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "track",
                    "userId": "u",
                    "event": "A",
                    "timestamp": "2026-01-01T10:00:00Z",
                    "sentAt": "2026-01-01T10:00:05Z",
                }
            ],
            "sentAt": "2026-01-01T10:00:30Z",
        },
    )
    event = Event.objects.get()
    assert event.sent_at == datetime(2026, 1, 1, 10, 0, 5, tzinfo=UTC)
    assert event.timestamp == event.received_at - timedelta(seconds=5)


def test_timestamp_set_by_the_caller_is_kept_next_to_original_timestamp(send):
    # RudderStack's libraries always add originalTimestamp; `timestamp` is the caller's
    now = datetime.now(UTC)
    send(
        "/v1/track",
        {
            "userId": "u",
            "event": "Order Completed",
            "timestamp": "2024-03-01T00:00:00.000Z",
            "originalTimestamp": _iso(now),
            "sentAt": _iso(now),
        },
    )
    event = Event.objects.get()
    assert event.timestamp == datetime(2024, 3, 1, tzinfo=UTC)
    assert event.original_timestamp == now
    assert event.sent_at == now


def test_original_timestamp_alone_is_corrected_by_sent_at(send):
    send(
        "/v1/batch",
        {
            "batch": [
                {
                    "type": "track",
                    "userId": "u",
                    "event": "A",
                    "originalTimestamp": "2026-01-01T10:00:00Z",
                }
            ],
            "sentAt": "2026-01-01T10:00:07Z",
        },
    )
    event = Event.objects.get()
    assert event.timestamp == event.received_at - timedelta(seconds=7)
    assert event.original_timestamp == datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_no_client_time_means_when_received(send):
    send("/v1/batch", {"batch": [{"type": "track", "userId": "u", "event": "A"}]})
    event = Event.objects.get()
    assert event.timestamp == event.received_at
    assert (event.sent_at, event.original_timestamp) == (None, None)


def test_a_bad_timestamp_next_to_original_timestamp_refuses_the_call(send):
    response = send(
        "/v1/track",
        {
            "userId": "u",
            "event": "A",
            "timestamp": "yesterday",
            "originalTimestamp": "2026-01-01T10:00:00Z",
        },
    )
    assert response.status_code == 400
    assert response.json()["field"] == "timestamp"
