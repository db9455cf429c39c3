"""What ``segments`` holds about a person: their memberships (with enter/exit times)
and their ids in ``segment.entered`` chunks.

Registered with ``consent.registry`` in ``SegmentsConfig.ready``. Memberships
have no separate history and no foreign-key constraint to the profile, and a
recompute's entries are chunks of ids without one either: the eraser locks
every segment first (``FOR UPDATE``, as a recompute and ``delete_segments``
do, in id order), so a recompute or live re-evaluation in progress commits
before the rows are collected, and one that starts later finds the profile
gone. Then it deletes the memberships and takes the ids out of the chunks.
"""

from __future__ import annotations

from consent.registry import Subject
from core.outbox import Topic, remove_from_chunks
from segments.models import Segment, SegmentMembership


def export_memberships(subject: Subject) -> list[dict]:
    return list(
        SegmentMembership.objects.filter(customer_id__in=subject.customer_ids)
        .order_by("entered_at", "pk")
        .values("segment__name", "customer_id", "entered_at", "exited_at")
    )


def erase_memberships(subject: Subject) -> int:
    list(Segment.objects.order_by("pk").select_for_update().values_list("pk", flat=True))
    deleted = SegmentMembership.objects.filter(customer_id__in=subject.customer_ids).delete()[0]
    return deleted + remove_from_chunks(
        topic=Topic.SEGMENT_ENTERED, customer_ids=subject.customer_ids
    )
