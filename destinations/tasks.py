"""Celery tasks for webhooks; thin wrappers around the services.

``now`` (ISO 8601) lets a caller run a task as if at a later time, e.g.
to run retries that are due in the future; the real clock wins if later.
"""

from __future__ import annotations

from datetime import datetime

from celery import shared_task
from django.utils import timezone

from destinations import selectors
from destinations.services import dispatch, sending


def _now(stamp: str | None) -> datetime:
    real = timezone.now()
    if not stamp:
        return real
    return max(real, datetime.fromisoformat(stamp))


@shared_task
def send_delivery(delivery_pk: int, now: str | None = None) -> None:
    sending.send_delivery(delivery_pk=delivery_pk, now=_now(now))


@shared_task
def dispatch_outbox(now: str | None = None) -> int:
    return dispatch.dispatch_outbox(now=_now(now)).entries


@shared_task
def retry_due(now: str | None = None) -> int:
    moment = _now(now)
    pks = selectors.due_delivery_pks(now=moment)
    for pk in pks:
        send_delivery.delay(pk, now=moment.isoformat())
    return len(pks)
