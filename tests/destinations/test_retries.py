from datetime import timedelta

import pytest

from destinations import tasks
from destinations.models import Delivery, DeliveryAttempt, Destination
from destinations.services import sending
from destinations.services.dispatch import dispatch_outbox
from destinations.services.operations import replay_deliveries

from .conftest import make_destination, new_profile

SCHEDULE = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]


@pytest.fixture
def failing_delivery(receiver, run_on_commit):
    """A profile.created delivery whose first try got a 503."""
    make_destination(receiver.url, on_profile_created=True)
    receiver.answer(503)
    new_profile()
    run_on_commit(dispatch_outbox)
    return Delivery.objects.get()


def run_due(run_on_commit, delivery):
    """Run the periodic retry task as if at the delivery's next attempt time."""
    run_on_commit(tasks.retry_due, now=delivery.next_attempt_at.isoformat())
    delivery.refresh_from_db()


def test_retry_schedule_spans_a_day_then_the_delivery_is_dead(
    receiver, failing_delivery, run_on_commit
):
    receiver.answer(503, times=7)
    delivery = failing_delivery
    offsets = []
    for _ in SCHEDULE:
        assert delivery.status == "failed"
        offsets.append(delivery.next_attempt_at - delivery.last_attempt_at)
        run_due(run_on_commit, delivery)

    assert offsets == SCHEDULE
    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("dead", 8, None)
    assert len(receiver.requests) == 8
    outcomes = list(DeliveryAttempt.objects.values_list("outcome", flat=True))
    assert outcomes == ["retry"] * 7 + ["gave_up"]


def test_retry_is_not_made_before_it_is_due(receiver, failing_delivery, run_on_commit):
    early = failing_delivery.next_attempt_at - timedelta(seconds=1)

    assert run_on_commit(tasks.retry_due, now=early.isoformat()) == 0

    assert len(receiver.requests) == 1


def test_jitter_adds_at_most_the_configured_share(settings):
    settings.TRIBUTARY_WEBHOOK_RETRY_JITTER = 10
    delays = {sending.retry_delay(attempts=3) for _ in range(50)}

    assert all(timedelta(minutes=30) <= d <= timedelta(minutes=33) for d in delays)
    assert len(delays) > 1


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_server_errors_and_throttling_are_retried(receiver, run_on_commit, status):
    make_destination(receiver.url, on_profile_created=True)
    receiver.answer(status)
    new_profile()
    run_on_commit(dispatch_outbox)
    delivery = Delivery.objects.get()

    assert (delivery.status, delivery.last_status_code) == ("failed", status)
    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=5)
    run_due(run_on_commit, delivery)
    assert (delivery.status, delivery.attempts) == ("succeeded", 2)


@pytest.mark.parametrize("status", [429, 408])
def test_retry_after_seconds_is_honoured(receiver, run_on_commit, status):
    make_destination(receiver.url, on_profile_created=True)
    receiver.answer(status, {"Retry-After": "120"})
    new_profile()
    run_on_commit(dispatch_outbox)
    delivery = Delivery.objects.get()

    assert delivery.next_attempt_at - delivery.last_attempt_at == timedelta(seconds=120)
    assert (
        run_on_commit(
            tasks.retry_due, now=(delivery.next_attempt_at - timedelta(seconds=60)).isoformat()
        )
        == 0
    )
    run_due(run_on_commit, delivery)
    assert delivery.status == "succeeded"


def test_retry_after_http_date_is_honoured(receiver, run_on_commit):
    from datetime import UTC, datetime
    from email.utils import format_datetime

    make_destination(receiver.url, on_profile_created=True)
    later = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    receiver.answer(429, {"Retry-After": format_datetime(later, usegmt=True)})
    new_profile()
    run_on_commit(dispatch_outbox)

    delivery = Delivery.objects.get()
    assert abs(delivery.next_attempt_at - later) < timedelta(seconds=2)


@pytest.mark.parametrize("status", [400, 401, 404, 410, 422, 301])
def test_other_client_errors_and_redirects_are_not_retried(receiver, run_on_commit, status):
    make_destination(receiver.url, on_profile_created=True)
    receiver.answer(status)
    new_profile()
    run_on_commit(dispatch_outbox)
    delivery = Delivery.objects.get()

    assert (delivery.status, delivery.attempts, delivery.next_attempt_at) == ("dead", 1, None)
    assert delivery.last_status_code == status
    assert (
        run_on_commit(tasks.retry_due, now=(delivery.created_at + timedelta(days=2)).isoformat())
        == 0
    )
    assert len(receiver.requests) == 1


def test_connection_refused_is_retried(receiver, run_on_commit, settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    make_destination(f"http://127.0.0.1:{closed_port}/hook", on_profile_created=True)
    new_profile()
    run_on_commit(dispatch_outbox)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("failed", None)
    assert delivery.last_error.startswith("connection error")


def test_timeout_is_retried(receiver, run_on_commit, settings):
    settings.TRIBUTARY_WEBHOOK_TIMEOUT = 1
    receiver.delay = 1.5
    make_destination(receiver.url, on_profile_created=True)
    new_profile()
    run_on_commit(dispatch_outbox)

    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.last_status_code) == ("failed", None)
    assert delivery.last_error.startswith("timeout")


def test_dead_delivery_is_replayed_with_the_same_id(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_created=True)
    receiver.answer(400)
    new_profile()
    run_on_commit(dispatch_outbox)
    delivery = Delivery.objects.get()
    assert delivery.status == "dead"

    assert run_on_commit(replay_deliveries, delivery_pks=[delivery.pk]) == 1

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    assert [r.headers["Tributary-Delivery-Id"] for r in receiver.requests] == [
        str(delivery.delivery_id)
    ] * 2
    assert DeliveryAttempt.objects.filter(delivery=delivery).count() == 2


def test_succeeded_delivery_is_not_replayed(receiver, run_on_commit):
    make_destination(receiver.url, on_profile_created=True)
    new_profile()
    run_on_commit(dispatch_outbox)

    assert run_on_commit(replay_deliveries, delivery_pks=[Delivery.objects.get().pk]) == 0
    assert len(receiver.requests) == 1


def test_later_delivery_of_a_profile_waits_for_the_earlier_one(receiver, run_on_commit, source):
    from .conftest import track

    make_destination(receiver.url, on_profile_created=True, track_events=["Signed Up"])
    receiver.answer(500)
    track(source, user_id="u1", event="Signed Up", message_id="m1")
    run_on_commit(dispatch_outbox)
    first, second = Delivery.objects.order_by("pk")

    second.refresh_from_db()
    assert [r.json["type"] for r in receiver.requests] == ["profile.created"]
    assert (first.status, second.status, second.attempts) == ("failed", "pending", 0)

    first.refresh_from_db()
    run_due(run_on_commit, first)

    second.refresh_from_db()
    assert [r.json["type"] for r in receiver.requests] == [
        "profile.created",
        "profile.created",
        "track",
    ]
    assert (first.status, second.status) == ("succeeded", "succeeded")


def test_failing_destination_is_marked_and_cleared_by_a_success(
    receiver, failing_delivery, run_on_commit
):
    destination = Destination.objects.get()
    assert destination.failing_since == failing_delivery.last_attempt_at

    run_due(run_on_commit, failing_delivery)

    destination.refresh_from_db()
    assert destination.failing_since is None
