"""Sending one delivery: claim it, sign, POST, record the try, plan the next.

Retries follow ``RETRY_DELAYS`` (with up to ``TRIBUTARY_WEBHOOK_RETRY_JITTER``
percent added) on 5xx, 408, 429, timeouts and connection errors; a
``Retry-After`` header on 408, 429 or 503 replaces the planned delay. Other
answers (2xx aside) end the delivery as dead at once. After
``MAX_ATTEMPTS`` tries a delivery is dead; it can be replayed.

Ordering: deliveries of one profile to one destination go out in outbox
order. A delivery waits while an earlier one of the same profile and
destination is still pending or retrying, and is released as soon as that
one succeeds or is dead.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from destinations.errors import BlockedURL
from destinations.models import Delivery, DeliveryAttempt, Destination
from destinations.services import gate
from destinations.services.payloads import encode
from destinations.services.signing import active_secrets, signature_header
from destinations.services.transport import Response, TransportError, post
from destinations.services.urlguard import check_url

RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
MAX_RETRY_AFTER = timedelta(hours=24)
RETRY_AFTER_STATUSES = frozenset({408, 429, 503})
OPEN = (Delivery.Status.PENDING, Delivery.Status.FAILED)
# How long a claimed delivery is left alone by other workers while it is sent.
CLAIM_LEASE = timedelta(minutes=2)
WAIT_STEP = timedelta(seconds=1)

Outcome = DeliveryAttempt.Outcome


@dataclass(frozen=True)
class AttemptResult:
    outcome: str
    status_code: int | None = None
    error: str = ""
    excerpt: str = ""
    latency_ms: int | None = None
    retry_after: timedelta | None = None


def send_delivery(*, delivery_pk: int, now: datetime | None = None) -> Delivery | None:
    """Make one try if the delivery is due; returns it after the try, else None."""
    now = now or timezone.now()
    delivery = _claim(delivery_pk=delivery_pk, now=now)
    if delivery is None:
        return None
    body = encode(delivery.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Tributary-Webhooks/1",
        "Tributary-Delivery-Id": str(delivery.delivery_id),
        "Tributary-Event-Type": delivery.type,
        "Tributary-Signature": signature_header(
            body=body,
            timestamp=int(now.timestamp()),
            secrets_=active_secrets(delivery.destination, now=now),
        ),
    }
    try:
        target = check_url(delivery.destination.url)
        response = post(
            target=target,
            body=body,
            headers=headers,
            timeout=settings.TRIBUTARY_WEBHOOK_TIMEOUT,
        )
    except BlockedURL as exc:
        result = AttemptResult(outcome=Outcome.GAVE_UP, error=f"{exc.code}: {exc.message}")
    except TransportError as exc:
        result = AttemptResult(outcome=Outcome.RETRY, error=exc.message, latency_ms=exc.latency_ms)
    else:
        result = classify(response, now=now)
    return _record(delivery_pk=delivery.pk, now=now, result=result)


def classify(response: Response, *, now: datetime) -> AttemptResult:
    code = response.status
    if 200 <= code < 300:
        outcome = Outcome.SUCCEEDED
    elif code >= 500 or code in {408, 429}:
        outcome = Outcome.RETRY
    else:
        outcome = Outcome.GAVE_UP
    retry_after = None
    if code in RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(response.headers.get("retry-after", ""), now=now)
    error = "redirects are not followed" if 300 <= code < 400 else ""
    return AttemptResult(
        outcome=outcome,
        status_code=code,
        error=error,
        excerpt=response.excerpt,
        latency_ms=response.latency_ms,
        retry_after=retry_after,
    )


def parse_retry_after(value: str, *, now: datetime) -> timedelta | None:
    """Seconds or an HTTP date, clamped to [0, 24 h]; None when absent or unreadable."""
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        delay = timedelta(seconds=int(value))
    else:
        try:
            delay = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return max(timedelta(0), min(delay, MAX_RETRY_AFTER))


def retry_delay(*, attempts: int) -> timedelta:
    """The planned wait after the ``attempts``-th failed try, with jitter added."""
    base = RETRY_DELAYS[attempts - 1]
    jitter_percent = settings.TRIBUTARY_WEBHOOK_RETRY_JITTER
    if not jitter_percent:
        return base
    fraction = secrets.randbelow(jitter_percent * 100 + 1) / 10_000
    return base * (1 + fraction)


def max_attempts(delivery: Delivery) -> int:
    # A test event from the admin is tried once: its result is shown right away.
    return 1 if delivery.outbox_entry_id is None else MAX_ATTEMPTS


@transaction.atomic
def _claim(*, delivery_pk: int, now: datetime) -> Delivery | None:
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("destination__purpose")
        .filter(pk=delivery_pk, status__in=OPEN, next_attempt_at__lte=now)
        .first()
    )
    if delivery is None:
        return None
    if delivery.customer_id is not None:
        earlier = (
            Delivery.objects.filter(
                destination_id=delivery.destination_id,
                customer_id=delivery.customer_id,
                pk__lt=delivery.pk,
                status__in=OPEN,
            )
            .order_by("pk")
            .first()
        )
        if earlier is not None:
            delivery.next_attempt_at = max(earlier.next_attempt_at, now) + WAIT_STEP
            delivery.save(update_fields=["next_attempt_at"])
            return None
        allowed = gate.allowed_customer_ids(
            destination=delivery.destination, customer_ids={delivery.customer_id}
        )
        if not allowed:
            delivery.status = Delivery.Status.SKIPPED_NO_CONSENT
            delivery.payload = {}
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "payload", "next_attempt_at"])
            _release_next(delivery=delivery, now=now)
            return None
    if not delivery.destination.enabled:
        delivery.status = Delivery.Status.DEAD
        delivery.next_attempt_at = None
        delivery.last_error = "destination disabled"
        delivery.save(update_fields=["status", "next_attempt_at", "last_error"])
        _release_next(delivery=delivery, now=now)
        return None
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.next_attempt_at = now + CLAIM_LEASE
    delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    return delivery


@transaction.atomic
def _record(*, delivery_pk: int, now: datetime, result: AttemptResult) -> Delivery:
    delivery = (
        Delivery.objects.select_for_update(of=("self",))
        .select_related("destination")
        .get(pk=delivery_pk)
    )
    outcome = result.outcome
    if outcome == Outcome.RETRY and delivery.attempts >= max_attempts(delivery):
        outcome = Outcome.GAVE_UP
    DeliveryAttempt.objects.create(
        delivery=delivery,
        destination_id=delivery.destination_id,
        number=delivery.attempts,
        attempted_at=now,
        outcome=outcome,
        status_code=result.status_code,
        error=result.error[:200],
        response_excerpt=result.excerpt,
        latency_ms=result.latency_ms,
    )
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error[:200]
    delivery.last_response_excerpt = result.excerpt
    delivery.last_latency_ms = result.latency_ms
    if outcome == Outcome.SUCCEEDED:
        delivery.status = Delivery.Status.SUCCEEDED
        delivery.succeeded_at = now
        delivery.next_attempt_at = None
    elif outcome == Outcome.RETRY:
        delivery.status = Delivery.Status.FAILED
        wait = result.retry_after
        if wait is None:
            wait = retry_delay(attempts=delivery.attempts)
        delivery.next_attempt_at = now + wait
    else:
        delivery.status = Delivery.Status.DEAD
        delivery.next_attempt_at = None
    delivery.save(
        update_fields=[
            "status",
            "succeeded_at",
            "next_attempt_at",
            "last_status_code",
            "last_error",
            "last_response_excerpt",
            "last_latency_ms",
        ]
    )
    # Only a change of health is written, so a busy destination's row is rarely touched.
    health = Destination.objects.filter(pk=delivery.destination_id)
    failing = delivery.destination.failing_since is not None
    if outcome == Outcome.SUCCEEDED and failing:
        health.filter(failing_since__isnull=False).update(failing_since=None)
    elif outcome != Outcome.SUCCEEDED and not failing:
        health.filter(failing_since__isnull=True).update(failing_since=now)
    if delivery.status not in OPEN:
        _release_next(delivery=delivery, now=now)
    return delivery


def _release_next(*, delivery: Delivery, now: datetime) -> None:
    """Let the next delivery of the same profile and destination go now."""
    if delivery.customer_id is None:
        return
    following = (
        Delivery.objects.filter(
            destination_id=delivery.destination_id,
            customer_id=delivery.customer_id,
            pk__gt=delivery.pk,
            status__in=OPEN,
        )
        .order_by("pk")
        .first()
    )
    if following is None:
        return
    if following.next_attempt_at > now:
        following.next_attempt_at = now
        following.save(update_fields=["next_attempt_at"])
    enqueue(delivery_pks=[following.pk], now=now)


def enqueue(*, delivery_pks: list[int], now: datetime | None = None) -> None:
    """Queue a try of each delivery once the current transaction commits."""
    # The tasks wrap these services, so importing them at module level would
    # be a cycle (tasks -> sending -> tasks); a service only queues at commit.
    from destinations import tasks

    stamp = now.isoformat() if now is not None else None

    def send_all() -> None:
        for pk in delivery_pks:
            tasks.send_delivery.delay(pk, now=stamp)

    if delivery_pks:
        transaction.on_commit(send_all)
