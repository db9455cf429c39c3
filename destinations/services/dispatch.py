"""The dispatcher: pending outbox entries become deliveries, in outbox order.

Each entry fans out to every enabled destination that subscribes to it and,
for a tracking call, that the call's ``integrations`` lets through
(``receives_call``).
A customer the consent gate does not allow for a destination gets a
delivery row with status ``skipped_no_consent`` and no payload: it is never
sent, and the log counts it. Entries are marked dispatched in the same
transaction, so each change is delivered once per destination.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from core.models import OutboxEntry
from destinations.models import Delivery, Destination
from destinations.services import gate, sending
from destinations.services.payloads import entry_payload, profile_snapshots

_FLAGS = {
    "profile.created": "on_profile_created",
    "profile.updated": "on_profile_updated",
    "profile.merged": "on_profile_merged",
    "profile.unmerged": "on_profile_merged",  # an undone merge goes where merges went
    "identify": "on_identify",
    "segment.entered": "on_segment_entered",
    "segment.exited": "on_segment_exited",
}


_CALL_TOPICS = frozenset({"track", "identify"})


def receives_call(destination_name: str, integrations: object) -> bool:
    """Segment's ``integrations`` rule for one destination.

    The key naming the destination (compared without case or surrounding
    spaces) decides: ``false`` keeps the call from it, ``true`` or an object
    of options sends it. Without such a key, ``All`` decides (default true):
    ``{"All": false, "CRM hook": true}`` reaches that destination only.
    """
    if not isinstance(integrations, dict):
        return True
    wanted = destination_name.strip().casefold()
    for key, value in integrations.items():
        if isinstance(key, str) and key.strip().casefold() == wanted:
            if isinstance(value, bool):
                return value
            if isinstance(value, dict):
                return True
    return integrations.get("All") is not False


@dataclass(frozen=True)
class DispatchReport:
    entries: int
    deliveries: int
    skipped_no_consent: int


def subscribes(destination: Destination, entry: OutboxEntry) -> bool:
    """Whether the destination receives this entry (segments must be prefetched)."""
    if entry.topic in _CALL_TOPICS and not receives_call(
        destination.name, entry.payload.get("integrations")
    ):
        return False
    if entry.topic == "track":
        return entry.payload.get("event") in destination.track_events
    flag = _FLAGS.get(entry.topic)
    if not (flag and getattr(destination, flag)):
        return False
    if entry.topic in {"segment.entered", "segment.exited"}:
        chosen = {segment.pk for segment in destination.segments.all()}
        return entry.payload.get("segment_id") in chosen
    return True


@transaction.atomic
def dispatch_outbox(*, now: datetime | None = None, limit: int = 500) -> DispatchReport:
    """Turn up to ``limit`` pending outbox entries into deliveries."""
    now = now or timezone.now()
    query = OutboxEntry.objects.filter(dispatched_at__isnull=True).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        query = query.select_for_update(skip_locked=True)
    entries = list(query[:limit])
    if not entries:
        return DispatchReport(entries=0, deliveries=0, skipped_no_consent=0)
    destinations = list(
        Destination.objects.filter(enabled=True)
        .select_related("purpose")
        .prefetch_related("segments")
        .order_by("pk")
    )
    matches = [(e, d) for e in entries for d in destinations if subscribes(d, e)]
    allowed = {
        d.pk: gate.allowed_customer_ids(
            destination=d,
            customer_ids={e.customer_id for e, dest in matches if dest == d and e.customer_id},
        )
        for d in destinations
    }
    profiles = profile_snapshots(
        {e.customer_id for e, d in matches if e.customer_id in allowed[d.pk]}
    )
    rows = []
    for entry, destination in matches:
        row = Delivery(
            destination=destination,
            outbox_entry=entry,
            customer_id=entry.customer_id,
            type=entry.topic,
            created_at=now,
        )
        if entry.customer_id is not None and entry.customer_id not in allowed[destination.pk]:
            row.status = Delivery.Status.SKIPPED_NO_CONSENT
        else:
            row.delivery_id = uuid.uuid4()
            row.payload = entry_payload(
                delivery_id=row.delivery_id,
                entry=entry,
                profile=profiles.get(entry.customer_id),
            )
            row.next_attempt_at = now
        rows.append(row)
    created = Delivery.objects.bulk_create(rows)
    OutboxEntry.objects.filter(pk__in=[e.pk for e in entries]).update(dispatched_at=now)
    pending = [d.pk for d in created if d.status == Delivery.Status.PENDING]
    sending.enqueue(delivery_pks=pending, now=now)
    return DispatchReport(
        entries=len(entries),
        deliveries=len(pending),
        skipped_no_consent=len(created) - len(pending),
    )
