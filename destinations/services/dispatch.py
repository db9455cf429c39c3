"""The dispatcher: pending outbox entries become deliveries, in outbox order.

Each entry fans out to every enabled destination that subscribes to it and,
for a tracking call, that the call's ``integrations`` lets through
(``receives_call``). A chunk (``core.outbox``: a recompute's ``segment.entered``
for up to 1,000 profiles) fans out further, into one delivery per profile,
each with the body a one-profile entry gets; ids of profiles deleted since
are dropped.
A customer the consent gate does not allow for a destination gets a
delivery row with status ``skipped_no_consent`` and no payload: it is never
sent, and the log counts it. Entries are marked dispatched in the same
transaction, and a delivery is unique per (entry, destination, profile)
(one that exists already is not made again), so each change is delivered
once per destination and profile.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from core.db.sets import id_batches
from core.models import OutboxEntry
from core.outbox import Topic, entry_customer_ids, is_chunk
from customers.models import Customer
from destinations.models import Delivery, Destination
from destinations.services import gate, sending
from destinations.services.payloads import entry_payload, profile_snapshots

_FLAGS = {
    Topic.PROFILE_CREATED: "on_profile_created",
    Topic.PROFILE_UPDATED: "on_profile_updated",
    Topic.PROFILE_MERGED: "on_profile_merged",
    Topic.PROFILE_UNMERGED: "on_profile_merged",  # an undone merge goes where merges went
    Topic.IDENTIFY: "on_identify",
    Topic.SEGMENT_ENTERED: "on_segment_entered",
    Topic.SEGMENT_EXITED: "on_segment_exited",
}


_CALL_TOPICS = frozenset({"track", "identify"})
# Profiles one dispatch makes deliveries about, per destination (a chunk names 1,000).
PROFILES_PER_CALL = 5000


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
    if entry.topic == Topic.TRACK:
        return entry.payload.get("event") in destination.track_events
    flag = _FLAGS.get(entry.topic)
    if not (flag and getattr(destination, flag)):
        return False
    if entry.topic in {Topic.SEGMENT_ENTERED, Topic.SEGMENT_EXITED}:
        chosen = {segment.pk for segment in destination.segments.all()}
        return entry.payload.get("segment_id") in chosen
    return True


@transaction.atomic
def dispatch_outbox(
    *, now: datetime | None = None, limit: int = 500, profiles_limit: int = PROFILES_PER_CALL
) -> DispatchReport:
    """Turn up to ``limit`` pending outbox entries into deliveries; entries are
    taken in order while the profiles they name stay within ``profiles_limit``
    (the first is always taken: a chunk names up to 1,000)."""
    now = now or timezone.now()
    query = OutboxEntry.objects.filter(dispatched_at__isnull=True).order_by("pk")
    if connection.features.has_select_for_update_skip_locked:
        query = query.select_for_update(skip_locked=True)
    entries: list[OutboxEntry] = []
    named = 0
    for entry in query[:limit]:
        named += max(1, len(entry_customer_ids(entry)))
        if entries and named > profiles_limit:
            break
        entries.append(entry)
    if not entries:
        return DispatchReport(entries=0, deliveries=0, skipped_no_consent=0)
    destinations = list(
        Destination.objects.filter(enabled=True)
        .select_related("purpose")
        .prefetch_related("segments")
        .order_by("pk")
    )
    targets = _targets(entries)
    matches = [(e, d) for e in entries for d in destinations if subscribes(d, e)]
    allowed = {
        d.pk: gate.allowed_customer_ids(
            destination=d,
            customer_ids={pk for e, dest in matches if dest == d for pk in targets[e.pk] if pk},
        )
        for d in destinations
    }
    profiles = profile_snapshots(
        {pk for e, d in matches for pk in targets[e.pk] if pk in allowed[d.pk]}
    )
    # a dispatch that made some of these deliveries already (no double delivery)
    made = set(
        Delivery.objects.filter(outbox_entry__in=[e.pk for e in entries]).values_list(
            "outbox_entry_id", "destination_id", "customer_id"
        )
    )
    rows = []
    for entry, destination in matches:
        for customer_id in targets[entry.pk]:
            if (entry.pk, destination.pk, customer_id) in made:
                continue
            made.add((entry.pk, destination.pk, customer_id))
            row = Delivery(
                destination=destination,
                outbox_entry=entry,
                customer_id=customer_id,
                type=entry.topic,
                created_at=now,
            )
            if customer_id is not None and customer_id not in allowed[destination.pk]:
                row.status = Delivery.Status.SKIPPED_NO_CONSENT
            else:
                row.delivery_id = uuid.uuid4()
                row.payload = entry_payload(
                    delivery_id=row.delivery_id, entry=entry, profile=profiles.get(customer_id)
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


def _targets(entries: list[OutboxEntry]) -> dict[int, list[int | None]]:
    """Per entry, the profiles it is delivered about: its one customer (or None,
    an entry about no profile), or a chunk's ids that still name a profile."""
    chunked = {pk for entry in entries if is_chunk(entry) for pk in entry_customer_ids(entry)}
    existing = set()
    for batch in id_batches(sorted(chunked)):
        existing.update(
            Customer.objects.filter(pk__in=batch).order_by().values_list("pk", flat=True)
        )
    targets: dict[int, list[int | None]] = {}
    for entry in entries:
        if is_chunk(entry):
            ids = entry_customer_ids(entry)
            targets[entry.pk] = [pk for pk in dict.fromkeys(ids) if pk in existing]
        else:
            targets[entry.pk] = [entry.customer_id]
    return targets
