"""Read-side queries for destinations."""

from __future__ import annotations

from datetime import datetime

from destinations.models import Delivery

OPEN = (Delivery.Status.PENDING, Delivery.Status.FAILED)


def due_delivery_pks(*, now: datetime, limit: int = 1000) -> list[int]:
    """Open deliveries whose next try is due, oldest first."""
    return list(
        Delivery.objects.filter(status__in=OPEN, next_attempt_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )
