"""Raw intake is not kept forever: it holds personal data in its payloads.

Calls processed, and calls refused, more than
``TRIBUTARY_INTAKE_RETENTION_DAYS`` ago are deleted (a call replayed today
after failing for weeks is kept for the full period). A retried
``messageId`` after that is still applied once: the stored event is the
ledger ``apply_messages`` checks. (A call that made no event — no usable
identifier, or an erased person's — would have its data-quality issues or
its suppression counted again.) Failed and pending calls are kept whatever
their age, since a steward still has to replay (or discard) them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from customers.models import Source
from sources.models import IntakeMessage, RejectedMessage

CHUNK = 5_000  # rows per DELETE, so no statement holds locks for long


@dataclass(frozen=True)
class Purged:
    intake: int
    rejected: int


def purge_intake(*, older_than_days: int) -> Purged:
    """Delete calls processed, and calls rejected, more than that many days ago.

    ``older_than_days=0`` keeps everything.
    """
    if older_than_days <= 0:
        return Purged(intake=0, rejected=0)
    cutoff = timezone.now() - timedelta(days=older_than_days)
    intake = rejected = 0
    for source_id in Source.objects.values_list("pk", flat=True):
        # processed_at >= received_at: the received_at bound only lets the
        # (source, received_at) index narrow the scan
        processed = IntakeMessage.objects.filter(
            source_id=source_id,
            received_at__lt=cutoff,
            processed_at__lt=cutoff,
            status=IntakeMessage.Status.PROCESSED,
        )
        intake += _delete_in_chunks(processed)
        refused = RejectedMessage.objects.filter(source_id=source_id, received_at__lt=cutoff)
        rejected += _delete_in_chunks(refused)
    return Purged(intake=intake, rejected=rejected)


def _delete_in_chunks(queryset) -> int:
    deleted = 0
    while ids := list(queryset.values_list("pk", flat=True)[:CHUNK]):
        with transaction.atomic():
            deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]
    return deleted
