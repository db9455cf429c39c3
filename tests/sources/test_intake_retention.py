"""Raw tracking calls are deleted after the retention period (they hold personal data)."""

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from customers.models import Customer, Event
from sources.models import IntakeMessage, RejectedMessage
from sources.services.retention import purge_intake


def _intake(source, message_id, *, status, age_days, processed_days_ago=None):
    received_at = timezone.now() - timedelta(days=age_days)
    if processed_days_ago is not None:
        processed_at = timezone.now() - timedelta(days=processed_days_ago)
    else:
        processed_at = received_at if status == "processed" else None
    return IntakeMessage.objects.create(
        source=source,
        message_id=message_id,
        type="track",
        status=status,
        payload={"type": "track", "messageId": message_id, "userId": "u", "event": "A"},
        received_at=received_at,
        processed_at=processed_at,
    )


def _rejected(source, age_days):
    return RejectedMessage.objects.create(
        source=source,
        code="missing_field",
        reason="event is required",
        payload={"type": "track", "userId": "u"},
        received_at=timezone.now() - timedelta(days=age_days),
    )


def test_old_processed_and_rejected_calls_go_failed_and_pending_ones_stay(keyed_source):
    source, _ = keyed_source
    _intake(source, "old-processed", status="processed", age_days=31)
    _intake(source, "new-processed", status="processed", age_days=29)
    _intake(source, "old-failed", status="failed", age_days=90)
    _intake(source, "old-pending", status="pending", age_days=90)
    # failed for weeks, replayed yesterday: kept for the full period from now
    _intake(source, "replayed", status="processed", age_days=60, processed_days_ago=1)
    _rejected(source, age_days=31)
    recent = _rejected(source, age_days=1)

    purged = purge_intake(older_than_days=30)

    assert (purged.intake, purged.rejected) == (1, 1)
    remaining = set(IntakeMessage.objects.values_list("message_id", flat=True))
    assert remaining == {"new-processed", "old-failed", "old-pending", "replayed"}
    assert list(RejectedMessage.objects.all()) == [recent]


def test_zero_days_keeps_everything(keyed_source):
    source, _ = keyed_source
    _intake(source, "ancient", status="processed", age_days=3650)
    _rejected(source, age_days=3650)

    assert purge_intake(older_than_days=0) == purge_intake(older_than_days=-1)
    assert (IntakeMessage.objects.count(), RejectedMessage.objects.count()) == (1, 1)


def test_a_call_retried_after_its_intake_row_is_purged_is_still_applied_once(send):
    call = {"userId": "u", "messageId": "retried", "event": "Order Completed"}
    assert send("/v1/track", call).status_code == 200
    long_ago = timezone.now() - timedelta(days=40)
    IntakeMessage.objects.update(received_at=long_ago, processed_at=long_ago)
    assert purge_intake(older_than_days=30).intake == 1

    again = send("/v1/track", call)

    assert again.status_code == 200
    assert Event.objects.count() == 1
    assert Customer.objects.count() == 1
    assert IntakeMessage.objects.get().status == "processed"


def test_purge_command_uses_the_setting_unless_told(keyed_source, settings):
    source, _ = keyed_source
    settings.TRIBUTARY_INTAKE_RETENTION_DAYS = 60
    _intake(source, "fifty-days", status="processed", age_days=50)
    out = StringIO()

    call_command("purge_intake", stdout=out)
    assert IntakeMessage.objects.count() == 1
    call_command("purge_intake", "--days", "7", stdout=out)

    assert IntakeMessage.objects.count() == 0
    assert out.getvalue().splitlines() == [
        "deleted 0 processed and 0 rejected calls older than 60 days",
        "deleted 1 processed and 0 rejected calls older than 7 days",
    ]
