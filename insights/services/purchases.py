"""React to purchases as they arrive: read the outbox, re-place the buyers.

The pipeline writes a ``track`` outbox entry for every tracked event (in the
transaction that stores it). This reader keeps its own cursor
(``OutboxCursor``), so it neither depends on nor disturbs the destinations'
dispatcher, and the pipeline needs no change. Every round takes the
entries after the cursor, picks the purchases (``segments.purchases``) and
re-places those profiles against the last daily RFM boundaries
(``rfm.refresh_customers``). The first round starts at the end of the
outbox: the daily run covers what came before. An entry that commits after
a later one was read would be passed over; the next daily run places it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.models import OutboxEntry
from customers.models import Customer
from insights.models import OutboxCursor
from insights.services.rfm import refresh_customers
from segments.purchases import purchase_event

CURSOR = "segments.purchases"
BATCH = 5000


@dataclass(frozen=True)
class FollowReport:
    entries: int
    purchases: int
    profiles: int


@transaction.atomic
def follow_purchases(*, now: datetime | None = None, limit: int = BATCH) -> FollowReport:
    """One round: up to ``limit`` outbox entries after the cursor."""
    cursor, created = OutboxCursor.objects.select_for_update().get_or_create(name=CURSOR)
    if created:
        cursor.last_id = (
            OutboxEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        )
        cursor.save(update_fields=["last_id", "updated_at"])
        return FollowReport(entries=0, purchases=0, profiles=0)
    entries = list(
        OutboxEntry.objects.filter(pk__gt=cursor.last_id)
        .order_by("pk")
        .values_list("pk", "topic", "customer_id", "payload")[:limit]
    )
    if not entries:
        return FollowReport(entries=0, purchases=0, profiles=0)
    name = purchase_event()
    buyers = [
        customer_id
        for _pk, topic, customer_id, payload in entries
        if topic == OutboxEntry.Topic.TRACK and customer_id and payload.get("event") == name
    ]
    # A buyer merged away since: place the profile that absorbed them.
    survivors = set(
        Customer.objects.active().filter(pk__in=buyers).values_list("pk", flat=True)
    ) | set(
        Customer.objects.filter(pk__in=buyers, merged_into__isnull=False).values_list(
            "merged_into_id", flat=True
        )
    )
    profiles = refresh_customers(customer_ids=survivors, now=now or timezone.now())
    cursor.last_id = entries[-1][0]
    cursor.save(update_fields=["last_id", "updated_at"])
    return FollowReport(entries=len(entries), purchases=len(buyers), profiles=profiles)
