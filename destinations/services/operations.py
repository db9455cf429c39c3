"""What people do to destinations: save, rotate the secret, test, replay."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.permissions import require_permissions
from destinations.models import Delivery, Destination
from destinations.services import sending
from destinations.services.payloads import document
from destinations.services.signing import generate_secret
from destinations.services.urlguard import check_url

REPLAYABLE = (Delivery.Status.DEAD, Delivery.Status.FAILED)
CHANGE_DESTINATION = "destinations.change_destination"


@transaction.atomic
def save_destination(*, destination: Destination) -> str | None:
    """Check the URL and save; a new destination gets a secret, returned only now."""
    check_url(destination.url)
    secret = None
    if destination.pk is None:
        secret = generate_secret()
        destination.secret = secret
    destination.save()
    return secret


@transaction.atomic
def rotate_secret(*, destination: Destination, now: datetime | None = None, actor=None) -> str:
    """A new signing secret; the old one keeps signing during the overlap."""
    require_permissions(actor, CHANGE_DESTINATION, what="rotate a webhook secret")
    now = now or timezone.now()
    secret = generate_secret()
    destination.previous_secret = destination.secret
    destination.previous_secret_expires_at = now + timedelta(
        hours=settings.TRIBUTARY_WEBHOOK_SECRET_OVERLAP_HOURS
    )
    destination.secret = secret
    destination.secret_rotated_at = now
    destination.save(
        update_fields=[
            "previous_secret",
            "previous_secret_expires_at",
            "secret",
            "secret_rotated_at",
        ]
    )
    return secret


def send_test_event(
    *, destination: Destination, now: datetime | None = None, actor=None
) -> Delivery:
    """Send a ``test`` event right away (one try) and return its delivery."""
    require_permissions(actor, CHANGE_DESTINATION, what="send test events")
    now = now or timezone.now()
    with transaction.atomic():
        delivery = Delivery(destination=destination, type="test", created_at=now)
        delivery.payload = document(
            delivery_id=delivery.delivery_id,
            type="test",
            created_at=now,
            profile=None,
            data={"message": f"Test event for {destination.name} from Tributary"},
        )
        delivery.next_attempt_at = now
        delivery.save()
    sending.send_delivery(delivery_pk=delivery.pk, now=now)
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def replay_deliveries(*, delivery_pks: list[int], now: datetime | None = None, actor=None) -> int:
    """Try dead or failing deliveries again from the start; returns how many."""
    require_permissions(actor, "destinations.change_delivery", what="replay deliveries")
    now = now or timezone.now()
    rows = list(
        Delivery.objects.select_for_update()
        .filter(pk__in=delivery_pks, status__in=REPLAYABLE)
        .order_by("pk")
    )
    for row in rows:
        row.status = Delivery.Status.PENDING
        row.attempts = 0
        row.next_attempt_at = now
    Delivery.objects.bulk_update(rows, ["status", "attempts", "next_attempt_at"])
    sending.enqueue(delivery_pks=[row.pk for row in rows], now=now)
    return len(rows)
