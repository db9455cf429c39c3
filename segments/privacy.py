"""What ``segments`` holds about a person: their memberships (with enter/exit times).

Registered with ``consent.registry`` in ``SegmentsConfig.ready``. Memberships
go with the profile (foreign-key cascade) and have no separate history, so
the eraser only deletes them explicitly to count them.
"""

from __future__ import annotations

from consent.registry import Subject
from segments.models import SegmentMembership


def export_memberships(subject: Subject) -> list[dict]:
    return list(
        SegmentMembership.objects.filter(customer_id__in=subject.customer_ids)
        .order_by("entered_at", "pk")
        .values("segment__name", "customer_id", "entered_at", "exited_at")
    )


def erase_memberships(subject: Subject) -> int:
    return SegmentMembership.objects.filter(customer_id__in=subject.customer_ids).delete()[0]
